"""Telephone codecs and line faults for the simulator's phone lines (``simulate --lines varied``).

Real calls reach a recorder through many codecs, not only G.711 mu-law: A-law trunks, GSM and
AMR-like low-bit-rate mobile legs, ADPCM DECT handsets, Opus and Speex VoIP. Each codec here is the
real encoder and decoder (ffmpeg's libopus, libspeex, G.723.1, G.726; sox's GSM 6.10) run once
per party and call, so the artefacts are the codec's own, not an imitation. Decoders that delay
the signal are shifted back by their measured delay, so ground truth stays sample-exact
(checked in tests/lab/test_simulate_codecs.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from callroles.lab.simulate.errors import SimulateInputError
from callroles.lab.simulate.tts import run_tool

CODEC_TIMEOUT_S = 120

SR = 8000
# codec -> (tool, encoder arguments, container, decoder delay in samples; measured here)
_FFMPEG: dict[str, tuple[list[str], str, int]] = {
    "alaw": (["-c:a", "pcm_alaw"], "wav", 0),
    "g726": (["-c:a", "adpcm_g726", "-b:a", "16k"], "wav", 0),  # 16 kbit/s ADPCM
    "g723": (["-c:a", "g723_1", "-b:a", "6300"], "wav", 60),  # 6.3 kbit/s, AMR-like
    "opus": (["-c:a", "libopus", "-b:a", "8k", "-application", "voip"], "ogg", 0),
    "speex": (["-c:a", "libspeex", "-b:a", "8k"], "ogg", 79),
}
CODECS = ("mulaw", "gsm", *_FFMPEG)
FRAME = 160  # 20 ms: one RTP packet


def mu_law(x: np.ndarray) -> np.ndarray:
    """G.711 mu-law, 8 bits: the codec of a classic digital telephone trunk."""
    mu = 255.0
    x = np.clip(x, -1.0, 1.0)
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    q = np.round(y * 127.0) / 127.0
    return (np.sign(q) * np.expm1(np.abs(q) * np.log1p(mu)) / mu).astype(np.float32)


def _pcm(x: np.ndarray) -> bytes:
    return np.round(np.clip(x, -1.0, 32767 / 32768) * 32768).astype("<i2").tobytes()


_RAW = ["-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-r", str(SR)]


def _gsm(x: np.ndarray) -> bytes:
    with tempfile.TemporaryDirectory(prefix="callroles-codec-") as tmp:
        coded = str(Path(tmp) / "line.gsm")
        run_tool(["sox", "-D", *_RAW, "-", "-t", "gsm", coded], _pcm(x), timeout=CODEC_TIMEOUT_S)
        return run_tool(["sox", "-t", "gsm", coded, *_RAW, "-"], timeout=CODEC_TIMEOUT_S)


def _ffmpeg(x: np.ndarray, codec: str) -> bytes:
    args, container, _ = _FFMPEG[codec]
    quiet = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    with tempfile.TemporaryDirectory(prefix="callroles-codec-") as tmp:
        coded = str(Path(tmp) / f"line.{container}")
        pcm_in = ["-f", "s16le", "-ar", str(SR), "-ac", "1"]
        run_tool([*quiet, *pcm_in, "-i", "pipe:0", *args, coded], _pcm(x), timeout=CODEC_TIMEOUT_S)
        return run_tool(
            [*quiet, "-i", coded, "-f", "s16le", "-ar", str(SR), "-ac", "1", "pipe:1"],
            timeout=CODEC_TIMEOUT_S,
        )


def round_trip(x: np.ndarray, codec: str) -> np.ndarray:
    """``x`` (float, 8 kHz) encoded and decoded by ``codec``; same length, aligned to ``x``."""
    if codec == "mulaw":
        return mu_law(x)
    if codec not in CODECS:
        raise SimulateInputError(
            f"unknown codec {codec!r}; choose from {', '.join(CODECS)}", code="unknown_codec"
        )
    raw = _gsm(x) if codec == "gsm" else _ffmpeg(x, codec)
    y = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
    delay = 0 if codec == "gsm" else _FFMPEG[codec][2]
    y = y[delay : delay + len(x)]
    if len(y) < len(x):
        y = np.concatenate([y, np.zeros(len(x) - len(y), np.float32)])
    return y


def packet_loss(x: np.ndarray, rng: np.random.Generator, rate: float) -> np.ndarray:
    """Drop 20 ms packets in short bursts (Gilbert-like), concealed by repeating the last good
    packet at half level once, then silence: what a simple jitter buffer does."""
    if rate <= 0.0:
        return x
    y = x.copy()
    n = len(x) // FRAME
    k, last = 0, None
    while k < n:
        if rng.random() < rate / 2.0:  # a burst of 1-3 lost packets starts here
            burst = int(rng.integers(1, 4))
            for j in range(k, min(n, k + burst)):
                seg = slice(j * FRAME, (j + 1) * FRAME)
                y[seg] = 0.5 * last if (last is not None and j == k) else 0.0
            k += burst
            last = None
            continue
        last = x[k * FRAME : (k + 1) * FRAME]
        k += 1
    return y


def level_steps(n: int, rng: np.random.Generator, steps: int) -> np.ndarray:
    """A gain curve with ``steps`` changes of -8..+6 dB at random times, ramped over 50 ms: a
    caller moving the handset, an automatic gain control settling."""
    gain = np.ones(n, np.float32)
    level = 1.0
    for at in sorted(int(a) for a in rng.integers(0, max(1, n), size=steps)):
        new = float(10.0 ** (rng.uniform(-8.0, 6.0) / 20.0))
        ramp = min(400, n - at)
        gain[at : at + ramp] = np.linspace(level, new, ramp, dtype=np.float32)
        gain[at + ramp :] = new
        level = new
    return gain
