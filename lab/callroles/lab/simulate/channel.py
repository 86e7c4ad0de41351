"""Acoustic paths: the agent's headset, the customer's telephone line, hold music, line noise.

Codecs and line faults are in :mod:`callroles.lab.simulate.codecs`; real hold music and
announcements in :mod:`callroles.lab.simulate.sounds`.

Plain numpy/scipy DSP at 8 kHz, seeded by the caller's generator, so a call renders identically
for a given seed. The final encoding to GSM 6.10 is done by sox (see :func:`write_audio`).
"""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, fftconvolve, lfilter, sosfilt

from callroles.lab.simulate import codecs
from callroles.lab.simulate.errors import SynthesisError

SR = 8000


@functools.cache
def _band_sos() -> np.ndarray:
    """The 300-3400 Hz telephone band."""
    return butter(4, [300.0, 3400.0], btype="bandpass", fs=SR, output="sos")


def db(gain_db: float) -> float:
    return float(10.0 ** (gain_db / 20.0))


def line_noise(n: int, rng: np.random.Generator, level_db: float) -> np.ndarray:
    """Band-limited hiss with a slow level drift, as on an analogue local loop."""
    noise = rng.standard_normal(n).astype(np.float32)
    noise = lfilter([1.0], [1.0, -0.6], noise).astype(np.float32)  # a little coloured
    drift = 1.0 + 0.3 * np.sin(np.linspace(0.0, rng.uniform(2, 8), n) + rng.uniform(0, 6.28))
    noise *= drift.astype(np.float32)
    rms = float(np.sqrt(np.mean(noise**2))) or 1.0
    return noise * (db(level_db) / rms)


@dataclass(frozen=True)
class Line:
    """What a telephone line does besides the band: its codec, lost packets, level changes.

    The default is the classic line (G.711 mu-law, no loss, steady level), which draws nothing
    from the generator, so corpora made before ``--lines varied`` existed come out the same.
    """

    codec: str = "mulaw"
    loss: float = 0.0  # share of 20 ms packets lost
    level_steps: int = 0


LINE_KINDS = ("classic", "varied")


def draw_line(rng: np.random.Generator) -> Line:
    """A varied line: any codec, no loss half the time (else 1-5% of packets), 0-3 level
    changes."""
    codec = codecs.CODECS[int(rng.integers(len(codecs.CODECS)))]
    loss = 0.0 if rng.random() < 0.5 else round(float(rng.uniform(0.01, 0.05)), 3)
    return Line(codec, loss, int(rng.integers(0, 4)))


def phone_line(
    x: np.ndarray,
    rng: np.random.Generator,
    gain_db: float,
    noise_db: float,
    line: Line = Line(),
) -> np.ndarray:
    """Telephone side: level, telephone band, line noise, then the line's codec and faults."""
    y = sosfilt(_band_sos(), x * db(gain_db)).astype(np.float32)
    if line.level_steps:
        y = y * codecs.level_steps(len(y), rng, line.level_steps)
    y = y + line_noise(len(y), rng, noise_db)
    y = codecs.round_trip(y, line.codec)
    return codecs.packet_loss(y, rng, line.loss)


def headset(x: np.ndarray, rng: np.random.Generator, gain_db: float) -> np.ndarray:
    """Agent side: close microphone, a faint small-room reflection tail, a quiet noise floor."""
    n_ir = int(0.05 * SR)
    tail = rng.standard_normal(n_ir) * np.exp(-np.arange(n_ir) / (0.008 * SR)) * 0.06
    ir = np.concatenate([[1.0], tail]).astype(np.float32)
    y = fftconvolve(x * db(gain_db), ir)[: len(x)].astype(np.float32)
    return y + line_noise(len(y), rng, -68.0)


_NOTES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_PROGRESSIONS = (
    (("C", 0), ("A", 1), ("F", 0), ("G", 0)),
    (("D", 1), ("G", 0), ("C", 0), ("A", 1)),
    (("F", 0), ("C", 0), ("G", 0), ("A", 1)),
)


def hold_music(seconds: float, rng: np.random.Generator, level_db: float = -22.0) -> np.ndarray:
    """Synthetic hold music: a looping chord progression with a bass line (not speech)."""
    n = int(seconds * SR)
    out = np.zeros(n, dtype=np.float32)
    prog = _PROGRESSIONS[int(rng.integers(len(_PROGRESSIONS)))]
    chord_s = float(rng.uniform(0.9, 1.6))
    base_hz = 261.63 * 2 ** (int(rng.integers(-3, 4)) / 12)
    t = np.arange(int(chord_s * SR)) / SR
    env = np.minimum(1.0, t / 0.03) * np.exp(-t / (chord_s * 0.9))
    for k, start in enumerate(range(0, n, len(t))):
        root, minor = prog[k % len(prog)]
        semis = _NOTES[root]
        notes = (semis, semis + (3 if minor else 4), semis + 7, semis - 12)
        seg = np.zeros(len(t))
        for s in notes:
            f = base_hz * 2 ** (s / 12)
            for h, amp in ((1, 1.0), (2, 0.35), (3, 0.15)):
                if f * h < SR / 2 - 200:
                    seg += amp * np.sin(2 * np.pi * f * h * t)
        seg *= env
        m = min(len(seg), n - start)
        out[start : start + m] = seg[:m]
    rms = float(np.sqrt(np.mean(out**2))) or 1.0
    return out * (db(level_db) / rms)


def noise_burst(seconds: float, rng: np.random.Generator, level_db: float) -> np.ndarray:
    """Crackle on the line: clicks in coloured noise."""
    n = int(seconds * SR)
    burst = rng.standard_normal(n) * (rng.random(n) < 0.08)
    burst = lfilter([1.0], [1.0, -0.8], burst).astype(np.float32)
    rms = float(np.sqrt(np.mean(burst**2))) or 1.0
    return burst * (db(level_db) / rms)


def write_audio(path: Path, audio: np.ndarray) -> None:
    """Write (N,) mono or (N, 2) stereo at 8 kHz: ``.gsm`` via sox (GSM 6.10), else 16-bit WAV."""
    if path.suffix == ".gsm":
        if audio.ndim != 1:
            raise SynthesisError("GSM 6.10 files are mono; stereo calls are written as WAV")
        # 16-bit input: sox has nothing to dither, so the output is the same on every run
        pcm = np.round(np.clip(audio, -1.0, 32767 / 32768) * 32768).astype("<i2")
        cmd = [
            "sox",
            "-D",
            "-t",
            "raw",
            "-e",
            "signed-integer",
            "-b",
            "16",
            "-c",
            "1",
            "-r",
            str(SR),
            "-",
            "-t",
            "gsm",
            str(path),
        ]
        proc = subprocess.run(cmd, input=pcm.tobytes(), capture_output=True, check=False)
        if proc.returncode != 0:
            raise SynthesisError(f"sox could not write {path.name}: {proc.stderr.decode()[:300]}")
        return
    sf.write(str(path), audio, SR, subtype="PCM_16")
