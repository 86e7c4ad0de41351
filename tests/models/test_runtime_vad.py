"""silero-vad on real audio (inaSpeechSegmenter's MUSAN mix), and the speech rule built on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

import callroles.models.vad as vad_module
from callroles.base.settings import SHARED_DATA, Settings
from callroles.frontend.decode import decode
from callroles.frontend.speech import speech_frames
from callroles.models.errors import ModelMissingError
from callroles.models.vad import SileroVad, vad_model_path

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"
READERS = SHARED_DATA / "speakers" / "librispeech" / "test-other"


def _spans(csv: Path, labels: tuple[str, ...]) -> list[tuple[float, float]]:
    rows = [line.split("\t") for line in csv.read_text().splitlines()[1:]]
    return [(float(a), float(b)) for lab, a, b in rows if lab in labels]


def test_silero_hears_the_real_voice_and_not_the_music_or_noise() -> None:
    audio = decode(REFERENCE / "musanmix.wav")
    signal = audio.channels.mean(axis=0)
    n = int(len(signal) / 80)
    p = SileroVad.load(Settings())(signal, n)
    assert p.shape == (n,) and p.dtype == np.float32
    csv = REFERENCE / "musanmix-smn-gender.csv"
    speech = np.concatenate([p[int(a * 100) : int(b * 100)] for a, b in _spans(csv, ("male",))])
    background = np.concatenate(
        [p[int(a * 100) : int(b * 100)] for a, b in _spans(csv, ("music", "noise"))]
    )
    assert len(background) > 4000 and len(speech) > 800  # 46 s of music and noise, 9 s of voice
    assert float(np.mean(background > 0.5)) < 0.01
    assert float(np.mean(speech > 0.5)) > 0.85


def test_batched_pieces_agree_with_one_long_run() -> None:
    """A call runs as pieces side by side, each warmed up on the audio before it; on speech
    they agree with one sequential run (which lags after a minute of music: see below)."""
    signal = decode(REFERENCE / "lamartine.wav").channels.mean(axis=0)
    vad = SileroVad.load(Settings())
    sequential = vad.chunk_probabilities(signal)  # 14.6 s: one piece
    piece = vad_module.PIECE_CHUNKS
    try:
        vad_module.PIECE_CHUNKS = 100  # 3.2 s pieces: four of them run side by side
        batched = vad.chunk_probabilities(signal)
    finally:
        vad_module.PIECE_CHUNKS = piece
    assert len(sequential) < piece and len(batched) == len(sequential) > 4 * 100
    assert float(np.mean((batched > 0.5) == (sequential > 0.5))) > 0.97


def test_heard_both_ways_a_reader_is_let_go_sooner_and_kept_as_well() -> None:
    """silero is causal: forward only, it carries a real reader's voice on into the quiet after
    the last word, and at the start of a recording it hears a voice in faint noise. Heard both
    ways (forward and reversed, averaged) it lets go sooner and hears as much of the reading."""
    files = sorted(READERS.rglob("*.flac"))[:40:4]  # ten utterances of four held-out readers
    assert len(files) == 10, f"LibriSpeech test-other readers missing at {READERS}"
    vad, rng = SileroVad.load(Settings()), np.random.default_rng(0)
    before, after, inside = {False: 0, True: 0}, {False: 0, True: 0}, {False: [], True: []}
    for f in files:
        x, rate = sf.read(str(f), dtype="float32")
        y = soxr.resample(x, rate, 8000).astype(np.float32)
        y /= np.abs(y).max() * 2
        level = 20 * np.log10(np.sqrt(np.convolve(y**2, np.ones(80) / 80, "same")) + 1e-9)
        first, last = np.flatnonzero(level > level.max() - 30)[[0, -1]]  # the reader's sounds
        quiet = (rng.standard_normal(16000) * 1e-3).astype(np.float32)  # 2 s at -60 dBFS
        signal = np.concatenate([quiet, y[first:last], quiet])
        n, a = len(signal) // 80, 200
        b = a + (last - first) // 80
        for both in (False, True):
            p = vad(signal, n, both_ways=both) > 0.5
            before[both] += int(p[:a].sum())
            after[both] += int(p[b:].sum())
            inside[both].append(float(p[a:b].mean()))
    assert before[True] < 0.5 * before[False], before  # measured 48 against 355 frames
    assert after[True] < 0.6 * after[False], after  # measured 32 against 90 frames
    assert np.mean(inside[True]) >= np.mean(inside[False]) - 0.01, inside  # 0.788, 0.775


def test_missing_weights_say_how_to_install_them(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert not vad_model_path(settings).exists()
    with pytest.raises(ModelMissingError, match="deploy/setup.sh"):
        SileroVad.load(settings)


def test_speech_is_where_ina_hears_speech_and_a_frame_model_agrees() -> None:
    grid = np.array(["male", "male", "male", "music", "music", "female", "female"])
    act = np.array([1, 0, 0, 1, 0, 0, 1], bool)
    vad = np.array([0.9, 0.9, 0.1, 0.9, 0.9, 0.2, 0.2], np.float32)
    assert speech_frames(grid, act, vad).tolist() == [1, 1, 0, 0, 0, 0, 1]
    # without silero's opinion the activity model alone confirms ina
    assert speech_frames(grid, act, None).tolist() == [1, 0, 0, 0, 0, 0, 1]


def test_both_frame_models_overrule_ina_noise_and_silence_but_never_music() -> None:
    grid = np.array(["male", "music", "noise", "noise", "silence", "silence", "female"])
    act = np.array([0, 1, 1, 1, 1, 0, 1], bool)
    vad = np.array([0.9, 0.9, 0.9, 0.1, 0.9, 0.9, 0.1], np.float32)
    assert speech_frames(grid, act, vad).tolist() == [1, 0, 1, 0, 1, 0, 1]
