"""Event contracts: versioned JSON Schemas, their examples, topic names and ``validate``.

Everything that enters or leaves Kafka is checked here, so producers, workers and consumers
agree on one shape. Topic names live only in :data:`TOPICS`; a prefix (settings.topic_prefix)
lets tenants or test runs share one broker.

The published schemas are open (docs/events.md): a consumer validating with today's v1 accepts
next year's v1 events, which may carry optional fields and open-list values we do not know yet.
Our own events are held to more: :func:`validate` checks, by default, against the *producer*
variant derived from each published schema (every object closed, every open list back to its
documented values, error codes to the registry), so nothing undocumented leaves a producer and a
worker refuses a call-finished field it would otherwise ignore. Consumers pass ``strict=False``.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import re
from importlib import resources
from typing import Any, Literal

from jsonschema import Draft202012Validator

from callroles.base.errors import InputError

from .types import CallError, CallFinished, CallResult, ModelInfo

__all__ = [
    "CALL_ID",
    "KINDS",
    "SCHEMA_VERSION",
    "TOPICS",
    "CallError",
    "CallFinished",
    "CallResult",
    "ERROR_CODES",
    "LAYOUTS",
    "ModelInfo",
    "SEPARATIONS",
    "STAGES",
    "SchemaError",
    "example",
    "is_call_id",
    "is_valid",
    "producer_schema",
    "schema",
    "topic_name",
    "utc_now",
    "validate",
]

Kind = Literal["call_finished", "call_result", "call_error"]
KINDS: tuple[Kind, ...] = ("call_finished", "call_result", "call_error")
SCHEMA_VERSION = 1

#: Kafka topic per event kind (before the optional prefix).
TOPICS: dict[str, str] = {
    "call_finished": "callroles.call-finished.v1",
    "call_result": "callroles.call-result.v1",
    "call_error": "callroles.call-error.v1",
}


class SchemaError(InputError):
    """An event that does not match its schema; the message names the offending field."""

    code = "schema_invalid"
    stage = "ingest"


def topic_name(kind: str, prefix: str = "") -> str:
    """The full topic name for an event kind, with the deployment's prefix."""
    if kind not in TOPICS:
        raise KeyError(f"unknown event kind {kind!r}; known: {sorted(TOPICS)}")
    return f"{prefix}{TOPICS[kind]}"


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise KeyError(f"unknown event kind {kind!r}; known: {list(KINDS)}")


@functools.cache
def schema(kind: str, version: int = SCHEMA_VERSION) -> dict[str, Any]:
    """The JSON Schema document for an event kind (shipped as package data)."""
    _check_kind(kind)
    text = resources.files(__name__).joinpath(f"{kind}.v{version}.json").read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def _open_list(node: dict[str, Any]) -> list[str] | None:
    """The documented values of an open list (``anyOf: [{enum}, {$ref: open_value}]``)."""
    branches = node.get("anyOf")
    if (
        isinstance(branches, list)
        and len(branches) == 2
        and set(branches[0]) == {"enum"}
        and branches[1] == {"$ref": "#/$defs/open_value"}
    ):
        return list(branches[0]["enum"])
    return None


def _closed(node: Any) -> Any:
    """A schema node with every object closed and every open list reduced to its values."""
    if isinstance(node, list):
        return [_closed(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _closed(v) for k, v in node.items()}
    values = _open_list(node)
    if values is not None:
        del out["anyOf"]
        out["enum"] = values
    if isinstance(node.get("properties"), dict) and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return out


@functools.cache
def _producer_doc(kind: str) -> dict[str, Any]:
    doc: dict[str, Any] = _closed(copy.deepcopy(schema(kind)))
    if kind == "call_error":  # the registry is the documented list of codes
        doc["properties"]["code"] = {"enum": sorted(_error_codes())}
    return doc


def producer_schema(kind: str) -> dict[str, Any]:
    """What our own producers may emit: the published schema closed (a fresh copy)."""
    _check_kind(kind)
    return copy.deepcopy(_producer_doc(kind))


@functools.cache
def _validator(kind: str, strict: bool) -> Draft202012Validator:
    doc = _producer_doc(kind) if strict else schema(kind)
    Draft202012Validator.check_schema(doc)
    return Draft202012Validator(doc)


def example(kind: str, name: str | None = None) -> dict[str, Any]:
    """A documented example event (a fresh copy), e.g. ``example("call_finished", "minimal")``."""
    _check_kind(kind)
    stem = f"{kind}.{name}.v1" if name else f"{kind}.v1"
    text = resources.files(__name__).joinpath("examples", f"{stem}.json").read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def _describe(error: Any) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
    return f"{where}: {error.message}"


def validate(kind: str, payload: Any, *, strict: bool = True) -> dict[str, Any]:
    """Check ``payload`` against the schema of ``kind``; return it, or raise SchemaError.

    ``strict`` (producers, and a worker's intake): only documented fields and values;
    ``strict=False`` (consumers): the published, open schema. The error lists every problem
    (up to five) so a producer can fix its events in one go.
    """
    _check_kind(kind)
    found = _validator(kind, strict).iter_errors(payload)
    errors = sorted(found, key=lambda e: list(e.absolute_path))
    if errors:
        details = "; ".join(_describe(e) for e in errors[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        raise SchemaError(f"invalid {kind} v{SCHEMA_VERSION} event: {details}{more}")
    result: dict[str, Any] = payload
    return result


def is_valid(kind: str, payload: Any, *, strict: bool = True) -> bool:
    """True when ``payload`` matches the schema of ``kind`` (``strict`` as in :func:`validate`)."""
    _check_kind(kind)
    return bool(_validator(kind, strict).is_valid(payload))


def utc_now() -> str:
    """RFC 3339 UTC timestamp with milliseconds, as every event carries."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _enum(kind: str, prop: str) -> tuple[str, ...]:
    node = schema(kind)["properties"][prop]
    return tuple(node["enum"] if "enum" in node else _open_list(node) or ())


#: Where a call can fail (``call_error.v1`` ``stage``), read from the schema: one source of truth.
STAGES: tuple[str, ...] = _enum("call_error", "stage")
#: Channel layouts a call-finished event may name.
LAYOUTS: tuple[str, ...] = _enum("call_finished", "layout")
#: How a result's speakers were separated (``call_result.v1`` ``separation_strategy``).
SEPARATIONS: tuple[str, ...] = _enum("call_result", "separation_strategy")


#: What a call id may be (``call_finished.v1`` ``call_id``): the Kafka key, the ledger's key.
CALL_ID: re.Pattern[str] = re.compile(schema("call_finished")["properties"]["call_id"]["pattern"])


def is_call_id(value: str) -> bool:
    """True when ``value`` is a call id the call-finished schema allows."""
    return bool(CALL_ID.fullmatch(value))


def _error_codes() -> dict[str, str]:
    text = resources.files(__name__).joinpath("error_codes.v1.json").read_text("utf-8")
    codes: dict[str, str] = json.loads(text)["codes"]
    return codes


#: Every reason code an error event may carry, with what it means (``error_codes.v1.json``).
ERROR_CODES: dict[str, str] = _error_codes()
