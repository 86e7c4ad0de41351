"""The worker's /ready and /live logic on a real Faust app, driven by Faust's own rebalance
signals (the pages on a running worker, in a container: tests/deploy/test_image.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import faust
from faust.types import TP

from callroles.streaming import probes

TOPIC = "callroles.call-finished.v1"


def test_ready_only_between_an_assignment_and_the_next_rebalance(tmp_path: Path) -> None:
    app = faust.App("probes-test", broker="kafka://127.0.0.1:9", datadir=str(tmp_path))
    state = probes.install(app, TOPIC)
    ready, body = state.report(app)
    assert not ready and body["assignments"] == 0  # not yet a member with an assignment

    mine = {TP(TOPIC, 2), TP(TOPIC, 0), TP("probes-test-__assignor-__leader", 0)}
    asyncio.run(app.on_partitions_assigned.send(mine))
    ready, body = state.report(app)
    assert ready and body["partitions"] == [0, 2] and body["group"] == "probes-test"

    asyncio.run(app.on_partitions_revoked.send(mine))  # a rebalance starts
    assert not state.report(app)[0]
    asyncio.run(app.on_partitions_assigned.send(set()))  # more workers than partitions
    ready, body = state.report(app)
    assert ready and body["partitions"] == [] and body["assignments"] == 2

    app.rebalancing = True
    assert not state.report(app)[0]
    app.rebalancing = False
    assert state.report(app)[0]


def test_probe_pages_are_routed_on_the_workers_web_server(tmp_path: Path) -> None:
    app = faust.App("probes-pages", broker="kafka://127.0.0.1:9", datadir=str(tmp_path))
    probes.install(app, TOPIC)
    paths = {view.view_path for view in app.web.views.values()}
    assert {"/live", "/ready"} <= paths
