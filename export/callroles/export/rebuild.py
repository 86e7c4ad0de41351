"""Rebuild the shipped default model from a seed: simulate -> DBAS dataset -> train -> export.

Every step is the project's own public function with the seed passed down, so the same seed and
recipe give the same corpus, the same dataset split and the same initialisation. The model is
trained on *synthetic* calls (TTS voices over a simulated phone line); report.json says so, and
what that means for real calls is in export/README.md.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras

from callroles.export.onnx_export import ExportReport
from callroles.export.runs import export_run
from callroles.lab.simulate import generate_corpus
from callroles.models.crnn import DEFAULT_MODEL
from callroles.training.augment import Augment
from callroles.training.dataset import BuildOptions, build_dataset
from callroles.training.train import TrainConfig, train

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipe:
    """What the default model is trained on; change it and the model changes."""

    calls: int = 160
    preset: str = "default"
    n_classes: int = 2
    rnn: str = "gru"
    epochs: int = 15
    batch_size: int = 32
    patience: int = 5
    max_per_speaker: int | None = 12  # agents recur: cap their windows (training/README.md)
    augment: bool = False  # opt-in; it gave no gain across languages (training/README.md)
    random_paths: bool = True  # each party's path drawn at random: learn roles, not our line
    # voices, lines and sounds (docs/simulate.md). Adding Piper, varied lines and Debian sounds
    # was tried on 2026-12-01 (seed 2028) and did not help on held-out voices (docs/roles.md,
    # "Training on more sources"), so the shipped recipe keeps the first sources.
    engines: tuple[str, ...] = ("espeak", "festival")
    lines: str = "classic"
    sounds: str = "synthetic"


RECIPE = Recipe()


def ship(run_dir: Path, out_dir: Path, *, seed: int | None, recipe: dict[str, Any]) -> ExportReport:
    """Export a trained run into ``out_dir``: model.onnx, report.json, and model.keras (the
    weights ``callroles adapt`` fine-tunes from; the runtime never reads it)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report = export_run(run_dir, out_dir / "model.onnx")  # writes model.stream.onnx too
    shutil.copyfile(run_dir / "model.keras", out_dir / "model.keras")
    (out_dir / "model.report.json").unlink(missing_ok=True)  # folded into report.json below
    run_report_path = run_dir / "report.json"
    evaluation = json.loads(run_report_path.read_text()) if run_report_path.is_file() else {}
    shipped = {
        "what": "callroles default model: the paper's CRNN trained on a SYNTHETIC corpus",
        "caveat": (
            "trained and evaluated on generated calls (TTS voices, simulated phone line); "
            "accuracy on real call-center recordings is unknown and likely lower; retrain on "
            "your own archive (callroles dataset build, train, export)"
        ),
        "seed": seed,
        "recipe": recipe,
        "run": run_dir.name,
        "export": json.loads(report.to_json()),
        "evaluation": evaluation,
    }
    (out_dir / "report.json").write_text(json.dumps(shipped, indent=2) + "\n")
    return report


def rebuild(
    seed: int,
    *,
    work: Path,
    out_dir: Path | None = None,
    calls: int | None = None,
    epochs: int | None = None,
    workers: int | None = None,
    random_paths: bool | None = None,
    sources: dict[str, Any] | None = None,
) -> ExportReport:
    """The whole chain; resumable (the corpus and dataset phases reuse what they find).
    ``sources`` overrides the recipe's engines, lines and sounds."""
    recipe = Recipe(**{**asdict(RECIPE), **({"calls": calls} if calls else {})})
    recipe = Recipe(**{**asdict(recipe), **({"epochs": epochs} if epochs else {})})
    if random_paths is not None:
        recipe = Recipe(**{**asdict(recipe), "random_paths": random_paths})
    if sources:
        recipe = Recipe(**{**asdict(recipe), **{k: v for k, v in sources.items() if v}})
    out_dir = out_dir or DEFAULT_MODEL.parent
    corpus, data, run = work / "corpus", work / "dataset", work / "runs" / f"default-seed{seed}"
    keras.config.disable_interactive_logging()
    started = time.time()
    if not (corpus / "calls.csv").is_file():
        log.info("simulating %d calls (seed %d)", recipe.calls, seed)
        generate_corpus(
            corpus,
            calls=recipe.calls,
            seed=seed,
            preset=recipe.preset,
            progress=True,
            random_paths=recipe.random_paths,
            engines=recipe.engines,
            lines=recipe.lines,
            sounds=recipe.sounds,
        )
    log.info("building the DBAS dataset")
    build_dataset(
        corpus,
        corpus / "calls.csv",
        data,
        BuildOptions(seed=seed, progress=True, workers=workers or min(2, os.cpu_count() or 1)),
    )
    config = TrainConfig(
        n_classes=recipe.n_classes,
        rnn=recipe.rnn,
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        patience=recipe.patience,
        seed=seed,
        max_per_speaker=recipe.max_per_speaker,
        augment=Augment() if recipe.augment else None,
    )
    train(data, run, config)
    report = ship(run, out_dir, seed=seed, recipe=asdict(recipe))
    log.info("default model rebuilt in %.0f s: %s", time.time() - started, report.path)
    return report
