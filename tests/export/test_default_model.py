"""The model shipped in the package: every file is there, it loads with no path, and it says
what it was trained on. A packaging loss fails here (nothing is skipped)."""

from __future__ import annotations

import json

from callroles.bench.channel_bench import channel_gap, probe_voices, summary
from callroles.models.crnn import DEFAULT_MODEL, RoleModel
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
    scorer = RoleModel.load(None, execution_provider="cpu")
    assert scorer.classes in (
        ("customer", "agent"),
        ("female_customer", "male_customer", "female_agent", "male_agent"),
    )
    report = json.loads((DEFAULT_MODEL.parent / "report.json").read_text())
    assert "SYNTHETIC" in report["what"] and report["evaluation"]
    assert report["export"]["metadata"]["model_version"] == scorer.model_version
    assert report["export"]["parity_max_abs_diff"] <= 1e-4


def test_the_channel_alone_does_not_decide_the_shipped_models_role() -> None:
    """Issue 18: the same words by the same voice, through the simulator's agent headset and
    its customer phone line, get about the same P(agent). The first shipped model (agents
    always on a headset in training) gave the headset 1.00 and the phone 0.00 for every voice
    (bench/results/channel.json); the model retrained with random paths must not."""

    rows = channel_gap(RoleModel.load(None, execution_provider="cpu"), probe_voices(1))
    assert len(rows) == 6  # one female and one male voice per language
    assert summary(rows)["mean_abs_gap"] < 0.5, rows
