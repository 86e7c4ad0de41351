"""Where events enter: decode and validate call-finished events, build error events.

Bad input never crashes a worker and never vanishes: every refusal becomes a ``call_error.v1``
event with a typed reason code, carrying the input (cut to a bounded size) and the attempt.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

from callroles.base.errors import CallrolesError, InputError
from callroles.schemas import ERROR_CODES, SCHEMA_VERSION, STAGES, SchemaError, utc_now, validate
from callroles.streaming.settings import StreamingSettings

MAX_INPUT_CHARS = 4000
MAX_EVENT_BYTES: int = StreamingSettings.model_fields["max_event_bytes"].default
MAX_METADATA_BYTES = 16_000  # metadata is echoed into the result event: keep it small
_CALL_ID_OK = re.compile(r"[^A-Za-z0-9._:@+-]")


_CALL_ID_IN_RAW = re.compile(rb'"call_id"\s*:\s*"([A-Za-z0-9._:@+-]{1,128})"')


class NotJsonError(InputError):
    code = "not_json"


class EventTooLargeError(InputError):
    code = "event_too_large"


def _raw_size(raw: bytes | str) -> int:
    return len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", errors="replace"))


def parse_event(
    raw: bytes | str | dict[str, Any], *, max_bytes: int = MAX_EVENT_BYTES
) -> dict[str, Any]:
    """A validated call-finished event (layout defaults to ``auto``) or an InputError.

    A raw message above ``max_bytes`` is refused before it is parsed (events carry a URI,
    never audio: a big one is a mistake or an attack), and ``metadata``, which is echoed
    into the result event, is bounded so a valid call always fits the result topic.
    """
    if isinstance(raw, dict):
        payload: Any = raw
    else:
        size = _raw_size(raw)
        if size > max_bytes:
            raise EventTooLargeError(
                f"event has {size} bytes, above max_event_bytes={max_bytes}; events carry a "
                "recording URI, not audio: move large data out of metadata"
            )
        try:
            payload = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise NotJsonError(f"event is not JSON: {exc}") from exc
    event = validate("call_finished", payload)
    metadata = event.get("metadata")
    if metadata:
        size = len(json.dumps(metadata, default=str).encode())
        if size > MAX_METADATA_BYTES:
            raise SchemaError(
                f"invalid call_finished v{SCHEMA_VERSION} event: metadata: {size} bytes as JSON, "
                f"above {MAX_METADATA_BYTES}"
            )
    event.setdefault("layout", "auto")
    return event


def _too_large(raw: Any) -> bool:
    return isinstance(raw, bytes | str) and _raw_size(raw) > MAX_EVENT_BYTES


def call_id_of(raw: Any) -> str | None:
    """Best-effort call id of an event that may be invalid (for its error event).

    An oversized raw message is searched, never parsed.
    """
    if _too_large(raw):
        data = raw if isinstance(raw, bytes) else raw.encode("utf-8", errors="replace")
        found = _CALL_ID_IN_RAW.search(data)
        return found.group(1).decode() if found else None
    if isinstance(raw, bytes | str):
        try:
            raw = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
    if isinstance(raw, dict) and isinstance(raw.get("call_id"), str):
        return raw["call_id"][:256]
    return None


def _input_for_error(raw: Any) -> dict[str, Any] | str | None:
    if isinstance(raw, dict):
        text = json.dumps(raw, default=str)
        return raw if len(text) <= MAX_INPUT_CHARS else text[:MAX_INPUT_CHARS]
    if _too_large(raw):
        head = raw[: MAX_INPUT_CHARS * 4]
        text = head.decode("utf-8", errors="replace") if isinstance(head, bytes) else head
        return text[:MAX_INPUT_CHARS]
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            return raw[:MAX_INPUT_CHARS]
        return _input_for_error(parsed) if isinstance(parsed, dict) else raw[:MAX_INPUT_CHARS]
    return None


def error_event(
    raw: Any,
    exc: BaseException,
    *,
    attempt: int = 1,
    stage: str | None = None,
    worker: str | None = None,
) -> dict[str, Any]:
    """A valid ``call_error.v1`` event for ``exc`` raised while handling ``raw``.

    The stage is the error's own when it names one (decode, fetch...), else ``stage``: the step
    the worker was in.
    """
    fallback = stage or "internal"
    if isinstance(exc, CallrolesError):
        own = exc.stage if exc.stage in STAGES and exc.stage not in ("ingest", "internal") else None
        where = own or (stage if stage else exc.stage)
        code, retryable = exc.code, False
    else:
        code, where, retryable = "internal", fallback, True
    if where not in STAGES:
        where = "internal"
    if code not in ERROR_CODES:  # one registry (schemas/error_codes.v1.json): unknown is a bug
        code = "internal"
    parsed = raw if isinstance(raw, dict) else None
    tenant = parsed.get("tenant") if parsed else None
    return validate(
        "call_error",
        {
            "schema_version": SCHEMA_VERSION,
            "call_id": call_id_of(raw),
            "stage": where,
            "code": code,
            "message": f"{type(exc).__name__}: {exc}"[:4000],
            "attempt": max(1, attempt),
            "retryable": retryable,
            "input": _input_for_error(raw),
            "tenant": tenant if isinstance(tenant, str) else None,
            "worker": worker,
            "produced_at": utc_now(),
        },
    )


def call_id_for_file(path: Path) -> str:
    """A call id from a recording's file name (its stem, made safe), else a random one."""
    stem = _CALL_ID_OK.sub("-", path.stem).strip("-.")[:120]
    return stem if stem and stem[0].isalnum() else f"call-{uuid.uuid4().hex[:12]}"


def make_event(
    recording_uri: str,
    *,
    call_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A valid call-finished event for a recording, stamped with ``submitted_at``."""
    event: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "call_id": call_id or call_id_for_file(Path(recording_uri)),
        "recording_uri": recording_uri,
    }
    event.update({k: v for k, v in (extra or {}).items() if v is not None})
    event.setdefault("submitted_at", utc_now())
    return validate("call_finished", event)
