"""The tf.data pipeline over the DBAS tree, labels from folder names (the paper's Section 3.1).

Tree: ``<train|validation>/<agent|customer>/<female|male>/<speakerId>/<n>.npy``, each file one
(96, 1000) float32 log-mel window. Files are listed once, shuffled with a seed, and loaded
lazily, so a tree larger than memory trains too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from callroles.base.errors import InputError
from callroles.training.augment import Augment, augment_window
from callroles.training.labels import GENDERS, ROLES, class_names, label_of

SPLITS = ("train", "validation")


class TrainingDataError(InputError):
    """A dataset tree that cannot be trained or evaluated on (missing, empty, a class empty)."""

    code = "training_data"
    stage = "training"


@dataclass(frozen=True)
class Item:
    """One window file and what its folders say about it."""

    path: Path
    role: str
    gender: str
    speaker: str

    def label(self, n_classes: int) -> int:
        return label_of(self.role, self.gender, n_classes)


def scan_split(root: Path, split: str) -> list[Item]:
    """Every window of one split, sorted by path (so the order never depends on the disk)."""
    base = Path(root) / split
    if not base.is_dir():
        raise TrainingDataError(
            f"no {split!r} folder in {root}: expected {root}/{split}/<agent|customer>/"
            "<female|male>/<speakerId>/<n>.npy (build one with `callroles dataset build`)"
        )
    items: list[Item] = []
    for path in sorted(base.glob("*/*/*/*.npy")):
        speaker_dir = path.parent
        gender, role = speaker_dir.parent.name, speaker_dir.parent.parent.name
        if role not in ROLES or gender not in GENDERS:
            raise TrainingDataError(
                f"unexpected folder in the dataset tree: {path.relative_to(base)} "
                f"(role must be one of {ROLES}, gender one of {GENDERS})"
            )
        items.append(Item(path, role, gender, speaker_dir.name))
    return items


def check_classes(items: list[Item], n_classes: int, split: str) -> Counter[int]:
    """Count windows per class; an empty split or class is an error that names the class."""
    if not items:
        raise TrainingDataError(f"the {split!r} split has no .npy windows")
    counts = Counter(it.label(n_classes) for it in items)
    names = class_names(n_classes)
    empty = [names[c] for c in range(n_classes) if counts[c] == 0]
    if empty:
        raise TrainingDataError(
            f"the {split!r} split has no windows of class(es) {', '.join(empty)}: "
            f"{n_classes}-class training needs every class (counts: "
            + ", ".join(f"{names[c]}={counts[c]}" for c in range(n_classes))
            + ")"
        )
    return counts


def class_weights(counts: Counter[int], n_classes: int) -> dict[int, float]:
    """Inverse-frequency weights (total / (classes * count)): agents have many windows each."""
    total = sum(counts.values())
    return {c: total / (n_classes * counts[c]) for c in range(n_classes)}


def summarize(items: list[Item], n_classes: int) -> dict[str, Any]:
    """Windows and speakers per class: the data summary stored in meta.json."""
    names = class_names(n_classes)
    per: dict[str, dict[str, int]] = {}
    for c, name in enumerate(names):
        sel = [it for it in items if it.label(n_classes) == c]
        per[name] = {"windows": len(sel), "speakers": len({it.speaker for it in sel})}
    return {
        "windows": len(items),
        "speakers": len({it.speaker for it in items}),
        "hours": round(len(items) * 10 / 3600, 3),
        "per_class": per,
    }


def load_window(path: Path | str | bytes) -> np.ndarray:
    """Read one window and check its shape, so a stray file fails with its name."""
    name = path.decode() if isinstance(path, bytes) else str(path)
    try:
        arr = np.load(name, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise TrainingDataError(f"cannot read window {name}: {exc}") from exc
    if arr.ndim != 2:
        raise TrainingDataError(f"window {name} has shape {arr.shape}, expected (n_mels, frames)")
    return arr.astype(np.float32, copy=False)


def make_dataset(
    items: list[Item],
    n_classes: int,
    *,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int = 0,
    shape: tuple[int, int] = (96, 1000),
    augment: Augment | None = None,
) -> Any:
    """A batched ``tf.data.Dataset`` of (window, label), shuffled per epoch when asked.

    With ``augment``, element ``i`` of an epoch is perturbed with a generator seeded by
    ``(seed, i)``; the shuffle pairs a window with a different perturbation every epoch.
    """
    import tensorflow as tf  # noqa: PLC0415 (TensorFlow: loaded only to train or export)

    paths = [str(it.path) for it in items]
    labels = np.array([it.label(n_classes) for it in items], dtype=np.int32)
    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    if shuffle:
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)

    def _load(path: Any, label: Any) -> tuple[Any, Any]:
        x = tf.numpy_function(load_window, [path], tf.float32)
        x.set_shape(shape)
        return x, label

    ds = ds.map(_load, num_parallel_calls=2, deterministic=True)
    if augment is not None:
        aug = augment

        def _perturb(x: np.ndarray, index: np.int64) -> np.ndarray:
            return augment_window(x, np.random.default_rng([seed, int(index)]), aug)

        def _augment(index: Any, xy: tuple[Any, Any]) -> tuple[Any, Any]:
            x = tf.numpy_function(_perturb, [xy[0], index], tf.float32)
            x.set_shape(shape)
            return x, xy[1]

        ds = ds.enumerate().map(_augment, num_parallel_calls=2, deterministic=True)
    return ds.batch(batch_size).prefetch(2)


def load_arrays(items: list[Item]) -> np.ndarray:
    """All windows of a split in memory (evaluation of a validation set)."""
    if not items:
        return np.zeros((0, 96, 1000), np.float32)
    return np.stack([load_window(it.path) for it in items])
