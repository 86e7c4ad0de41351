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


def test_a_long_stream_goes_through_the_trunk_in_runs_that_keep_its_windows() -> None:
    """Past ``STREAM_WINDOWS`` windows the trunk-once graph runs on pieces of the stream, each
    starting where the trunk's steps line up as in one run: only the windows at a seam move,
    and the paper's Eq. 4 mean does not (memory bounded on a 60-minute call)."""
    scorer = RoleModel.load(None, execution_provider="cpu")
    y = np.random.default_rng(0).normal(0, 0.05, 8000 * 520).astype(np.float32)
    runs, _ = score_stream(scorer, y)
    whole = scorer.score_stream(stream_windows(y).logmel[:, : 1000 + 100 * 510], 511)
    assert runs.shape == whole.shape == (511, 2)
    moved = np.flatnonzero(np.abs(runs - whole).max(1) > 1e-4)
    assert 0 < len(moved) <= 4 and all(w % 243 in (0, 242) for w in moved), moved
    assert float(np.abs(runs.mean(0) - whole.mean(0)).max()) < 1e-4
