"""``callroles agents learn`` and ``analyze --agent-id`` as a user runs them (subprocesses, a file
store), on the real Callytics calls of CSR01 and a third call of her voice with a new customer:
the archive teaches her print, and ``analyze`` then decides a real call by it. Bad rows of the
call table (a file that is not there, a call without an agent id, an agent with one call) are
reported and teach nothing; none stops the run."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from callroles.lab.simulate.mixed import mixed_call
from tests.agents.test_recurrence_real import CALLYTICS, READER, _agent_speaker
from tests.agents.test_recurrence_real import pytestmark as needs_real_calls

pytestmark = needs_real_calls


def _callroles(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callroles", *args],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_agents_learn_teaches_the_print_that_analyze_then_decides_by(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    for name in ("Call01", "Call02"):
        shutil.copy(CALLYTICS / f"{name}.wav", archive / f"{name}.wav")
    mixed_call(
        archive / "Call03.wav", CALLYTICS / "CSR01.wav", sorted(READER.glob("*.flac"))[:2],
        agent_id="CSR01", customer_id="2609", seed=3,
    )  # fmt: skip
    shutil.copy(CALLYTICS / "Call02.wav", archive / "lone.wav")
    table = tmp_path / "calls.csv"
    rows = [
        ("Call01", "Call01.wav", "CSR01"),
        ("Call02", "Call02.wav", "CSR01"),
        ("Call03", "Call03.wav", "CSR01"),
        ("gone", "gone.wav", "CSR01"),  # named in the table, not in the archive
        ("orphan", "Call01.wav", ""),  # no agent id
        ("lone", "lone.wav", "A-ONE"),  # an agent with one call
    ]
    with table.open("w", newline="") as fh:
        csv.writer(fh).writerows([("call_id", "file", "agent_id"), *rows])
    store = tmp_path / "voiceprints.json"
    env = {**os.environ, "CALLROLES_VOICEPRINT_STORE": str(store)}

    learnt = _callroles(env, "agents", "learn", str(archive), "--calls", str(table))
    assert learnt.returncode == 0, learnt.stderr[-3000:]
    lines = {ln.split(":")[0].strip(): ln for ln in learnt.stdout.splitlines() if ": " in ln}
    assert "CSR01" in lines and " learnt" in lines["CSR01"], learnt.stdout
    assert "1 call(s) unreadable" in lines["CSR01"]  # gone.wav: reported, the rest still used
    assert "not learnt" in lines["A-ONE"], learnt.stdout  # one call shows no recurrence
    assert "not learnt" in lines["(no agent_id)"], learnt.stdout
    assert "1 of 3 agent(s) learnt" in learnt.stdout
    prints = json.loads(store.read_text())
    assert len(prints) == 1  # CSR01 only: nothing learnt from one call or from no id

    analyzed = _callroles(
        env, "analyze", str(CALLYTICS / "Call01.wav"), "--agent-id", "CSR01", "--json"
    )
    assert analyzed.returncode == 0, analyzed.stderr[-3000:]
    result = json.loads(analyzed.stdout)
    assert {s["role_source"] for s in result["speakers"]} == {"voiceprint"}
    assert result["agent_speaker"] == _agent_speaker(result, CALLYTICS / "Call01.rttm")
