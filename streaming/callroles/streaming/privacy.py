"""What a result may copy from its call-finished event: privacy by default.

A result echoes its event's ``metadata`` and ``recording_uri``, and both may carry the caller's
number (``callroles watch --pattern asterisk`` puts it in ``metadata.caller``; Asterisk names the
file after it). Results travel further than the event (Kafka consumers, ``GET /calls/{id}``,
webhooks), so only the metadata keys named by ``result_metadata`` (none by default) pass, and
what passes, like the URI, has its digit runs of 6+ replaced by the logs' salted hash
(:func:`callroles.streaming.redact.redact`, the one redactor).

An error event on Kafka keeps the event it failed on whole (``input``: the operator replays it
from there), but the copy kept for ``GET /calls/{id}`` goes through :func:`for_error`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callroles.streaming.settings import StreamingSettings

from .redact import redact


def scrub(value: Any) -> Any:
    """``value`` with every digit run of 6+ redacted, in strings, numbers, lists and maps."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        text = str(value)
        cleaned = redact(text)
        return value if cleaned == text else cleaned
    if isinstance(value, Mapping):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def for_result(event: Mapping[str, Any], settings: StreamingSettings) -> dict[str, Any]:
    """The event as the result may echo it: allowed metadata keys only, scrubbed, and the
    recording URI as ``result_recording_uri`` says (redacted, full, or none)."""
    out = dict(event)
    metadata = event.get("metadata") or {}
    allowed = set(settings.result_metadata)
    out["metadata"] = {k: scrub(v) for k, v in metadata.items() if k in allowed}
    uri = event.get("recording_uri")
    if settings.result_recording_uri == "none":
        out["recording_uri"] = None
    elif settings.result_recording_uri == "redacted" and isinstance(uri, str):
        out["recording_uri"] = redact(uri)
    return out


def for_error(error: Mapping[str, Any], settings: StreamingSettings) -> dict[str, Any]:
    """The error event as ``GET /calls/{id}`` may show it: its ``input`` echoed as a result
    would echo it, and the message's digit runs hashed (it may quote a file name)."""
    out = dict(error)
    given = error.get("input")
    if isinstance(given, Mapping):
        out["input"] = for_result(given, settings)
    elif isinstance(given, str):
        out["input"] = redact(given)
    if isinstance(error.get("message"), str):
        out["message"] = redact(error["message"])
    return out
