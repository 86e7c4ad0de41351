"""Sources beyond our TTS: real codecs, lost packets, vocal-tract warps, MBROLA and Piper voices,
Debian hold music and announcements (issue 16, item 3)."""

from __future__ import annotations

import json
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from callroles.lab.simulate import codecs, generate_corpus, sounds
from callroles.lab.simulate.augment import vtl_warp
from callroles.lab.simulate.errors import SimulateInputError
from callroles.lab.simulate.tts import synthesize
from callroles.lab.simulate.voices import catalog

SR = 8000


@pytest.fixture(scope="module")
def prompt() -> np.ndarray:
    """A real telephone announcement (Debian asterisk-core-sounds-en-wav), 8 kHz."""
    x, _ = sounds.announcement("en", np.random.default_rng(3), level_db=-18.0)
    return x


def _lag(x: np.ndarray, y: np.ndarray, span: int = 200) -> int:
    n = len(x) - 2 * span
    scores = [
        float(np.dot(x[span : span + n], y[span + k : span + k + n])) for k in range(-span, span)
    ]
    return int(np.argmax(scores)) - span


def _snr(x: np.ndarray, y: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(x**2) / (np.sum((x - y) ** 2) + 1e-12)))


@pytest.mark.parametrize("codec", codecs.CODECS)
def test_codec_round_trip_is_aligned_and_lossy(prompt: np.ndarray, codec: str) -> None:
    y = codecs.round_trip(prompt, codec)
    assert y.shape == prompt.shape and y.dtype == np.float32
    lag = _lag(prompt, y)
    assert abs(lag) <= 2, f"{codec} shifts the audio by {lag} samples: truth would be off"
    snr = _snr(prompt, y)
    assert 0.0 < snr < 45.0, f"{codec}: SNR {snr:.1f} dB"  # it coded, and kept the speech
    if codec in ("g723", "opus", "speex"):  # the low-bit-rate ones really are low fidelity
        assert snr < 20.0, f"{codec}: SNR {snr:.1f} dB"


def test_unknown_codec_is_a_typed_error(prompt: np.ndarray) -> None:
    with pytest.raises(SimulateInputError) as info:
        codecs.round_trip(prompt, "amr-wb")
    assert info.value.code == "unknown_codec"


def test_packet_loss_drops_about_the_rate_asked(prompt: np.ndarray) -> None:
    x = np.tile(prompt, 6)
    assert codecs.packet_loss(x, np.random.default_rng(0), 0.0) is x
    y = codecs.packet_loss(x, np.random.default_rng(0), 0.05)
    frames = len(x) // codecs.FRAME
    changed = sum(
        not np.array_equal(x[k * 160 : (k + 1) * 160], y[k * 160 : (k + 1) * 160])
        for k in range(frames)
    )
    assert 0.02 <= changed / frames <= 0.12, changed / frames


def test_level_steps_change_the_level() -> None:
    gain = codecs.level_steps(80000, np.random.default_rng(1), 3)
    assert gain[0] == 1.0 and np.ptp(20 * np.log10(gain)) > 1.0


def _envelope_centroid(x: np.ndarray) -> float:
    spec = np.abs(librosa.stft(x, n_fft=256, hop_length=64)) ** 2
    freqs = librosa.fft_frequencies(sr=SR, n_fft=256)
    return float(np.sum(spec.mean(axis=1) * freqs) / np.sum(spec.mean(axis=1)))


def _median_f0(x: np.ndarray) -> float:
    f0, voiced, _ = librosa.pyin(x, fmin=70, fmax=400, sr=SR, frame_length=512)
    return float(np.nanmedian(f0[voiced]))


def test_vocal_tract_warp_moves_formants_not_pitch() -> None:
    voice = next(v for v in catalog(("en",), ("mbrola",)) if v.warp == 1.0)
    x = np.asarray(synthesize(voice, "Good morning, how may I help you with your order today?"))
    up, down = vtl_warp(x, 1.1), vtl_warp(x, 0.9)
    assert len(up) == len(x)
    c0, c_up, c_down = _envelope_centroid(x), _envelope_centroid(up), _envelope_centroid(down)
    assert c_up > 1.03 * c0 and c_down < 0.97 * c0, (c0, c_up, c_down)
    f0, f_up = _median_f0(x), _median_f0(up)
    assert abs(f_up / f0 - 1.0) < 0.04, (f0, f_up)


def test_new_engines_speak_every_language() -> None:
    voices = catalog(None, ("all",))
    engines = {(v.engine, v.language) for v in voices}
    for lang in ("tr", "de", "en"):
        assert ("mbrola", lang) in engines
    assert ("piper", "en") in engines
    piper = next(v for v in voices if v.engine == "piper")
    a = synthesize(piper, "Thank you for calling.")
    assert 0.5 < len(a) / SR < 4.0 and float(np.max(np.abs(a))) == pytest.approx(0.5, abs=1e-3)


def test_varied_corpus_with_real_sounds(tmp_path: Path) -> None:
    out = tmp_path / "varied"
    generate_corpus(
        out, calls=3, seed=5, engines=("mbrola", "piper"), lines="varied", sounds="debian",
        languages=("en",), audio_format="wav", workers=1,
    )  # fmt: skip
    truths = [json.loads(p.read_text()) for p in sorted((out / "truth").glob("*.json"))]
    assert all(t["sounds"] == "debian" for t in truths)
    codecs_used = {t["lines"][r]["codec"] for t in truths for r in ("agent", "customer")}
    assert codecs_used <= set(codecs.CODECS) and len(codecs_used) >= 2
    voices = {s["voice"].split("-")[0] for t in truths for s in t["speakers"].values()}
    assert voices <= {"mbrola", "piper"}
    announcements = [(t, e) for t in truths for e in t["events"] if e["kind"] == "announcement"]
    assert announcements, "seed 5 plays a recorded announcement in at least one call"
    t, e = announcements[0]
    audio, _ = sf.read(out / "audio" / f"{t['call_id']}.wav", dtype="float32")
    inside = audio[int(e["start"] * SR) : int(e["end"] * SR)]
    assert np.sqrt(np.mean(inside**2)) > 10 ** (-40 / 20), "the announcement is in the audio"
    for s in t["segments"]:  # and it is nobody's talk in the truth
        assert s["end"] <= e["start"] or s["start"] >= e["end"], (s, e)
    meta = json.loads((out / "corpus.json").read_text())
    assert meta["lines"] == "varied" and meta["sounds"] == "debian"


def test_training_sounds_are_none_that_the_evaluation_sets_play(tmp_path: Path) -> None:
    """--sounds training (what the activity model learns from) plays game music and the
    es/fr/it/ru prompt voices, so bench eval's music on hold and en_US prompts stay unheard."""
    names = [sounds.announcement("tr", np.random.default_rng(k), kind="training")[1]
             for k in range(12)]  # fmt: skip
    voices = {n.split("/")[0] for n in names}
    assert voices <= set(sounds.TRAINING_PROMPT_VOICES) and len(voices) >= 2, voices
    evaluated = {sounds.announcement(lang, np.random.default_rng(k))[1].split("/")[0]
                 for lang in ("tr", "de", "en") for k in range(4)}  # fmt: skip
    assert evaluated == {"en_US_f_Allison"} and not voices & evaluated
    games = sounds.game_music_files()
    assert games and not set(games) & set(sounds.music_files())
    track = sounds._read(games[0])  # 48 kHz stereo Ogg, resampled to the line's 8 kHz
    seconds = sf.info(str(games[0])).duration
    assert track.dtype == np.float32 and abs(len(track) / SR - seconds) < 0.1
    out = tmp_path / "training"
    generate_corpus(out, calls=2, seed=5, sounds="training", audio_format="wav", workers=1)
    truths = [json.loads(p.read_text()) for p in sorted((out / "truth").glob("*.json"))]
    assert all(t["sounds"] == "training" for t in truths)
    assert any(e["kind"] == "music" for t in truths for e in t["events"])


def test_bad_line_and_sound_kinds(tmp_path: Path) -> None:
    for kwargs, code in (
        ({"lines": "fibre"}, "unknown_lines"),
        ({"sounds": "live"}, "unknown_sounds"),
        ({"house_sounds": 1}, "unknown_sounds"),  # a call centre's recordings need recordings
    ):
        with pytest.raises(SimulateInputError) as info:
            generate_corpus(tmp_path / "x", calls=1, seed=1, **kwargs)
        assert info.value.code == code


def test_a_call_centre_plays_the_same_recordings_in_every_call() -> None:
    """--house-sounds: one greeting, one prompt, one track from its start, whatever the call."""
    house = [sounds.announcement("en", np.random.default_rng([3, 0]))[1] for _ in range(3)]
    assert len(set(house)) == 1
    drawn = {sounds.announcement("en", np.random.default_rng(k))[1] for k in range(6)}
    assert len(drawn) > 1  # without it each call draws its own
    a = sounds.hold_music(8.0, np.random.default_rng([3, 2]), from_start=True)
    b = sounds.hold_music(20.0, np.random.default_rng([3, 2]), from_start=True)
    assert np.allclose(a[800:8000] / np.std(a[800:8000]), b[800:8000] / np.std(b[800:8000]))


def test_missing_debian_sounds_say_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(SimulateInputError) as info:
        sounds.music_files(tmp_path)
    assert info.value.code == "missing_sounds" and "make setup" in str(info.value)
