"""Speaker separation on real audio: stereo channels, opposite genders, same gender (embeddings)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from callroles.base.errors import InputError
from callroles.base.settings import Settings
from callroles.bench.evaluation import der, read_rttm
from callroles.call.pipeline import front_end
from callroles.frontend.decode import decode
from callroles.models.embeddings import VoiceEncoder, partial_mels, reference_embed, weights_path
from callroles.models.features import stream_windows


def _corpus_call(corpus: Path, *, channels: int, same_gender: bool) -> tuple[Path, dict, list]:
    for row in csv.DictReader((corpus / "calls.csv").open()):
        truth = json.loads((corpus / "truth" / f"{row['call_id']}.json").read_text())
        if int(row["channels"]) == channels and truth["same_gender"] == same_gender:
            ref = read_rttm(corpus / "truth" / f"{row['call_id']}.rttm")
            return corpus / row["file"], truth, ref
    pytest.fail(f"small corpus has no call with {channels} channel(s), same_gender={same_gender}")


def test_stereo_call_one_speaker_per_channel(small_corpus: Path, frontend) -> None:
    path, truth, ref = _corpus_call(small_corpus, channels=2, same_gender=False)
    result = front_end(path, layout="stereo-agent-left", models=frontend)
    assert result.strategy == "stereo"
    assert result.budget["overlap_method"] == "channels"
    assert [s.channel for s in result.speakers] == [0, 1]
    assert {s.role_hint for s in result.speakers} == {"agent", "customer"}
    want = {v["gender"] for v in truth["speakers"].values()}
    assert {s.gender for s in result.speakers} == want
    assert der(ref, result.segmentation.to_annotation()) < 0.35
    for s in result.speakers:
        assert len(stream_windows(s.audio).windows) >= 1


def test_opposite_gender_mono_call_split_by_gender(small_corpus: Path, frontend) -> None:
    path, truth, ref = _corpus_call(small_corpus, channels=1, same_gender=False)
    result = front_end(path, models=frontend)
    assert result.strategy == "gender"
    assert sorted(s.gender for s in result.speakers) == ["female", "male"]
    talk = {v["gender"]: v["talk_time_s"] for v in truth["speakers"].values()}
    for s in result.speakers:  # talk time within 30% of the truth (synthetic call)
        assert s.talk_time_s == pytest.approx(talk[s.gender], rel=0.3)
    assert der(ref, result.segmentation.to_annotation()) < 0.35


def test_same_gender_mono_call_clustered(small_corpus: Path, frontend) -> None:
    path, truth, ref = _corpus_call(small_corpus, channels=1, same_gender=True)
    result = front_end(path, models=frontend)
    assert result.strategy == "embedding"
    assert len(result.speakers) == 2
    assert der(ref, result.segmentation.to_annotation()) < 0.4
    # change points: at least one speech segment boundary where the speaker changes
    speech = result.segmentation.speech
    assert (
        any(
            a.speaker != b.speaker and b.start - a.end < 0.05
            for a, b in zip(speech, speech[1:], strict=False)
        )
        or len(speech) > 2
    )


def test_lamartine_readers_found_by_embeddings(reference_dir: Path, frontend) -> None:
    path = reference_dir / "lamartine.wav"  # a female reader, then a male reader
    by_gender = front_end(path, models=frontend)
    assert by_gender.strategy == "gender"
    by_voice = front_end(path, strategy="embedding", models=frontend)
    ref = by_gender.segmentation.to_annotation()
    assert der(ref, by_voice.segmentation.to_annotation()) < 0.1
    assert [s.gender for s in by_voice.speakers] == ["female", "male"]


def test_n_speakers_range_and_one_speaker(reference_dir: Path, frontend) -> None:
    path = reference_dir / "lamartine.wav"
    one = front_end(path, n_speakers=1, models=frontend)
    assert len(one.speakers) == 1 and one.strategy == "embedding"
    three = front_end(path, n_speakers=3, models=frontend)
    assert 1 <= len(three.speakers) <= 3
    for bad in (0, 5):
        with pytest.raises(InputError):
            front_end(path, n_speakers=bad, models=frontend)


def test_dual_mono_stereo_is_treated_as_mono(
    reference_dir: Path, frontend, tmp_path: Path, sh
) -> None:
    dual = tmp_path / "dual.wav"
    sh("sox", str(reference_dir / "lamartine.wav"), "-c", "2", str(dual))
    result = front_end(dual, models=frontend)
    assert result.facts.channels == 2 and result.strategy == "gender"


def test_embedding_graph_matches_numpy_lstm(reference_dir: Path) -> None:

    mels = partial_mels(decode(reference_dir / "lamartine.wav").wide[0], np.array([1.0, 10.0]))
    onnx_out = VoiceEncoder(Settings())(mels)
    np.testing.assert_allclose(
        onnx_out, reference_embed(dict(np.load(weights_path(Settings()))), mels), atol=1e-4
    )
    assert float(onnx_out[0] @ onnx_out[1]) < 0.8  # two different readers
