"""The feature spec object, the log-mel it defines, and windows sliced from one spectrogram."""

from __future__ import annotations

import dataclasses

import librosa
import numpy as np
import pytest

from callroles.models import embeddings
from callroles.models.embeddings import partial_mels
from callroles.models.features import (
    CHUNK_FRAMES,
    DEFAULT_SPEC,
    FeatureSpec,
    _mel_basis,
    log_mel,
    stream_windows,
)

RATE = 8000


def _noise(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal(int(seconds * RATE))).astype(np.float32)


def test_spec_round_trip_and_fingerprint() -> None:
    again = FeatureSpec.from_dict(DEFAULT_SPEC.to_dict())
    assert again == DEFAULT_SPEC
    assert again.fingerprint() == DEFAULT_SPEC.fingerprint()
    assert DEFAULT_SPEC.shape == (96, 1000)
    assert (DEFAULT_SPEC.sample_rate, DEFAULT_SPEC.win_length, DEFAULT_SPEC.hop_length) == (
        8000,
        200,
        80,
    )
    other = dataclasses.replace(DEFAULT_SPEC, n_fft=256)
    assert other.fingerprint() != DEFAULT_SPEC.fingerprint()
    with pytest.raises(ValueError, match="unknown"):
        FeatureSpec.from_dict({**DEFAULT_SPEC.to_dict(), "extra": 1})


def test_log_mel_matches_librosa_reference() -> None:

    y = _noise(2.0)
    ours = log_mel(y)
    mel = librosa.feature.melspectrogram(
        y=y,
        sr=8000,
        n_fft=512,
        hop_length=80,
        win_length=200,
        window="hann",
        center=True,
        pad_mode="constant",
        power=2.0,
        n_mels=96,
        fmin=0.0,
        fmax=4000.0,
    )
    ref = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
    assert ours.shape == (96, 1 + len(y) // 80) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, atol=1e-3)
    assert log_mel(np.zeros(8000, np.float32)).min() == pytest.approx(-100.0)


def test_log_mel_a_chunk_at_a_time_is_the_whole_calls_and_partial_mels_too() -> None:
    """Frames computed ``CHUNK_FRAMES`` at a time (memory bounded on a 60-minute call) are the
    frames of one STFT over the whole signal, at the chunks' seams too."""
    y = _noise(2 * CHUNK_FRAMES * 80 / 8000 + 0.37)
    whole = librosa.stft(y, n_fft=512, hop_length=80, win_length=200, center=True,
                         pad_mode="constant")  # fmt: skip
    ref = 10 * np.log10(np.maximum(_mel_basis(DEFAULT_SPEC) @ np.abs(whole) ** 2, 1e-10))
    ours = log_mel(y)
    assert ours.shape == ref.shape == (96, 1 + len(y) // 80)
    np.testing.assert_allclose(ours, ref, atol=1e-4)
    wide = librosa.resample(y, orig_sr=8000, target_sr=16000)
    starts = np.array([0.0, CHUNK_FRAMES * 0.01 - 0.8, len(wide) / 16000 - 1.0])
    spec = np.abs(librosa.stft(wide * _gain(wide), n_fft=400, hop_length=160, center=True)) ** 2
    mel = np.concatenate([(embeddings._mel_basis() @ spec).T, np.zeros((160, 40))])
    first = np.round(starts * 100).astype(int)
    np.testing.assert_allclose(
        partial_mels(wide, starts), mel[first[:, None] + np.arange(160)], rtol=1e-4, atol=1e-9
    )


def _gain(y: np.ndarray) -> float:
    """Resemblyzer's -30 dBFS normalisation, increase only (as ``partial_mels`` applies it)."""
    return max(1.0, 10 ** ((-30 - 20 * np.log10(np.sqrt(np.mean(y**2)))) / 20))


@pytest.mark.parametrize(
    "seconds,n_windows,padded",
    [
        (3.0, 1, True),
        (9.99, 1, True),
        (10.0, 1, False),
        (10.9, 1, False),
        (11.0, 2, False),
        (25.5, 16, False),
    ],
)
def test_window_counts_and_padding(seconds: float, n_windows: int, padded: bool) -> None:
    w = stream_windows(_noise(seconds))
    assert w.windows.shape == (n_windows, 96, 1000)
    assert w.windows.dtype == np.float32
    assert w.padded is padded
    np.testing.assert_array_equal(w.starts_s, np.arange(n_windows, dtype=float))


def test_windows_are_slices_of_one_spectrogram() -> None:
    y = _noise(14.0, seed=3)
    w = stream_windows(y)
    full = log_mel(y)
    for k in range(len(w.windows)):
        np.testing.assert_array_equal(w.windows[k], full[:, 100 * k : 100 * k + 1000])
    # an interior window equals the features of that 10 s excerpt, edge frames aside
    direct = log_mel(y[2 * RATE : 12 * RATE])[:, :1000]
    np.testing.assert_allclose(w.windows[2][:, 2:-2], direct[:, 2:-2], atol=1e-3)


def test_short_speaker_is_tiled_not_silenced() -> None:
    w = stream_windows(_noise(3.0))
    assert w.padded
    assert float(w.windows[0].min()) > -60.0  # no -100 dB digital-silence block
