"""Trunk-once scoring's geometry: where each 1 s-hop window sits in a speaker's stream.

The trunk-once graph (``model.stream.onnx``, built by ``callroles.export.stream_trunk``) runs the
conv trunk once over a whole speaker stream and the recurrent head once per window; these plain
functions are all the runtime needs to feed it, so scoring never imports the builder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def stream_path(model_path: Path) -> Path:
    """Where the trunk-once graph of ``model.onnx`` lives: ``model.stream.onnx`` beside it."""
    return model_path.with_name(f"{model_path.stem}.stream.onnx")


def window_offsets(
    n_windows: int, frames_per_step: int, steps: int, trunk_len: int, frames_per_hop: int = 100
) -> np.ndarray:
    """Start step of each window in the stream's trunk output (clipped to fit); nested valid
    max pooling floors at each block, so ``trunk_len == frames // frames_per_step``."""
    k = np.arange(n_windows)
    return np.minimum(np.round(k * frames_per_hop / frames_per_step), trunk_len - steps).astype(
        np.int64
    )


def join_windows(windows: np.ndarray, frames_per_hop: int = 100) -> np.ndarray | None:
    """The stream under windows that are consecutive hops of one spectrogram, else None.

    Checked by content (each window's last frames are the next one's first), so any array
    works, not only the front end's zero-copy views.
    """
    w = np.asarray(windows, dtype=np.float32)
    if w.ndim != 3 or len(w) == 0:
        return None
    if len(w) > 1 and not np.array_equal(w[1:, :, :-frames_per_hop], w[:-1, :, frames_per_hop:]):
        return None
    tail = w[1:, :, -frames_per_hop:].transpose(1, 0, 2).reshape(w.shape[1], -1)
    return np.ascontiguousarray(np.concatenate([w[0], tail], axis=1))
