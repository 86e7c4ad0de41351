"""Decode any recording at the boundary into 8 kHz float32 channels, or fail with a typed error.

ffprobe/ffmpeg run as subprocesses with a timeout (a hostile file can never hang a worker).
ffmpeg resamples every source to 16 kHz, the rate inaSpeechSegmenter works at (it would call
ffmpeg the same way), and the 8 kHz channels the paper's features use are derived from that
with soxr. Raw GSM 6.10 (no header) is recognised by its frame signature, since ffmpeg
cannot probe it from bytes alone.
"""

from __future__ import annotations

import json
import struct
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from callroles.base.settings import Settings
from callroles.frontend.errors import (
    AudioEmptyError,
    AudioTimeoutError,
    AudioTooLargeError,
    AudioTooLongError,
    AudioTruncatedError,
    AudioUndecodableError,
    AudioUnsupportedError,
)

SAMPLE_RATE = 8000
SEGMENTER_RATE = 16000
GSM_FRAME_BYTES = 33  # GSM 6.10: 160 samples (20 ms) per 33-byte frame, high nibble 0xD
MAX_CHANNELS = 2


@dataclass(frozen=True)
class DecodeLimits:
    """What a single recording may cost; the defaults are Settings' own (one source)."""

    max_bytes: int = Settings.model_fields["max_bytes"].default
    max_duration_s: float = Settings.model_fields["max_duration_s"].default
    timeout_s: float = Settings.model_fields["decode_timeout_s"].default

    @classmethod
    def from_settings(cls, s: Settings) -> DecodeLimits:
        return cls(
            max_bytes=s.max_bytes, max_duration_s=s.max_duration_s, timeout_s=s.decode_timeout_s
        )


@dataclass(frozen=True)
class AudioFacts:
    """What the source was, as found by the decoder."""

    container: str
    codec: str
    sample_rate: int
    channels: int
    duration_s: float
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DecodedAudio:
    """``channels``: (C, N) float32 at 8 kHz; ``wide``: (C, M) float32 at 16 kHz (segmenter)."""

    channels: np.ndarray
    wide: np.ndarray
    facts: AudioFacts

    @property
    def duration_s(self) -> float:
        return float(self.channels.shape[1]) / SAMPLE_RATE


def _is_raw_gsm(data: bytes) -> bool | None:
    """True for raw GSM 6.10, None when it looks like GSM cut mid-frame, else False."""
    if len(data) < GSM_FRAME_BYTES or data[:4] in (b"RIFF", b"fLaC", b"OggS", b"ID3\x03"):
        return False
    whole = len(data) // GSM_FRAME_BYTES
    heads = np.frombuffer(data[: whole * GSM_FRAME_BYTES], dtype=np.uint8)[::GSM_FRAME_BYTES]
    if not np.all((heads >> 4) == 0xD):
        return False
    return True if len(data) % GSM_FRAME_BYTES == 0 else None


def _wav_declared_bytes(data: bytes) -> tuple[int, int] | None:
    """(declared data-chunk bytes, bytes actually present) of a RIFF/WAVE file, if readable."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if cid == b"data":
            return size, len(data) - pos - 8
        pos += 8 + size + (size & 1)
    return None


def _run(cmd: list[str], timeout: float, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:  # subprocess.run kills the child before raising
        raise AudioTimeoutError(
            f"decoding took longer than {timeout:.0f} s (raise CALLROLES_DECODE_TIMEOUT_S "
            "if such files are expected)"
        ) from exc


def _probe(path: Path, fmt: str | None, timeout: float) -> dict[str, Any]:
    cmd = [
        "ffprobe",
        "-v",
        "error",
        "-of",
        "json",
        "-show_entries",
        "stream=codec_type,codec_name,sample_rate,channels,duration:format=format_name,duration",
    ]
    if fmt:
        cmd += ["-f", fmt]
    proc = _run([*cmd, str(path)], timeout)
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise AudioUndecodableError(
            f"not a recognisable audio file ({msg[-1] if msg else 'ffprobe failed'})"
        )
    info: dict[str, Any] = json.loads(proc.stdout or b"{}")
    return info


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _load(source: Path | bytes, limits: DecodeLimits) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise AudioUndecodableError(f"no such file: {path}")
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise AudioTooLargeError(
                f"{size} bytes is over the limit of {limits.max_bytes} (CALLROLES_MAX_BYTES)"
            )
        data = path.read_bytes()
    if not data:
        raise AudioEmptyError("the recording has zero bytes")
    if len(data) > limits.max_bytes:
        raise AudioTooLargeError(
            f"{len(data)} bytes is over the limit of {limits.max_bytes} (CALLROLES_MAX_BYTES)"
        )
    return data


def decode(source: Path | bytes, limits: DecodeLimits | None = None) -> DecodedAudio:
    """Decode a recording (path or bytes) to 8 kHz float32 channels plus facts about the source."""
    limits = limits or DecodeLimits()
    data = _load(source, limits)
    gsm = _is_raw_gsm(data)
    if gsm is None:
        raise AudioTruncatedError(
            f"raw GSM 6.10 data of {len(data)} bytes ends inside a 33-byte frame"
        )
    fmt = "gsm" if gsm else None
    with tempfile.TemporaryDirectory(prefix="callroles-decode-") as tmp:
        path = Path(tmp) / ("input.gsm" if gsm else "input")
        path.write_bytes(data)
        info = _probe(path, fmt, limits.timeout_s)
        streams = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
        container = str(info.get("format", {}).get("format_name", "unknown"))
        if not streams:
            raise AudioUnsupportedError(f"no audio stream in this {container} file")
        stream = streams[0]
        n_ch = int(stream.get("channels") or 0)
        rate = int(_float(stream.get("sample_rate")))
        if n_ch < 1 or rate <= 0:
            raise AudioUndecodableError("the audio stream has no channels or no sample rate")
        if n_ch > MAX_CHANNELS:
            raise AudioUnsupportedError(f"{n_ch} channels; only mono and stereo calls are handled")
        declared = _float(stream.get("duration")) or _float(info.get("format", {}).get("duration"))
        if declared > limits.max_duration_s:
            raise AudioTooLongError(
                f"{declared:.0f} s is over the limit of {limits.max_duration_s:.0f} s "
                "(CALLROLES_MAX_DURATION_S)"
            )
        cmd = ["ffmpeg", "-nostdin", "-v", "error"]
        if fmt:
            cmd += ["-f", fmt]
        cmd += [
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-t",
            f"{limits.max_duration_s + 1:.3f}",
            "-f",
            "f32le",
            "-acodec",
            "pcm_f32le",
            "-ar",
            str(SEGMENTER_RATE),
            "pipe:1",
        ]
        proc = _run(cmd, limits.timeout_s)
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise AudioUndecodableError(f"ffmpeg could not decode it ({msg[-1] if msg else '?'})")
    wide = np.frombuffer(proc.stdout, dtype="<f4")
    wide = wide[: len(wide) - len(wide) % n_ch].reshape(-1, n_ch).T.copy()
    duration = wide.shape[1] / SEGMENTER_RATE
    if wide.shape[1] == 0:
        raise AudioEmptyError(f"the {container} file holds no audio samples")
    if duration > limits.max_duration_s:
        raise AudioTooLongError(
            f"over {limits.max_duration_s:.0f} s of audio (CALLROLES_MAX_DURATION_S)"
        )
    wav = _wav_declared_bytes(data)
    if wav is not None and wav[0] not in (0, 0xFFFFFFFF) and wav[1] < wav[0]:
        raise AudioTruncatedError(
            f"WAV header declares {wav[0]} data bytes but only {wav[1]} are present"
        )
    if wav is None and declared > 0 and duration < declared - max(0.2, 0.02 * declared):
        raise AudioTruncatedError(
            f"header declares {declared:.2f} s but only {duration:.2f} s could be decoded"
        )
    np.nan_to_num(wide, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
    narrow = np.ascontiguousarray(
        soxr.resample(wide.T, SEGMENTER_RATE, SAMPLE_RATE, quality="HQ").T, dtype=np.float32
    )
    facts = AudioFacts(
        container=container,
        codec=str(stream.get("codec_name", "unknown")),
        sample_rate=rate,
        channels=n_ch,
        duration_s=round(duration, 3),
        bytes=len(data),
    )
    return DecodedAudio(channels=narrow, wide=wide, facts=facts)
