"""``callroles demo`` end to end: real stack, real worker subprocess, real model, real calls."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from callroles.lab.demo_worker import model_missing, worker_available
from callroles.lab.settings import StackSettings
from callroles.report import tables
from callroles.schemas import validate
from tests.support.models import assert_shipped_model

pytestmark = [pytest.mark.slow, pytest.mark.services]


def test_demo_end_to_end(stack: StackSettings, tmp_path: Path, reference_dir: Path) -> None:
    # the worker and the shipped model are part of the package: their absence is a failure
    why = worker_available() or model_missing(stack)
    assert why is None, why
    assert_shipped_model()
    out = tmp_path / "demo"
    env = dict(os.environ)
    env.update(
        CALLROLES_KAFKA_PORT=str(stack.kafka_port),
        CALLROLES_KAFKA_CONTROLLER_PORT=str(stack.kafka_controller_port),
        CALLROLES_REDIS_PORT=str(stack.redis_port),
        CALLROLES_TOPIC_PREFIX=f"test-demo-{uuid.uuid4().hex[:8]}.",
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "callroles",
            "demo",
            str(reference_dir / "lamartine.wav"),  # a user's own file (no truth)
            "--out",
            str(out),
            "--no-progress",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    printed = proc.stdout
    assert proc.returncode == 0, printed[-4000:] + proc.stderr[-4000:]

    calls = [line.split(",")[0] for line in (out / "corpus" / "calls.csv").read_text().splitlines()]
    calls = calls[1:]
    assert len(calls) == 5
    results = [validate("call_result", json.loads(x)) for x in (out / "results.jsonl").open()]
    # each run gives the generated calls fresh ids (<corpus id>-<run id>), mapped to their truth
    assert sorted(tables.truth_id(r) for r in results) == sorted([*calls, "lamartine"])
    run_ids = {r["call_id"].rsplit("-", 1)[1] for r in results if r["call_id"] != "lamartine"}
    assert len(run_ids) == 1
    for r in results:
        assert f"call {r['call_id']} " in printed  # a table per call
    assert printed.count("roles right for") == 5  # each generated call met its truth
    # the demo enrols its generated agents first: every mono call's roles come from the
    # voiceprint, the same-gender call included (synthetic voices; real calls: README,
    # voiceprints); the stereo call's from its layout's channel, which also teaches the print
    assert printed.count("roles right for 2/2 speakers") == 5, printed[-4000:]
    generated = [r for r in results if r["call_id"] != "lamartine"]
    for r in generated:
        source = "channel" if r["separation_strategy"] == "stereo" else "voiceprint"
        assert {s["role_source"] for s in r["speakers"]} == {source}, r["speakers"]
    stereo = [r for r in generated if r["separation_strategy"] == "stereo"]
    assert [r["enrolment"]["action"] for r in stereo] == ["updated"]
    prints = json.loads((out / "voiceprints.json").read_text())
    assert sorted(p["agent_id"] for p in prints.values()) == sorted(
        {r["agent_id"] for r in results if r.get("agent_id")}
    )
    assert any(r["separation_strategy"] == "stereo" for r in results)
    page = (out / "index.html").read_text()
    assert page.count('<tbody class="call"') == 6
    # it stopped the worker it started
    pid = int(re.search(r"worker stopped \(pid (\d+)", printed).group(1))  # type: ignore[union-attr]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
