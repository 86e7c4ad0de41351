"""Model rollout on a running worker: ``kill -HUP`` loads the model file again.

One real worker on the test stack scores with a copy of the shipped model. Calls are submitted;
while they are in flight the model files are replaced by another version (an untrained CRNN,
which is enough here: the test checks versions and counts, not roles) and the worker gets
SIGHUP. Every call must get exactly one result, each naming the version it was scored with;
calls submitted afterwards use the new version. Then a damaged model file is rolled out: the
worker refuses it, says so in its log, and keeps serving the version it had.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from callroles.lab.settings import StackSettings
from callroles.models.crnn import RoleModel
from callroles.models.trunk import stream_path
from callroles.streaming.topics import create_topics
from tests.support import calls
from tests.support.models import assert_shipped_model, untrained_model
from tests.support.workers import Workers, stack_env

pytestmark = [pytest.mark.services, pytest.mark.slow]


def _install(src: Path, dst: Path) -> str:
    """Copy a model and its trunk-once graph over ``dst`` (graph first, as an operator would);
    return the version."""
    shutil.copyfile(stream_path(src), stream_path(dst))
    shutil.copyfile(src, dst)
    return RoleModel.load(src, execution_provider="cpu").model_version


@pytest.fixture(scope="module")
def rollout(
    stack: StackSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[StackSettings, Workers, Path, list[Path]]]:
    scratch = tmp_path_factory.mktemp("rollout")
    settings = stack.model_copy(
        update={"topic_prefix": f"roll{uuid.uuid4().hex[:8]}.", "partitions": 1}
    )
    asyncio.run(create_topics(settings))
    model = scratch / "models" / "model.onnx"
    model.parent.mkdir()
    _install(assert_shipped_model(), model)
    recordings = calls.make_calls(scratch / "calls", 4, "roll")
    env = stack_env(
        settings,
        CALLROLES_MODEL_PATH=str(model),
        CALLROLES_ALLOWED_ROOTS=f'["{scratch}"]',
        CALLROLES_PARTITIONS="1",
        OMP_NUM_THREADS="1",
    )
    group = Workers(settings, env, scratch, count=1)
    try:
        group.start(0)
        group.wait_ready([0])
        yield settings, group, model, recordings
    finally:
        group.stop()


def _wait_log(group: Workers, text: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in group.text(0):
            return
        time.sleep(0.5)
    pytest.fail(f"no {text!r} in the worker log:\n{group.text(0)[-3000:]}")


def _submit(settings: StackSettings, ids: list[str], recordings: list[Path]) -> None:
    events = [(c, calls.event(c, recordings[i % len(recordings)])) for i, c in enumerate(ids)]
    calls.submit(settings, events)


def test_sighup_rolls_a_new_version_out_without_losing_or_doubling_a_call(
    rollout: tuple[StackSettings, Workers, Path, list[Path]],
) -> None:
    settings, group, model, recordings = rollout
    old = RoleModel.load(model, execution_provider="cpu").model_version
    proc = group.procs[0]
    assert proc is not None
    first = [f"roll-a-{i}" for i in range(6)]
    _submit(settings, first, recordings)
    _wait_log(group, " done in ")  # the first call is answered; the rest are queued or running
    new = _install(untrained_model(), model)
    assert new != old
    proc.send_signal(signal.SIGHUP)
    _wait_log(group, f"model rolled out: {old} -> {new}")
    got = calls.gather(settings, set(first), timeout_s=420, linger_s=10)
    results = [e for k, e in got if k == "call_result"]
    assert Counter(r["call_id"] for r in results) == Counter(first), got  # none lost, none twice
    versions = {r["call_id"]: r["model"]["version"] for r in results}
    print(f"rollout {old} -> {new} with 6 calls in flight: {Counter(versions.values())}")
    assert set(versions.values()) <= {old, new}
    assert versions["roll-a-0"] == old  # answered before the rollout
    later = [f"roll-b-{i}" for i in range(2)]
    _submit(settings, later, recordings)
    got = calls.gather(settings, set(later), timeout_s=300, linger_s=5)
    assert {e["model"]["version"] for k, e in got if k == "call_result"} == {new}
    assert len(got) == len(later)


def test_a_damaged_model_is_refused_and_the_worker_keeps_its_version(
    rollout: tuple[StackSettings, Workers, Path, list[Path]],
) -> None:
    settings, group, model, recordings = rollout
    serving = RoleModel.load(model, execution_provider="cpu").model_version
    data = bytearray(model.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # a damaged copy: checksum fails
    model.write_bytes(bytes(data))
    proc = group.procs[0]
    assert proc is not None
    proc.send_signal(signal.SIGHUP)
    _wait_log(group, f"model rollout refused, still serving {serving}")
    ids = ["roll-c-0"]
    _submit(settings, ids, recordings)
    got = calls.gather(settings, set(ids), timeout_s=300, linger_s=5)
    assert [(k, e["model"]["version"]) for k, e in got] == [("call_result", serving)]
    assert group.alive() == [True]
