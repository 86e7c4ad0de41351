"""Labels come from folder names; the pipeline reads them; bad trees fail with clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from callroles.training.data import (
    TrainingDataError,
    check_classes,
    class_weights,
    load_window,
    make_dataset,
    scan_split,
    summarize,
)
from callroles.training.labels import class_names, label_of, role_of


def make_tree(root: Path, spec: dict[tuple[str, str, str, str], int], seed: int = 0) -> Path:
    """spec: (split, role, gender, speaker) -> windows. Window values encode the label."""
    rng = np.random.default_rng(seed)
    for (split, role, gender, spk), n in spec.items():
        d = root / split / role / gender / spk
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            x = rng.normal(-40, 5, (96, 1000)).astype(np.float32)
            x[0, 0] = label_of(role, gender, 4)  # the label, to check the pipeline's pairing
            np.save(d / f"{i}.npy", x)
    return root


FULL = {
    ("train", "agent", "female", "A1"): 5,
    ("train", "agent", "male", "A2"): 4,
    ("train", "customer", "female", "+901"): 2,
    ("train", "customer", "male", "+902"): 1,
    ("validation", "agent", "female", "A3"): 2,
    ("validation", "agent", "male", "A4"): 1,
    ("validation", "customer", "female", "+903"): 1,
    ("validation", "customer", "male", "+904"): 1,
}


def test_labels_follow_table_3() -> None:
    assert class_names(2) == ["customer", "agent"]
    assert class_names(4) == ["female_customer", "male_customer", "female_agent", "male_agent"]
    assert label_of("customer", "male", 2) == 0 and label_of("agent", "female", 2) == 1
    assert [label_of(r, g, 4) for r in ("customer", "agent") for g in ("female", "male")] == [
        0,
        1,
        2,
        3,
    ]
    assert role_of(3, 4) == "agent" and role_of(1, 4) == "customer" and role_of(0, 2) == "customer"


def test_labels_from_folders_through_tf_data(tmp_path: Path) -> None:
    root = make_tree(tmp_path, FULL)
    items = scan_split(root, "train")
    assert len(items) == 12
    assert {it.speaker for it in items} == {"A1", "A2", "+901", "+902"}
    for n_classes in (2, 4):
        counts = check_classes(items, n_classes, "train")
        ds = make_dataset(items, n_classes, batch_size=5, shuffle=True, seed=1)
        seen = 0
        for x, y in ds:
            assert x.shape[1:] == (96, 1000)
            four = x.numpy()[:, 0, 0].astype(int)
            want = four if n_classes == 4 else (four >= 2).astype(int)
            assert list(y.numpy()) == list(want)
            seen += len(y)
        assert seen == 12
        assert sum(counts.values()) == 12
    weights = class_weights(check_classes(items, 2, "train"), 2)
    assert weights[0] > weights[1]  # 3 customer windows against 9 agent windows
    assert summarize(items, 4)["per_class"]["female_agent"] == {"windows": 5, "speakers": 1}


def test_empty_class_is_named(tmp_path: Path) -> None:
    spec = {k: v for k, v in FULL.items() if k[1] != "customer" or k[0] != "train"}
    root = make_tree(tmp_path, spec)
    with pytest.raises(TrainingDataError, match="no windows of class.*customer"):
        check_classes(scan_split(root, "train"), 2, "train")


def test_bad_trees(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match="no 'train' folder"):
        scan_split(tmp_path, "train")
    (tmp_path / "train" / "boss" / "female" / "X").mkdir(parents=True)
    np.save(tmp_path / "train" / "boss" / "female" / "X" / "0.npy", np.zeros((96, 1000)))
    with pytest.raises(TrainingDataError, match="unexpected folder"):
        scan_split(tmp_path, "train")


def test_unreadable_window_names_the_file(tmp_path: Path) -> None:
    root = make_tree(tmp_path, FULL)
    bad = root / "train" / "agent" / "female" / "A1" / "0.npy"
    bad.write_bytes(b"not a numpy file")

    with pytest.raises(TrainingDataError, match="0.npy"):
        load_window(bad)
