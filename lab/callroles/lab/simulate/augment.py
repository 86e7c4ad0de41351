"""Voice augmentation: a vocal-tract length change that leaves the pitch where it was.

Resampling or sox's ``pitch`` move the harmonics and the formants together, which makes a voice
higher but not a different person. A longer or shorter vocal tract moves the formants only. Here
the spectral envelope of each frame (cepstral smoothing) is stretched along the frequency axis by
``warp`` while the fine structure (the harmonics of the pitch) stays: warp 1.06 is a tract about
6% shorter. Pitch and speed changes are the engines' own (espeak -p/-s, sox pitch/tempo).
"""

from __future__ import annotations

import librosa
import numpy as np

N_FFT = 256  # 32 ms at 8 kHz
HOP = 64
LIFTER = 24  # cepstral coefficients kept for the envelope: formants, not harmonics


def _envelope(log_mag: np.ndarray) -> np.ndarray:
    """Smooth log spectra (bins x frames) by keeping the first LIFTER cepstral coefficients."""
    cep = np.fft.irfft(log_mag, axis=0)
    cep[LIFTER:-LIFTER] = 0.0
    return np.fft.rfft(cep, axis=0).real[: log_mag.shape[0]]


def vtl_warp(x: np.ndarray, warp: float) -> np.ndarray:
    """``x`` with its formants moved by ``warp`` (> 1: higher, a shorter tract); same length."""
    if warp == 1.0 or len(x) < N_FFT:
        return x
    spec = librosa.stft(x, n_fft=N_FFT, hop_length=HOP)
    log_mag = np.log(np.abs(spec) + 1e-7)
    env = _envelope(log_mag)
    bins = np.arange(env.shape[0], dtype=np.float64)
    source = np.clip(bins / warp, 0.0, env.shape[0] - 1.0)  # new bin k takes old bin k / warp
    warped = np.stack([np.interp(source, bins, env[:, j]) for j in range(env.shape[1])], axis=1)
    out = librosa.istft(spec * np.exp(warped - env), hop_length=HOP, length=len(x))
    peak_in = float(np.max(np.abs(x))) or 1.0
    peak_out = float(np.max(np.abs(out))) or 1.0
    return (out * (peak_in / peak_out)).astype(np.float32)
