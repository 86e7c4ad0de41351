"""Trunk-once scoring on the shipped model: a speaker's stream in one run, close to per-window."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from callroles.base.settings import Settings
from callroles.call.pipeline import Models, front_end
from callroles.call.scoring import score_stream
from callroles.models.crnn import RoleModel
from callroles.models.features import stream_windows


def test_trunk_once_speaker_scoring_matches_windows(small_corpus: Path) -> None:
    scorer = RoleModel.load(None, execution_provider="cpu")
    assert scorer.stream_session is not None  # the shipped folder carries model.stream.onnx
    front = front_end(next((small_corpus / "audio").glob("call00001.*")), Models(Settings()))
    stream = max(front.speakers, key=lambda s: len(s.audio))
    windows = stream_windows(stream.audio).windows
    assert len(windows) >= 5
    fast, _ = score_stream(scorer, stream.audio)
    exact = scorer.score(windows)
    assert fast.shape == exact.shape
    assert float(np.max(np.abs(fast - exact))) < 0.2  # one window: 0.14 on call00001
    assert (fast.argmax(1) == exact.argmax(1)).mean() >= 0.9
    assert abs(float(fast[:, 1].mean() - exact[:, 1].mean())) < 0.02  # the paper's Eq. 4
