"""Typed errors of the front end, each with a stable ``code`` that travels in error events."""

from __future__ import annotations

from callroles.base.errors import AudioError


class AudioEmptyError(AudioError):
    """Zero bytes, or a valid container holding no samples."""

    code = "audio_empty"


class AudioTruncatedError(AudioError):
    """The header promises more audio than the file holds (cut-off upload or copy)."""

    code = "audio_truncated"


class AudioUndecodableError(AudioError):
    """Bytes that no decoder recognises as audio (random data, corrupt header)."""

    code = "audio_undecodable"


class AudioUnsupportedError(AudioError):
    """A recognised file that is not usable audio here (no audio stream, too many channels)."""

    code = "audio_unsupported"


class AudioTooLongError(AudioError):
    """Longer than the configured ``max_duration_s``."""

    code = "audio_too_long"


class AudioTooLargeError(AudioError):
    """More bytes than the configured ``max_bytes``."""

    code = "audio_too_large"


class AudioTimeoutError(AudioError):
    """The decoder did not finish within ``decode_timeout_s`` (killed, never left hanging)."""

    code = "audio_timeout"
