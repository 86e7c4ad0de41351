"""Train the paper's CRNN on a DBAS tree and leave a self-describing run folder.

Adam, early stopping on validation loss with the best weights checkpointed (the paper reports
the best epoch), inverse-frequency class weights, one seed for shuffling and initialisation.
The run folder (model.keras, meta.json, history.csv, report.json, figures) is what `evaluate`,
`compare` and the ONNX export read.
"""

from __future__ import annotations

import logging
import random
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras

from callroles.base.errors import ModelError
from callroles.models.features import DEFAULT_SPEC
from callroles.training.augment import Augment
from callroles.training.data import (
    Item,
    check_classes,
    class_weights,
    make_dataset,
    scan_split,
    summarize,
)
from callroles.training.evaluate import evaluate_run
from callroles.training.labels import class_names
from callroles.training.model import DEFAULT_TRUNK, PAPER_PARAMS, build_crnn, param_report
from callroles.training.runs import write_meta

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of one training run; stored in meta.json."""

    n_classes: int = 2
    rnn: str = "gru"
    epochs: int = 100
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 10
    seed: int = 0
    max_per_speaker: int | None = None  # cap windows per speaker (None: all, as the paper)
    augment: Augment | None = None  # perturb training windows (None: as the paper, no change)
    init_from: str | None = None  # a .keras model whose weights start the run (fine-tuning)


DEBUG_CONFIG = TrainConfig(epochs=2, batch_size=8, patience=1)


def feature_spec_dict() -> tuple[dict[str, Any], str | None]:
    """The front end's DEFAULT_SPEC as a dict and its fingerprint (the scorer checks it)."""
    return DEFAULT_SPEC.to_dict(), DEFAULT_SPEC.fingerprint()


def cap_per_speaker(items: list[Item], cap: int | None, seed: int) -> list[Item]:
    """Keep at most ``cap`` windows per speaker, chosen with the seed (order kept)."""
    if cap is None:
        return items
    by_spk: dict[str, list[Item]] = defaultdict(list)
    for it in items:
        by_spk[it.speaker].append(it)
    rng = random.Random(seed)
    keep: set[Path] = set()
    for spk in sorted(by_spk):
        group = by_spk[spk]
        keep.update(it.path for it in (rng.sample(group, cap) if len(group) > cap else group))
    return [it for it in items if it.path in keep]


def start_from(model: Any, path: Path) -> None:
    """Copy a trained model's weights into ``model`` (fine-tuning); refuse another shape."""
    try:
        base = keras.saving.load_model(str(path), compile=False)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the base model {path}: {exc}", code="model_corrupt") from exc
    mine = [tuple(w.shape) for w in model.get_weights()]
    theirs = [tuple(w.shape) for w in base.get_weights()]
    if mine != theirs:
        raise ModelError(
            f"the base model {path} has another architecture ({base.count_params()} parameters, "
            f"this run {model.count_params()}): fine-tune with the same --classes and --rnn",
            code="model_mismatch",
        )
    model.set_weights(base.get_weights())


def train(
    data_dir: Path,
    run_dir: Path,
    config: TrainConfig = TrainConfig(),
    *,
    evaluate: bool = True,
) -> Path:
    """Train one model; return the run folder. Evaluates on the validation split at the end."""
    keras.utils.set_random_seed(config.seed)
    names = class_names(config.n_classes)
    train_items = cap_per_speaker(
        scan_split(data_dir, "train"), config.max_per_speaker, config.seed
    )
    val_items = scan_split(data_dir, "validation")
    counts = check_classes(train_items, config.n_classes, "train")
    check_classes(val_items, config.n_classes, "validation")
    weights = class_weights(counts, config.n_classes)

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    model = build_crnn(config.n_classes, config.rnn)
    if config.init_from:
        start_from(model, Path(config.init_from))
    print(param_report(model, config.n_classes, config.rnn), flush=True)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=False,  # XLA compile time dominates short CPU runs
    )
    train_ds = make_dataset(
        train_items,
        config.n_classes,
        batch_size=config.batch_size,
        shuffle=True,
        seed=config.seed,
        augment=config.augment,
    )
    val_ds = make_dataset(val_items, config.n_classes, batch_size=config.batch_size)
    callbacks = [
        keras.callbacks.ModelCheckpoint(
            str(run_dir / "model.keras"), monitor="val_loss", save_best_only=True
        ),
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.patience, restore_best_weights=True
        ),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv")),
    ]
    started = time.time()
    history = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config.epochs,
        class_weight=weights,
        callbacks=callbacks,
        verbose=1 if sys.stdout.isatty() else 2,
    )
    val_loss = history.history["val_loss"]
    best = min(range(len(val_loss)), key=val_loss.__getitem__)
    spec, fingerprint = feature_spec_dict()
    meta: dict[str, Any] = {
        "name": run_dir.name,
        "model": f"crnn_{config.rnn}_{config.n_classes}",
        "classes": names,
        "rnn": config.rnn,
        "n_classes": config.n_classes,
        "param_count": int(model.count_params()),
        "paper_param_count": PAPER_PARAMS[(config.rnn, config.n_classes)],
        "trunk": DEFAULT_TRUNK.to_dict(),
        "feature_spec": spec,
        "feature_fingerprint": fingerprint,
        "input_shape": [96, 1000],
        "config": asdict(config),
        "data": {
            "dir": str(Path(data_dir).resolve()),
            "train": summarize(train_items, config.n_classes),
            "validation": summarize(val_items, config.n_classes),
            "class_weights": {names[c]: round(w, 4) for c, w in weights.items()},
        },
        "training": {
            "epochs_run": len(val_loss),
            "best_epoch": best + 1,
            "train_accuracy": float(history.history["accuracy"][best]),
            "validation_accuracy": float(history.history["val_accuracy"][best]),
            "validation_loss": float(val_loss[best]),
            "seconds": round(time.time() - started, 1),
        },
    }
    write_meta(run_dir, meta)
    if evaluate:
        evaluate_run(run_dir, data_dir, split="validation", model=model)
    return run_dir
