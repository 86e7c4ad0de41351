"""The model shipped in the package: every file is there, it loads with no path, and it says
what it was trained on. A packaging loss fails here (nothing is skipped)."""

from __future__ import annotations

import json

from callroles.runtime.scorer import DEFAULT_MODEL, Scorer
from tests.support.models import SHIPPED_FILES, assert_shipped_model


def test_shipped_model_files_are_all_there() -> None:
    assert DEFAULT_MODEL.name == "model.onnx"
    assert DEFAULT_MODEL.parent.name == "default_model"
    for name in SHIPPED_FILES:
        path = DEFAULT_MODEL.parent / name
        assert path.is_file(), f"{path} is missing from the package"
        assert path.stat().st_size > 0, f"{path} is empty"


def test_shipped_default_model_loads_and_is_labelled_synthetic() -> None:
    assert_shipped_model()
    scorer = Scorer.load(None, execution_provider="cpu")
    assert scorer.classes in (
        ("customer", "agent"),
        ("female_customer", "male_customer", "female_agent", "male_agent"),
    )
    report = json.loads((DEFAULT_MODEL.parent / "report.json").read_text())
    assert "SYNTHETIC" in report["what"] and report["evaluation"]
    assert report["export"]["metadata"]["model_version"] == scorer.model_version
    assert report["export"]["parity_max_abs_diff"] <= 1e-4
