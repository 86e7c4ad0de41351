"""Automatic enrolment: certain calls (stereo with a layout) teach an agent's voiceprint, and the
guards refuse what would poison it. Real stack parts: the front end, the GE2E encoder, a file
store; the calls are the small synthetic corpus' stereo call (agent A004 left)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callroles import schemas
from callroles.agents.store import FileStore
from callroles.base.settings import Settings
from callroles.call.pipeline import Models, load_models, run_call


@pytest.fixture(scope="module")
def models() -> Models:
    return load_models(Settings())


def _calls(corpus: Path) -> dict[str, dict[str, str]]:
    with (corpus / "calls.csv").open(newline="") as fh:
        return {r["call_id"]: r for r in csv.DictReader(fh)}


def _run(
    models: Models, corpus: Path, row: dict[str, str], store: FileStore, **event: Any
) -> dict[str, Any]:
    call = {"call_id": row["call_id"], "agent_id": row["agent_id"], **event}
    out = run_call(corpus / row["file"], call, models, voiceprints=store)
    assert isinstance(out, dict), out
    schemas.validate("call_result", out)
    return out


def test_a_stereo_call_with_a_layout_enrols_its_agent_once(
    models: Models, small_corpus: Path, tmp_path: Path
) -> None:
    store = FileStore(tmp_path / "voiceprints.json")
    rows = _calls(small_corpus)
    stereo = next(r for r in rows.values() if r["channels"] == "2")
    first = _run(models, small_corpus, stereo, store, layout="stereo-agent-left")
    assert {s["role_source"] for s in first["speakers"]} == {"channel"}
    assert first["enrolment"]["action"] == "enrolled"
    print_ = store.get(stereo["agent_id"])
    assert print_ is not None and print_.auto_samples == 1 and print_.sources == [stereo["call_id"]]
    assert print_.speech_s >= 4.0

    again = _run(models, small_corpus, stereo, store, layout="stereo-agent-left")
    assert again["enrolment"] == {
        "agent_id": stereo["agent_id"], "action": "skipped",
        "reason": "call already learnt from", "similarity": None, "samples": 1,
    }  # fmt: skip

    # the same call with the layout the wrong way round: the customer's voice is offered as
    # the agent's, contradicts the print, and is refused; the print is unchanged
    swapped = dict(stereo, call_id="swapped-layout")
    wrong = _run(models, small_corpus, swapped, store, layout="stereo-agent-right")
    assert wrong["enrolment"]["action"] == "refused", wrong["enrolment"]
    assert wrong["enrolment"]["reason"] == "contradicts the voiceprint"
    assert wrong["enrolment"]["similarity"] < 0.84
    after = store.get(stereo["agent_id"])
    assert after is not None and after.vector == print_.vector
    assert after.refused == 1 and "swapped-layout" in after.last_refusal


def test_one_mono_call_leaves_evidence_and_teaches_no_print(
    models: Models, small_corpus: Path, tmp_path: Path
) -> None:
    """A model decision never teaches a print; a mono call of an agent with none leaves its
    voices as evidence, and one call cannot show which voice recurs."""
    store = FileStore(tmp_path / "voiceprints.json")
    mono = next(r for r in _calls(small_corpus).values() if r["channels"] == "1")
    event = _run(models, small_corpus, mono, store)
    assert event["enrolment"]["action"] == "skipped" and store.list() == []
    assert event["enrolment"]["reason"].startswith("no voice recurs yet")
    assert {s["role_source"] for s in event["speakers"]} == {"model"}
    evidence = store.evidence(mono["agent_id"])
    assert [e["call_id"] for e in evidence] == [mono["call_id"]]
    assert len(evidence[0]["voices"]) == len(event["speakers"])
    assert "vector" not in str(event)  # no voice ever travels in a result
    stereo_only = load_models(Settings(auto_enrol="stereo"))
    other = FileStore(tmp_path / "stereo-only.json")
    event = _run(stereo_only, small_corpus, mono, other)
    assert "enrolment" not in event and other.evidence(mono["agent_id"]) == []


def test_auto_enrolment_can_be_switched_off(small_corpus: Path, tmp_path: Path) -> None:
    settings = Settings(auto_enrol="off")
    models = load_models(settings)
    store = FileStore(tmp_path / "voiceprints.json")
    stereo = next(r for r in _calls(small_corpus).values() if r["channels"] == "2")
    call = {"call_id": "c", "agent_id": stereo["agent_id"], "layout": "stereo-agent-left"}
    out = run_call(small_corpus / stereo["file"], call, models, voiceprints=store)
    assert isinstance(out, dict) and "enrolment" not in out
    assert store.list() == [] and np.isfinite(out["duration_s"])
