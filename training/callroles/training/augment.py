"""Training-time augmentation of log-mel windows: make a voice harder to memorise than a channel.

With few agents (a language of a synthetic corpus has about ten), the CRNN can learn who each
agent is instead of what an agent sounds like (a headset, not a phone line). Each change below
perturbs the speaker and leaves the channel's signature mostly intact:

* a frequency warp of the mel axis by a factor in ``[1 - warp, 1 + warp]`` (vocal tract length
  perturbation, Jaitly and Hinton 2013, done on the mel image instead of the waveform);
* a level change of up to ``gain_db`` (the front end keeps absolute dB: talkers and handsets
  differ in level, roles should not be told apart by it);
* SpecAugment's time masks and one frequency mask (Park et al. 2019), filled with the window's
  own floor so that a mask looks like a pause, not like digital silence.

Pure numpy on one (n_mels, frames) window with a generator the caller seeds, so an epoch is the
same on every run with the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Augment:
    """How strongly to perturb each training window; stored in the run's meta.json."""

    warp: float = 0.1  # mel-axis stretch, +-10%
    gain_db: float = 6.0  # level change, +-6 dB
    time_masks: int = 2
    time_mask_frames: int = 80  # each mask at most 0.8 s
    freq_masks: int = 1
    freq_mask_bins: int = 8


def warp_mel(x: np.ndarray, factor: float) -> np.ndarray:
    """Stretch (factor > 1) or squeeze the mel axis about bin 0, edges held at the last bin."""
    n = x.shape[0]
    src = np.clip(np.arange(n, dtype=np.float64) / factor, 0.0, n - 1.0)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    w = (src - lo)[:, None]
    out: np.ndarray = ((1.0 - w) * x[lo] + w * x[hi]).astype(np.float32)
    return out


def augment_window(x: np.ndarray, rng: np.random.Generator, aug: Augment) -> np.ndarray:
    """One perturbed copy of a (n_mels, frames) dB window; the input is left untouched."""
    y = x.astype(np.float32, copy=True)
    if aug.warp > 0:
        y = warp_mel(y, float(rng.uniform(1.0 - aug.warp, 1.0 + aug.warp)))
    if aug.gain_db > 0:
        y += np.float32(rng.uniform(-aug.gain_db, aug.gain_db))
    floor = np.float32(np.percentile(y, 5))
    n_mels, frames = y.shape
    for _ in range(aug.time_masks):
        width = int(rng.integers(0, aug.time_mask_frames + 1))
        if 0 < width < frames:
            start = int(rng.integers(0, frames - width))
            y[:, start : start + width] = floor
    for _ in range(aug.freq_masks):
        width = int(rng.integers(0, aug.freq_mask_bins + 1))
        if 0 < width < n_mels:
            start = int(rng.integers(0, n_mels - width))
            y[start : start + width, :] = floor
    return y
