"""The recording of a call for the review page's player.

The path comes from the call-finished event the ledger keeps with the result (never from the
browser), and passes the workers' own checks (``allowed_roots``, size). A browser plays PCM
WAV, MP3, Ogg and FLAC itself: those are served as they are. Anything else (GSM 6.10, raw
``.gsm``, GSM in WAV) is decoded once by ffmpeg to 8 kHz PCM WAV in a cache folder (keyed by
path, size and modification time) and served from there. Either way ``FileResponse`` answers
HTTP range requests, so the player seeks.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from pathlib import Path

from callroles.streaming.settings import StreamingSettings

from ..fetch import check_path, local_path

PLAYABLE = {".mp3", ".ogg", ".oga", ".flac", ".opus"}
CACHE = Path(tempfile.gettempdir()) / "callroles-review-audio"


class AudioError(Exception):
    """Why a call's recording cannot be played: an HTTP status and words for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _pcm_wav(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(64)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return False
    at = head.find(b"fmt ")
    return at >= 0 and int.from_bytes(head[at + 8 : at + 10], "little") in (1, 3)


def recording_path(uri: str | None, settings: StreamingSettings) -> Path:
    """The local file the URI names, checked as a worker checks it; raises AudioError."""
    if not uri:
        raise AudioError(404, "the result names no recording")
    try:
        path = local_path(uri)
    except Exception as exc:
        raise AudioError(404, f"not a playable recording URI ({type(exc).__name__})") from exc
    if path is None:
        raise AudioError(404, "the recording is on another server (http): not played here")
    try:
        return check_path(path, settings)
    except Exception as exc:
        code = getattr(exc, "code", "")
        if code == "recording_missing":
            raise AudioError(410, "the recording is gone (moved or deleted)") from exc
        raise AudioError(403, f"the recording is not allowed here ({code or 'refused'})") from exc


async def playable(path: Path) -> Path:
    """``path`` itself when a browser plays it, else its cached PCM WAV decoding (ffmpeg)."""
    if path.suffix.lower() in PLAYABLE or (path.suffix.lower() == ".wav" and _pcm_wav(path)):
        return path
    stat = path.stat()
    key = hashlib.sha256(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:32]
    out = CACHE / f"{key}.wav"
    if out.is_file():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    part = out.with_suffix(f".{id(out)}.part.wav")
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(path),
        "-ac", "1", "-ar", "8000", "-c:a", "pcm_s16le", str(part),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    if proc.returncode != 0:
        part.unlink(missing_ok=True)
        raise AudioError(415, f"ffmpeg cannot decode the recording: {err.decode()[-200:]}")
    part.replace(out)
    return out
