"""The Grafana dashboard only charts metrics a worker really exports (streaming/metrics.py)."""

from __future__ import annotations

import json
import re

from callroles.base.settings import PROJECT_ROOT
from callroles.streaming import metrics

DASHBOARD = PROJECT_ROOT / "deploy" / "grafana" / "callroles-dashboard.json"


def _exported() -> set[str]:
    names: set[str] = set()
    for family in metrics.REGISTRY.collect():
        for sample in family.samples:
            names.add(sample.name)
        names.add(family.name)
    return names


def test_every_metric_in_the_dashboard_is_exported() -> None:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"\bcallroles_[a-z_]+", e)}
    # a labelled metric has no sample until it is first used: give each one a label set
    metrics.CALLS_FAILED.labels("decode", "audio_undecodable")
    metrics.CALL_RETRIES.labels("result")
    metrics.DUPLICATES.labels("done")
    metrics.STAGE_SECONDS.labels("total")
    metrics.CONSUMER_LAG.labels("t", "0")
    metrics.MODEL_INFO.labels("crnn", "v", "CPUExecutionProvider")
    missing = used - _exported()
    assert not missing, f"the dashboard charts metrics no worker exports: {sorted(missing)}"
    assert {
        "callroles_consumer_lag",
        "callroles_calls_failed_total",
        "callroles_model_info",
    } <= used
