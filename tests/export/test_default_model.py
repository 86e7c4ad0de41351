"""The model shipped in the package: loads with no path, says what it was trained on."""

from __future__ import annotations

import json

import pytest

from callroles.export.scorer import DEFAULT_MODEL, Scorer


@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no default model shipped yet")
def test_shipped_default_model_loads_and_is_labelled_synthetic() -> None:
    scorer = Scorer.load(None, execution_provider="cpu")
    assert scorer.classes in (
        ("customer", "agent"),
        ("female_customer", "male_customer", "female_agent", "male_agent"),
    )
    report = json.loads((DEFAULT_MODEL.parent / "report.json").read_text())
    assert "SYNTHETIC" in report["what"] and report["evaluation"]
    assert report["export"]["metadata"]["model_version"] == scorer.model_version
    assert report["export"]["parity_max_abs_diff"] <= 1e-4
