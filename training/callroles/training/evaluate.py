"""Evaluate a run folder the way the paper reports it (Figures 5-7, Table 4, Eq. 4 and 5).

Window level: accuracy, confusion matrix, per-class precision/recall/F1. Speaker level: the mean
of a speaker's window probabilities (Eq. 4) and its argmax (Eq. 5), which is what the product
outputs per speaker. Curves come from history.csv.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from callroles.base.errors import ModelError
from callroles.training.data import Item, load_window, scan_split, summarize
from callroles.training.labels import class_names, role_of
from callroles.training.runs import read_meta, write_meta


def speaker_level(items: list[Item], probs: np.ndarray, n_classes: int) -> dict[str, Any]:
    """Eq. 4 (mean window probability per speaker) and Eq. 5 (argmax); accuracy over speakers."""
    rows: dict[str, list[int]] = defaultdict(list)
    for i, it in enumerate(items):
        rows[it.speaker].append(i)
    names = class_names(n_classes)
    speakers: list[dict[str, Any]] = []
    for spk in sorted(rows):
        idx = rows[spk]
        mean = probs[idx].mean(axis=0)
        pred, true = int(mean.argmax()), items[idx[0]].label(n_classes)
        speakers.append(
            {
                "speaker": spk,
                "windows": len(idx),
                "true": names[true],
                "predicted": names[pred],
                "probabilities": [round(float(p), 4) for p in mean],
                "correct": pred == true,
                "role_correct": role_of(pred, n_classes) == role_of(true, n_classes),
            }
        )
    n = max(len(speakers), 1)
    return {
        "speakers": len(speakers),
        "accuracy": sum(s["correct"] for s in speakers) / n,
        "role_accuracy": sum(s["role_correct"] for s in speakers) / n,
        "per_speaker": speakers,
    }


def window_metrics(y_true: np.ndarray, probs: np.ndarray, n_classes: int) -> dict[str, Any]:
    """Accuracy, confusion matrix and per-class precision/recall/F1 (the paper's Table 4)."""
    y_pred = probs.argmax(axis=1)
    labels = list(range(n_classes))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    names = class_names(n_classes)
    eps = 1e-7
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y_true)), y_true], eps, 1.0))))
    return {
        "windows": len(y_true),
        "accuracy": float((y_pred == y_true).mean()) if len(y_true) else 0.0,
        "loss": loss,
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "per_class": {
            names[c]: {
                "precision": round(float(p[c]), 4),
                "recall": round(float(r[c]), 4),
                "f1": round(float(f[c]), 4),
                "support": int(s[c]),
            }
            for c in labels
        },
    }


def plot_curves(history_csv: Path, out_dir: Path) -> list[Path]:
    """loss.png and accuracy.png per epoch, train and validation (the paper's Figures 5 and 6)."""
    import matplotlib  # noqa: PLC0415 (matplotlib: loaded only when drawing)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 (matplotlib: loaded only when drawing)

    if not history_csv.is_file():
        return []
    with history_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return []
    epochs = [int(r["epoch"]) + 1 for r in rows]
    written = []
    for metric in ("loss", "accuracy"):
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(epochs, [float(r[metric]) for r in rows], label="train")
        ax.plot(epochs, [float(r[f"val_{metric}"]) for r in rows], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} per epoch")
        ax.legend()
        fig.tight_layout()
        path = out_dir / f"{metric}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def plot_confusion(matrix: list[list[int]], names: list[str], path: Path, title: str) -> Path:
    """Confusion matrix with counts in the cells (the paper's Figure 7)."""
    import matplotlib  # noqa: PLC0415 (matplotlib: loaded only when drawing)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 (matplotlib: loaded only when drawing)

    cm = np.array(matrix)
    fig, ax = plt.subplots(figsize=(1.6 * len(names) + 2, 1.4 * len(names) + 1.5))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    top = cm.max() if cm.size else 0
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            color = "white" if cm[i, j] > top / 2 else "black"
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color=color)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def load_run_model(run_dir: Path) -> Any:
    """The Keras model of a run folder, with a typed error when it is missing or corrupt."""
    import keras  # noqa: PLC0415 (Keras: loaded only to train or export)

    path = Path(run_dir) / "model.keras"
    try:
        return keras.saving.load_model(str(path))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load {path}: {exc}", code="model_unreadable") from exc


def predict_items(model: Any, items: list[Item], batch: int = 64) -> np.ndarray:
    """Window probabilities, loading windows a batch at a time."""
    out = []
    for start in range(0, len(items), batch):
        x = np.stack([load_window(it.path) for it in items[start : start + batch]])
        out.append(np.asarray(model.predict(x, verbose=0)))
    return np.concatenate(out) if out else np.zeros((0, 2), np.float32)


def evaluate_run(
    run_dir: Path,
    data_dir: Path | None = None,
    *,
    split: str = "validation",
    name: str | None = None,
    model: Any = None,
) -> dict[str, Any]:
    """Evaluate a run on a split of a DBAS tree; write the JSON report and the figures.

    Without ``name`` this is the run's own evaluation: report.json, and its figures go into
    meta.json. With a name (another language, another archive) it writes ``eval-<name>.json``.
    """
    run_dir = Path(run_dir)
    meta = read_meta(run_dir)
    n_classes = int(meta["n_classes"])
    names = class_names(n_classes)
    data_dir = Path(data_dir or meta["data"]["dir"])
    if model is None:
        model = load_run_model(run_dir)
    items = scan_split(data_dir, split)
    probs = predict_items(model, items)
    y_true = np.array([it.label(n_classes) for it in items], dtype=np.int64)
    tag = "" if name is None else f"-{name}"
    report: dict[str, Any] = {
        "run": run_dir.name,
        "model": meta["model"],
        "data": {"dir": str(data_dir), "split": split, **summarize(items, n_classes)},
        "window": window_metrics(y_true, probs, n_classes),
        "speaker": speaker_level(items, probs, n_classes),
        "training": meta.get("training", {}),
        "note": "figures measured on the data named above",
    }
    figures = [] if name else [str(p.name) for p in plot_curves(run_dir / "history.csv", run_dir)]
    conf = plot_confusion(
        report["window"]["confusion_matrix"],
        names,
        run_dir / f"confusion{tag}.png",
        f"{meta['model']} on {split}{tag}",
    )
    report["figures"] = [*figures, conf.name]
    out = run_dir / ("report.json" if name is None else f"eval{tag}.json")
    out.write_text(json.dumps(report, indent=2) + "\n")
    if name is None:
        meta["evaluation"] = {
            "window_accuracy": report["window"]["accuracy"],
            "speaker_accuracy": report["speaker"]["accuracy"],
            "speaker_role_accuracy": report["speaker"]["role_accuracy"],
            "f1": {c: v["f1"] for c, v in report["window"]["per_class"].items()},
        }
        write_meta(run_dir, meta)
    return report
