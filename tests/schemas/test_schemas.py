"""The event contracts: every example validates, bad events are refused with a clear reason."""

from __future__ import annotations

import copy
import json

import pytest
from jsonschema import Draft202012Validator

from callroles import schemas


@pytest.mark.parametrize("kind", schemas.KINDS)
def test_examples_validate(kind: str) -> None:
    assert schemas.validate(kind, schemas.example(kind))["schema_version"] == 1


def test_minimal_call_finished_is_enough() -> None:
    schemas.validate("call_finished", schemas.example("call_finished", "minimal"))


def test_topic_names_come_from_one_place() -> None:
    assert schemas.topic_name("call_result", "t1.") == "t1." + schemas.TOPICS["call_result"]
    assert len(set(schemas.TOPICS.values())) == len(schemas.TOPICS)
    with pytest.raises(KeyError):
        schemas.topic_name("nope")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"call_id": ""}, "call_id"),
        ({"call_id": "has space"}, "call_id"),
        ({"recording_uri": "s3://bucket/key.wav"}, "recording_uri"),
        ({"recording_uri": 42}, "recording_uri"),
        ({"layout": "quad"}, "layout"),
        ({"agent_gender": "other"}, "agent_gender"),
        ({"started_at": "yesterday"}, "started_at"),
        ({"schema_version": 2}, "schema_version"),
        ({"surprise": True}, "surprise"),
        ({"metadata": ["not", "an", "object"]}, "metadata"),
    ],
)
def test_bad_call_finished_is_refused(change: dict, field: str) -> None:
    event = schemas.example("call_finished")
    event.update(change)
    assert not schemas.is_valid("call_finished", event)
    with pytest.raises(schemas.SchemaError) as err:
        schemas.validate("call_finished", event)
    assert err.value.code == "schema_invalid"
    assert field in str(err.value)


def test_missing_required_fields_are_all_named() -> None:
    with pytest.raises(schemas.SchemaError) as err:
        schemas.validate("call_finished", {"schema_version": 1})
    assert "call_id" in str(err.value) and "recording_uri" in str(err.value)


def test_bad_result_is_refused() -> None:
    result = schemas.example("call_result")
    bad = copy.deepcopy(result)
    bad["speakers"][0]["role"] = "supervisor"
    assert not schemas.is_valid("call_result", bad)
    bad = copy.deepcopy(result)
    bad["speakers"][0]["probabilities"]["agent"] = 1.5
    assert not schemas.is_valid("call_result", bad)
    bad = copy.deepcopy(result)
    del bad["call"]["overlap_s"]
    assert not schemas.is_valid("call_result", bad)
    bad = copy.deepcopy(result)
    bad["separation_strategy"] = "magic"
    assert not schemas.is_valid("call_result", bad)


def test_bad_error_event_is_refused() -> None:
    err = schemas.example("call_error")
    for change in ({"code": "Not Snake"}, {"attempt": 0}, {"stage": "nowhere"}):
        bad = {**err, **change}
        assert not schemas.is_valid("call_error", bad)


def test_schemas_are_valid_json_schema_documents() -> None:

    for kind in schemas.KINDS:
        Draft202012Validator.check_schema(schemas.schema(kind))
        json.dumps(schemas.schema(kind))


# ---- the open policy (docs/events.md) ------------------------------------------------------
def _objects(node: object) -> list[dict]:
    """Every object schema (one with properties) in a schema document."""
    found = []
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            found.append(node)
        for value in node.values():
            found += _objects(value)
    elif isinstance(node, list):
        for value in node:
            found += _objects(value)
    return found


@pytest.mark.parametrize("kind", schemas.KINDS)
def test_published_schemas_are_open_and_the_producer_variant_is_closed(kind: str) -> None:
    published = _objects(schemas.schema(kind))
    assert len(published) >= 1
    assert [o for o in published if o.get("additionalProperties") is False] == []
    closed = _objects(schemas.producer_schema(kind))
    assert len(closed) == len(published)
    assert all(o.get("additionalProperties") is not None for o in closed)
    assert "anyOf" not in json.dumps(schemas.producer_schema(kind))


GROWTH = {  # what a later v1 may add: a field at every level that may grow, open-list values
    "field": lambda e: e.update(sentiment={"agent": 0.2}),
    "call figure": lambda e: e["call"].update(hold_s=12.0),
    "model field": lambda e: e["model"].update(quantised=True),
    "speaker field": lambda e: e["speakers"][0].update(pitch_hz=180.0),
    "role_source": lambda e: e["speakers"][0].update(role_source="crm"),
    "separation": lambda e: e.update(separation_strategy="beamforming"),
    "flag": lambda e: e["flags"].append("agent_on_mute"),
    "enrolment": lambda e: e.update(
        enrolment={"agent_id": "A1", "action": "merged", "reason": "r", "origin": "crm"}
    ),
}


@pytest.mark.parametrize("change", GROWTH)
def test_a_consumer_reads_next_years_v1_results_a_producer_may_not_write_them(change: str) -> None:
    event = schemas.example("call_result", "full")
    GROWTH[change](event)
    schemas.validate("call_result", event, strict=False)
    assert not schemas.is_valid("call_result", event)


def test_open_lists_of_errors_and_call_finished_events() -> None:
    error = {**schemas.example("call_error"), "stage": "transcribe", "code": "asr_timeout"}
    assert schemas.is_valid("call_error", error, strict=False)
    assert not schemas.is_valid("call_error", error)
    assert not schemas.is_valid("call_error", {**error, "stage": "decode"})  # unregistered code
    assert schemas.is_valid("call_error", {**error, "stage": "decode", "code": "audio_decode"})
    finished = {**schemas.example("call_finished"), "layout": "stereo-4ch", "priority": 3}
    assert schemas.is_valid("call_finished", finished, strict=False)
    assert not schemas.is_valid("call_finished", finished)  # a worker refuses what it would drop


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("speakers", 0, "role"), "supervisor"),  # roles are closed: another one changes meaning
        (("speakers", 0, "confidence"), "high"),
        (("flags",), ["Not A Flag"]),  # an open list still has a shape
        (("separation_strategy",), 7),
        (("schema_version",), 2),
        (("call", "agent_talk_time_s"), -1),
    ],
)
def test_a_consumer_still_refuses_what_v1_never_allows(path: tuple, value: object) -> None:
    event = schemas.example("call_result", "full")
    node = event
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert not schemas.is_valid("call_result", event, strict=False)
    assert not schemas.is_valid("call_result", event)
    trimmed = schemas.example("call_result")
    del trimmed["speakers"]
    assert not schemas.is_valid("call_result", trimmed, strict=False)
