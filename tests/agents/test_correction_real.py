"""A person's correction on a real call (Callytics Call01, agent CSR01), in the runtime.

The correction names a speaker of the published result by its segments; the call computed again
finds that voice, makes it the agent (``role_source`` "correction") and teaches the print under
the usual guards; undoing it takes back what it taught. The worker's side (Kafka, the ledger,
``agents correct`` and ``POST /calls/{id}/correction``): tests/streaming/test_stream_corrections.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callroles.agents.store import FileStore
from callroles.base.settings import Settings
from callroles.call.enrol import enrol
from callroles.call.pipeline import CallFailure, Models, run_call
from tests.agents.test_recurrence_real import CALLYTICS, _agent_speaker
from tests.agents.test_recurrence_real import pytestmark as needs_real_calls

pytestmark = [needs_real_calls, pytest.mark.slow]
CALL = CALLYTICS / "Call01.wav"


@pytest.fixture(scope="module")
def models() -> Models:
    return Models(Settings())


def _run(models: Models, store: FileStore, correction: dict[str, Any] | None = None) -> Any:
    event: dict[str, Any] = {"call_id": "Call01", "agent_id": "CSR01"}
    if correction is not None:
        event["correction"] = correction
    return run_call(CALL, event, models, voiceprints=store)


def _says(result: dict[str, Any], speaker: str, undo: bool = False) -> dict[str, Any]:
    segments = next(s["segments"] for s in result["speakers"] if s["speaker"] == speaker)
    return {"agent_speaker": speaker, "segments": segments, "undo": undo}


def test_a_correction_decides_teaches_under_the_guards_and_is_undone(
    models: Models, tmp_path: Path
) -> None:
    store = FileStore(tmp_path / "voiceprints.json")
    store.put(enrol(models, "CSR01", [CALLYTICS / "CSR01.wav"]))
    enrolled = np.asarray(store.get("CSR01").vector)  # type: ignore[union-attr]
    first = _run(models, store)
    agent = _agent_speaker(first, CALL.with_suffix(".rttm"))
    customer = next(s["speaker"] for s in first["speakers"] if s["speaker"] != agent)
    assert first["agent_speaker"] == agent  # the print decides it right

    wrong = _run(models, store, _says(first, customer))  # a QA person mistakes the customer
    assert wrong["agent_speaker"] == customer
    assert {s["role_source"] for s in wrong["speakers"]} == {"correction"}
    assert {s["confidence"] for s in wrong["speakers"]} == {1.0}
    assert wrong["enrolment"]["action"] == "refused"  # the guard: it contradicts the print
    assert wrong["enrolment"]["reason"] == "contradicts the voiceprint"
    assert np.allclose(store.get("CSR01").vector, enrolled)  # type: ignore[union-attr]

    undone = _run(models, store, _says(first, customer, undo=True))
    assert undone["agent_speaker"] == agent
    assert {s["role_source"] for s in undone["speakers"]} == {"voiceprint"}
    assert undone["enrolment"]["action"] == "skipped"  # it had taught nothing

    right = _run(models, store, _says(first, agent))
    assert right["agent_speaker"] == agent
    assert right["enrolment"]["action"] == "updated"
    assert right["enrolment"]["reason"] == "correction"
    taught = store.get("CSR01")
    assert taught is not None and "Call01" in taught.sources and taught.auto_samples == 1
    assert float(np.asarray(taught.vector) @ enrolled) < 0.9999  # the call's voice moved it

    back = _run(models, store, _says(first, agent, undo=True))
    assert back["enrolment"]["action"] == "withdrawn"
    restored = store.get("CSR01")
    assert restored is not None and "Call01" not in restored.sources
    assert restored.auto_samples == 0
    assert float(np.asarray(restored.vector) @ enrolled) > 0.999  # what it taught, taken back

    lost = _run(models, store, {"agent_speaker": agent, "segments": [[900.0, 960.0]]})
    assert isinstance(lost, CallFailure) and lost.error.code == "correction_lost"


def test_a_correction_enrols_an_agent_with_no_print_and_its_undo_removes_it(
    models: Models, tmp_path: Path
) -> None:
    store = FileStore(tmp_path / "voiceprints.json")
    first = _run(models, store)
    assert {s["role_source"] for s in first["speakers"]} == {"model"}
    agent = _agent_speaker(first, CALL.with_suffix(".rttm"))
    right = _run(models, store, _says(first, agent))
    assert right["agent_speaker"] == agent
    assert right["enrolment"]["action"] == "enrolled"
    made = store.get("CSR01")
    assert made is not None and made.learnt_from == "correction"
    back = _run(models, store, _says(first, agent, undo=True))
    assert back["enrolment"]["action"] == "withdrawn"
    assert store.get("CSR01") is None
