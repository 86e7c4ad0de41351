"""Slide the paper's 10 s window by 1 s over a speaker's stream, from ONE spectrogram.

The log-mel of the whole stream is computed once; windows are a strided, read-only view on it
(no copy, no recomputation of the nine overlapping seconds). Frame ``t`` is centred on sample
``t * hop``, so the window starting at second ``s`` is frames ``[100 s, 100 s + 1000)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from callroles.models.features import DEFAULT_SPEC, FeatureSpec, log_mel


@dataclass(frozen=True)
class StreamWindows:
    """``windows``: (N, n_mels, frames_per_window) float32 view; ``starts_s``: stream offsets."""

    windows: np.ndarray
    starts_s: np.ndarray
    padded: bool


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
        return StreamWindows(empty_windows(spec), np.zeros(0), padded=False)
    padded = stream.size < spec.window_samples
    if padded:
        stream = np.resize(stream, spec.window_samples)  # repeats the speech (see docs)
    frames = log_mel(stream, spec)
    windows = slice_windows(frames, spec)
    starts = np.arange(len(windows), dtype=np.float64) * spec.hop_s
    return StreamWindows(windows, starts, padded=padded)
