"""``callroles activity train --debug`` end to end: features, labels, fit, export, load, use."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from callroles.base.cli import main
from callroles.base.settings import get_settings
from callroles.call.pipeline import Models, front_end
from callroles.models.activity import ActivityModel

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def debug_run(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:

    out = tmp_path_factory.mktemp("activity-run")
    args = ["activity", "train", "--corpus", str(small_corpus), "--limit", "3"]
    args += ["--val-corpus", str(small_corpus), "--val-limit", "1", "--out", str(out), "--debug"]
    assert main(args) == 0
    return out


def test_run_folder_is_complete(debug_run: Path) -> None:
    report = json.loads((debug_run / "report.json").read_text())
    assert report["synthetic"] is True and report["train_calls"] == 3  # 3 mono calls of 3
    assert report["epochs_run"] == 2 and len(report["model_version"]) == 12
    for name in ("model.keras", "history.json", "activity.onnx", "training_curves.png"):
        assert (debug_run / name).stat().st_size > 0, name
    assert list((debug_run / "features").rglob("*.npz")), "features are cached for the next run"


def test_exported_model_loads_and_serves_the_front_end(debug_run: Path, small_corpus: Path) -> None:

    model = ActivityModel.load(debug_run / "activity.onnx")
    act = model(np.zeros(8000 * 5, np.float32))
    assert act.count.shape == (501, 3) and np.allclose(act.count.sum(1), 1.0, atol=1e-4)
    settings = get_settings().model_copy(
        update={"activity_model_path": debug_run / "activity.onnx"}
    )
    result = front_end(small_corpus / "audio" / "call00002.gsm", models=Models(settings))
    assert "activity" in result.timings and len(result.speakers) == 2
