"""One registry of reason codes: every code our errors carry is in schemas/error_codes.v1.json."""

from __future__ import annotations

import importlib
import re

from callroles.base.errors import CallrolesError
from callroles.schemas import ERROR_CODES, LAYOUTS, SEPARATIONS, STAGES, schema
from callroles.streaming.ingest import error_event
from tests.support.tree import modules


def _all_error_classes() -> set[type[CallrolesError]]:
    for name in modules():
        if not name.endswith("__main__"):
            importlib.import_module(name)
    found: set[type[CallrolesError]] = set()
    todo = [CallrolesError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_class_code_is_registered() -> None:
    classes = _all_error_classes()
    names = {c.__name__ for c in classes}
    assert {"FetchError", "ParityError", "ModelSpecError", "AudioTruncatedError"} <= names
    unregistered = {f"{c.__module__}.{c.__name__}": c.code for c in classes}
    unregistered = {k: v for k, v in unregistered.items() if v not in ERROR_CODES}
    assert not unregistered, f"add these codes to schemas/error_codes.v1.json: {unregistered}"


def test_registered_codes_match_the_schema_pattern_and_unknown_ones_become_internal() -> None:

    pattern = schema("call_error")["properties"]["code"]["pattern"]
    assert all(re.fullmatch(pattern, code) for code in ERROR_CODES)
    event = error_event({"call_id": "c"}, CallrolesError("odd", code="never_registered"))
    assert event["code"] == "internal"
    event = error_event({"call_id": "c"}, CallrolesError("missing", code="recording_missing"))
    assert event["code"] == "recording_missing"


def test_enumerations_come_from_the_schemas() -> None:
    assert "decode" in STAGES and "ingest" in STAGES
    assert LAYOUTS[0] == "auto" and "stereo-agent-left" in LAYOUTS
    assert set(SEPARATIONS) == {"stereo", "gender", "embedding", "voiceprint"}
