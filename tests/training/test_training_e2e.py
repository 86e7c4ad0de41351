"""The debug configuration trains end to end on DBAS output and leaves a complete run folder."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from callroles.base.cli import main
from callroles.export.rebuild import RECIPE, ship
from callroles.models.crnn import RoleModel
from callroles.training.data import TrainingDataError
from callroles.training.model import PAPER_PARAMS
from callroles.training.train import DEBUG_CONFIG, train


def test_run_folder_is_complete(debug_run: Path) -> None:
    for name in (
        "model.keras",
        "meta.json",
        "history.csv",
        "report.json",
        "loss.png",
        "accuracy.png",
        "confusion.png",
    ):
        assert (debug_run / name).is_file(), name
        assert (debug_run / name).stat().st_size > 0
    meta = json.loads((debug_run / "meta.json").read_text())
    assert meta["classes"] == ["customer", "agent"]
    assert meta["param_count"] == PAPER_PARAMS[("gru", 2)]
    assert meta["feature_spec"]["n_mels"] == 96 and meta["feature_fingerprint"]
    assert meta["data"]["train"]["windows"] > 0 and meta["data"]["validation"]["windows"] > 0
    assert 0.0 <= meta["evaluation"]["window_accuracy"] <= 1.0
    report = json.loads((debug_run / "report.json").read_text())
    w, s = report["window"], report["speaker"]
    assert w["windows"] == meta["data"]["validation"]["windows"]
    assert sum(map(sum, w["confusion_matrix"])) == w["windows"]
    assert set(w["per_class"]) == {"customer", "agent"}
    assert s["speakers"] == meta["data"]["validation"]["speakers"]
    for spk in s["per_speaker"]:  # Eq. 4: a mean of softmax outputs is a distribution
        assert abs(sum(spk["probabilities"]) - 1.0) < 1e-3
        assert spk["correct"] == (spk["true"] == spk["predicted"])
    rows = (debug_run / "history.csv").read_text().strip().splitlines()
    assert len(rows) - 1 == meta["training"]["epochs_run"] <= DEBUG_CONFIG.epochs


def test_evaluate_and_compare_commands(
    debug_run: Path, dbas_small: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "evaluate",
                str(debug_run),
                "--data",
                str(dbas_small.out),
                "--split",
                "train",
                "--name",
                "seen",
            ]
        )
        == 0
    )
    assert "speaker accuracy" in capsys.readouterr().out
    rep = json.loads((debug_run / "eval-seen.json").read_text())
    assert rep["data"]["split"] == "train"
    assert (debug_run / "confusion-seen.png").is_file()
    assert main(["compare", str(debug_run.parent)]) == 0
    out = capsys.readouterr().out
    assert "| paper | GRU 2-class | 118,478 | 435 |" in out
    assert f"ours: {debug_run.name}" in out


def test_empty_class_refuses_to_train(dbas_small: Any, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(dbas_small.out / "train", tree / "train")
    shutil.copytree(dbas_small.out / "validation", tree / "validation")
    shutil.rmtree(tree / "validation" / "agent")
    with pytest.raises(TrainingDataError, match="'validation' split has no windows of class"):
        train(tree, tmp_path / "run", DEBUG_CONFIG)


def test_ship_writes_the_whole_default_model_folder(debug_run: Path, tmp_path: Path) -> None:
    """What `default-model rebuild` ships: both graphs, labelled synthetic, recipe and figures."""

    out = tmp_path / "default_model"
    report = ship(debug_run, out, seed=3, recipe=asdict(RECIPE))
    assert (out / "model.onnx").is_file() and (out / "model.stream.onnx").is_file()
    assert "stream" in report.variants
    shipped = json.loads((out / "report.json").read_text())
    assert "SYNTHETIC" in shipped["what"] and shipped["seed"] == 3
    assert shipped["recipe"]["max_per_speaker"] == RECIPE.max_per_speaker
    assert shipped["evaluation"]["window"]["windows"] > 0
    scorer = RoleModel.load(out / "model.onnx", stream_trunk=True)
    assert scorer.stream_session is not None  # the trunk-once graph loads next to the model
