"""An energy VAD written independently of the generator, to check its ground truth."""

from __future__ import annotations

import numpy as np

SR = 8000


def energy_vad_seconds(
    x: np.ndarray,
    *,
    frame_s: float = 0.02,
    rel_db: float = 40.0,
    bridge_s: float = 0.3,
    above_floor_db: float | None = None,
    ignore: list[tuple[float, float]] = (),
) -> float:
    """Seconds of speech: 20 ms frames within ``rel_db`` of the loudest, short gaps bridged.

    On a noisy channel, ``above_floor_db`` also requires frames to exceed the noise floor (10th
    percentile level) by that much; ``ignore`` spans (music, noise bursts) are left out.
    """
    hop = int(frame_s * SR)
    n = len(x) // hop
    frames = x[: n * hop].reshape(n, hop).astype(np.float64)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    threshold = level.max() - rel_db
    if above_floor_db is not None:
        threshold = max(threshold, float(np.percentile(level, 10)) + above_floor_db)
    active = level > threshold
    for a, b in ignore:
        active[int(a / frame_s) : int(np.ceil(b / frame_s))] = False
    # bridge pauses shorter than bridge_s between two active frames
    idx = np.flatnonzero(active)
    for a, b in zip(idx[:-1], idx[1:], strict=True):
        if 1 < b - a <= int(round(bridge_s / frame_s)):
            active[a:b] = True
    return float(active.sum() * frame_s)
