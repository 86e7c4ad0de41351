"""The paper's features as one frozen object: log-amplitude mel spectrogram, 96 x 1000 per 10 s,
and the 10 s windows, 1 s apart, cut from one spectrogram of a speaker's stream.

The spec is saved in every model's metadata and compared (by fingerprint) when a model is
loaded, so a model never scores features computed differently from the ones it learned on.
Decisions the paper leaves open are explained in docs/frontend.md.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any

import librosa
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


@dataclass(frozen=True)
class FeatureSpec:
    """Everything that determines a window's numbers. Change any field: new fingerprint."""

    sample_rate: int = 8000
    n_mels: int = 96
    win_length: int = 200  # samples (25 ms), the paper's "window 200"
    hop_length: int = 80  # samples (10 ms), the paper's "hop 80"
    n_fft: int = 512  # window zero-padded to 512: 15.6 Hz bins, no empty mel filters
    window: str = "hann"
    center: bool = True  # frame t is centred on sample t * hop
    pad_mode: str = "constant"  # zeros beyond the stream's ends when centring
    fmin: float = 0.0
    fmax: float = 4000.0  # Nyquist at 8 kHz
    mel_scale: str = "slaney"  # librosa default (htk=False), area-normalised filters
    power: float = 2.0  # power spectrogram, then 10*log10 (log-amplitude in dB)
    log_floor: float = 1e-10  # amin: digital silence maps to -100 dB
    normalisation: str = "none"  # absolute dB; no per-window or per-stream scaling
    window_s: float = 10.0
    hop_s: float = 1.0
    frames_per_window: int = 1000
    short_speaker: str = "repeat"  # < window_s of speech: tile the speech to fill one window
    dtype: str = "float32"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        """Build from a saved dict; unknown keys are refused so that drift is noticed."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown feature spec fields: {sorted(unknown)}")
        return cls(**data)

    def fingerprint(self) -> str:
        """Stable short hash of the spec (order-independent JSON)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def window_samples(self) -> int:
        return int(round(self.window_s * self.sample_rate))

    @property
    def frames_per_hop(self) -> int:
        return int(round(self.hop_s * self.sample_rate / self.hop_length))

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_mels, self.frames_per_window)


DEFAULT_SPEC = FeatureSpec()


@functools.lru_cache(maxsize=8)
def _mel_basis(spec: FeatureSpec) -> np.ndarray:
    basis = librosa.filters.mel(
        sr=spec.sample_rate,
        n_fft=spec.n_fft,
        n_mels=spec.n_mels,
        fmin=spec.fmin,
        fmax=spec.fmax,
        htk=spec.mel_scale == "htk",
        norm="slaney",
    )
    return np.asarray(basis, dtype=np.float32)


#: frames of one STFT at a time: a 60-minute call's whole STFT is over a GB of complex numbers,
#: this many frames (60 s at a 10 ms hop) are 12 MB, and each frame is the same numbers either way
CHUNK_FRAMES = 6000


def power_frames(
    signal: np.ndarray,
    n_fft: int,
    hop_length: int,
    win_length: int | None = None,
    window: str = "hann",
    pad_mode: str = "constant",
    power: float = 2.0,
) -> Iterator[tuple[int, np.ndarray]]:
    """(first frame, (1 + n_fft // 2, frames) float32 |STFT|^power) in chunks of
    ``CHUNK_FRAMES``, frames centred as librosa's ``center=True`` centres them: frame t is the
    window of the padded signal at t * hop, whether it is computed alone or with the call."""
    y = np.pad(np.asarray(signal, dtype=np.float32), n_fft // 2, mode=pad_mode)  # type: ignore[call-overload]
    n = 1 + (len(y) - n_fft) // hop_length
    for a in range(0, n, CHUNK_FRAMES):
        b = min(n, a + CHUNK_FRAMES)
        stft = librosa.stft(
            y[a * hop_length : (b - 1) * hop_length + n_fft],
            n_fft=n_fft,
            hop_length=hop_length,
            win_length=win_length,
            window=window,
            center=False,
        )
        yield a, (np.abs(stft) ** power).astype(np.float32, copy=False)


def log_mel(signal: np.ndarray, spec: FeatureSpec = DEFAULT_SPEC) -> np.ndarray:
    """Log-mel spectrogram (n_mels, frames) of a 1-D signal at ``spec.sample_rate``, a chunk of
    frames at a time (``power_frames``) so that memory does not grow with the call."""
    y = np.asarray(signal, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"log_mel wants a 1-D signal, got shape {y.shape}")
    if not spec.center:
        raise ValueError("log_mel centres its frames (FeatureSpec.center)")
    n = 1 + len(y) // spec.hop_length
    out = np.empty((spec.n_mels, n), dtype=spec.dtype)
    frames = power_frames(
        y, spec.n_fft, spec.hop_length, spec.win_length, spec.window, spec.pad_mode, spec.power
    )
    for a, power in frames:
        mel = _mel_basis(spec) @ power
        out[:, a : a + power.shape[1]] = 10.0 * np.log10(np.maximum(mel, spec.log_floor))
    return out


# ---- windows: the log-mel of a whole stream is computed once; windows are a strided,
# read-only view on it (no copy, no recomputation of the nine overlapping seconds). Frame t is
# centred on sample t * hop, so the window starting at second s is frames [100 s, 100 s + 1000).


@dataclass(frozen=True)
class StreamWindows:
    """``windows``: (N, n_mels, frames_per_window) float32 view on ``logmel``, the (n_mels, T)
    spectrogram of the whole stream; ``starts_s``: stream offsets."""

    windows: np.ndarray
    starts_s: np.ndarray
    padded: bool
    logmel: np.ndarray


def empty_windows(spec: FeatureSpec = DEFAULT_SPEC) -> np.ndarray:
    return np.zeros((0, *spec.shape), dtype=spec.dtype)


def slice_windows(spec_frames: np.ndarray, spec: FeatureSpec = DEFAULT_SPEC) -> np.ndarray:
    """All full windows of a (n_mels, T) log-mel, 1 s apart: (N, n_mels, frames) view."""
    fpw, fph = spec.frames_per_window, spec.frames_per_hop
    if spec_frames.shape[1] < fpw:
        return empty_windows(spec)
    view = sliding_window_view(spec_frames, fpw, axis=1)[:, ::fph]  # (n_mels, N, fpw)
    return view.transpose(1, 0, 2)


def stream_windows(stream: np.ndarray, spec: FeatureSpec = DEFAULT_SPEC) -> StreamWindows:
    """Windows of one speaker's bundled speech; under ``window_s`` it is tiled into one window."""
    stream = np.asarray(stream, dtype=np.float32)
    if stream.size == 0:
        return StreamWindows(empty_windows(spec), np.zeros(0), False, np.zeros((spec.n_mels, 0)))
    padded = stream.size < spec.window_samples
    if padded:
        stream = np.resize(stream, spec.window_samples)  # repeats the speech (see docs)
    frames = log_mel(stream, spec)
    windows = slice_windows(frames, spec)
    starts = np.arange(len(windows), dtype=np.float64) * spec.hop_s
    return StreamWindows(windows, starts, padded, frames)
