"""Learning an agent from recurrence on real calls: the two real Callytics calls have the same
agent and, by all appearances, the same customer, so neither voice is known to be the agent's
and nothing is learnt; a third call of the agent (her own 11.8 s sample, cut into turns) with a
new customer (a LibriSpeech reader on a phone line) shows which voice recurs, and all three
calls are then decided by it."""

from __future__ import annotations

from pathlib import Path

import pytest

from callroles.agents.store import FileStore
from callroles.base.settings import SHARED_DATA, Settings
from callroles.bench.evaluation import read_rttm
from callroles.call.pipeline import Models, run_call
from callroles.lab.simulate.mixed import mixed_call

CALLYTICS = SHARED_DATA / "real-calls" / "callytics"
READER = SHARED_DATA / "speakers" / "librispeech" / "test-other" / "2609"
pytestmark = pytest.mark.skipif(
    not CALLYTICS.is_dir() or not READER.is_dir(),
    reason=f"the real evaluation calls are not here ({CALLYTICS}: only in the project's shared "
    "folder, not in a user's clone)",
)


def _agent_speaker(result: dict, rttm: Path) -> str:
    """The found speaker holding most of the reference agent's turns."""
    ref = read_rttm(rttm)
    agent = [s for s, _, who in ref.itertracks(yield_label=True) if who.startswith("agent_")]

    def overlap(spk: dict) -> float:
        return sum(
            max(0.0, min(b, s.end) - max(a, s.start)) for a, b in spk["segments"] for s in agent
        )

    return str(max(result["speakers"], key=overlap)["speaker"])


def test_the_recurring_voice_is_learnt_only_once_it_is_the_only_one(tmp_path: Path) -> None:
    models = Models(Settings())
    store = FileStore(tmp_path / "voiceprints.json")
    third = mixed_call(
        tmp_path / "Call03.wav", CALLYTICS / "CSR01.wav", sorted(READER.glob("*.flac"))[:2],
        agent_id="CSR01", customer_id="2609", seed=3,
    )  # fmt: skip
    calls = {"Call01": CALLYTICS / "Call01.wav", "Call02": CALLYTICS / "Call02.wav"}

    def run(name: str, path: Path) -> dict:
        out = run_call(path, {"call_id": name, "agent_id": "CSR01"}, models, voiceprints=store)
        assert isinstance(out, dict), out
        return out

    first = run("Call01", calls["Call01"])
    assert first["enrolment"]["action"] == "skipped"
    second = run("Call02", calls["Call02"])
    assert second["enrolment"]["action"] == "refused"
    assert second["enrolment"]["reason"].startswith("ambiguous")  # two voices recur: no print
    assert store.get("CSR01") is None

    made = run("Call03", third)
    assert made["enrolment"]["action"] == "enrolled"
    assert made["enrolment"]["reason"] == "recurring"
    assert made["enrolment"]["calls"] == ["Call01", "Call02", "Call03"]
    assert made["agent_speaker"] == _agent_speaker(made, third.with_suffix(".rttm"))
    assert {s["role_source"] for s in made["speakers"]} == {"voiceprint"}
    learnt = store.get("CSR01")
    assert learnt is not None and learnt.learnt_from == "recurring"
    assert store.evidence("CSR01") == []  # the customers' voices go once the print is made

    for name, path in calls.items():  # the earlier calls, decided again by the learnt print
        again = run(name, path)
        assert {s["role_source"] for s in again["speakers"]} == {"voiceprint"}
        assert again["agent_speaker"] == _agent_speaker(again, path.with_suffix(".rttm"))
        assert "enrolment" not in again
