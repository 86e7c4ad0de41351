"""The speaker-count model: its labels, its load-time checks, exact chunking, what it hears."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest

from callroles.frontend.decode import decode
from callroles.models.activity import (
    ACTIVITY_SPEC,
    CHUNK_FRAMES,
    ActivityModel,
    activity_features,
    default_activity_model,
)
from callroles.models.crnn import DEFAULT_MODEL
from callroles.models.errors import ModelForeignError, ModelSpecError
from callroles.models.metadata import read_metadata, write_metadata
from callroles.training.activity import IGNORE, announced, crops, frame_labels

MONO_CALLS = ("call00001", "call00002", "call00003", "call00004")


def _truth(corpus: Path, call: str) -> dict:
    return json.loads((corpus / "truth" / f"{call}.json").read_text())


def _mono(corpus: Path, call: str) -> np.ndarray:
    return decode(next((corpus / "audio").glob(call + ".*"))).channels.mean(axis=0)


def test_frame_labels_count_overlap_and_handover() -> None:
    seg = [("A", 1.0, 3.0), ("B", 2.5, 4.0), ("A", 5.0, 6.0), ("A", 6.2, 6.5)]
    truth = {
        "speakers": {"A": {}, "B": {}},
        "segments": [{"speaker": s, "start": a, "end": b} for s, a, b in seg],
    }
    count, change = frame_labels(truth, 700)
    assert (count[150], count[270], count[350], count[450]) == (1, 2, 1, 0)
    # A alone until 2.5 s, B alone 3.0-4.0 s, A again from 5.0 s: two hand-overs, 50 ms padded
    assert change[245:305].all() and change[395:505].all()
    assert not change[:245].any() and not change[305:395].any() and not change[505:].any()


def test_an_announcement_nobody_speaks_over_teaches_nothing() -> None:
    """A recorded prompt is a human voice and nobody's talk: training neither calls it a
    speaker nor "nobody" (which taught a model to miss real voices); its frames weigh 0."""
    truth = {
        "speakers": {"A": {}},
        "segments": [{"speaker": "A", "start": 1.0, "end": 2.0}],
        "events": [{"kind": "announcement", "start": 1.5, "end": 3.0},
                   {"kind": "music", "start": 3.0, "end": 4.0}],
    }  # fmt: skip
    count, change = frame_labels(truth, 500)
    mask = announced(truth, 500)
    assert mask[150:300].all() and not mask[:150].any() and not mask[300:].any()
    count[mask & (count == 0)] = IGNORE  # as load_corpus does
    feats = np.zeros((500, 96), np.float16)
    x, c, ch, w = crops([(feats, count, change)], 1, 500, seed=0)
    assert x.shape == (1, 500, 96) and ch.shape == (1, 500, 1)
    assert (w[0, 200:300] == 0).all() and (c[0, 200:300] == 0).all()  # prompt alone: no weight
    assert (w[0, 100:200] == 1).all() and (c[0, 100:200] == 1).all()  # A over it: one voice
    assert (w[0, 300:] == 1).all() and (c[0, 300:] == 0).all()  # music: nobody, and it counts


def test_shipped_model_carries_its_feature_spec() -> None:
    model = ActivityModel.load()
    assert model.spec == ACTIVITY_SPEC
    assert model.spec.fingerprint() != ACTIVITY_SPEC.__class__().fingerprint()  # not the CRNN's
    assert len(model.version) == 12 and model.outputs == ["count", "change"]


def test_the_role_model_is_refused_as_an_activity_model() -> None:

    with pytest.raises(ModelForeignError, match="not an activity model"):
        ActivityModel.load(DEFAULT_MODEL)


def test_a_model_trained_on_other_features_is_refused(tmp_path: Path) -> None:

    proto = onnx.load(default_activity_model())
    meta = read_metadata(proto)
    other = replace(ACTIVITY_SPEC, n_fft=256).to_dict()
    write_metadata(proto, replace(meta, feature_spec=other))
    onnx.save(proto, tmp_path / "other.onnx")
    with pytest.raises(ModelSpecError, match="n_fft: model 256 vs front end 512"):
        ActivityModel.load(tmp_path / "other.onnx")


def test_chunked_run_equals_one_run(small_corpus: Path) -> None:
    """Chunks carry more context than the receptive field, so chunking changes nothing."""
    model = ActivityModel.load()
    signal = _mono(small_corpus, "call00001")
    feats = activity_features(signal)
    assert len(feats) > 2 * CHUNK_FRAMES  # three chunks
    whole = model.session.run(None, {"logmel": feats[None]})
    got = model(signal)
    assert np.abs(got.count - whole[0][0]).max() < 1e-4
    assert np.abs(got.change - whole[1][0][:, 0]).max() < 1e-4


def test_hears_speech_and_overlap_of_generated_calls(small_corpus: Path) -> None:
    """Frames of the 4 mono calls (never trained on: another seed) against the simulator's truth."""
    model = ActivityModel.load()
    hits = {"speech": [0, 0, 0], "overlap": [0, 0, 0]}  # both, predicted, true
    for call in MONO_CALLS:
        act = model(_mono(small_corpus, call))
        count, _ = frame_labels(_truth(small_corpus, call), len(act))
        pred = act.count.argmax(1)
        for key, (want, got) in {
            "speech": (count > 0, pred > 0),
            "overlap": (count == 2, pred == 2),
        }.items():
            hits[key][0] += int((want & got).sum())
            hits[key][1] += int(got.sum())
            hits[key][2] += int(want.sum())
    precision = {k: v[0] / v[1] for k, v in hits.items()}
    recall = {k: v[0] / v[2] for k, v in hits.items()}
    assert precision["speech"] > 0.97 and recall["speech"] > 0.97, (precision, recall)
    assert precision["overlap"] > 0.6 and recall["overlap"] > 0.6, (precision, recall)
