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
