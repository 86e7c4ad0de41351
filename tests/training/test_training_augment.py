"""Augmentation perturbs the voice, not the label, and is the same for the same seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from callroles.training.augment import Augment, augment_window, warp_mel
from callroles.training.data import make_dataset, scan_split

NONE = Augment(warp=0.0, gain_db=0.0, time_masks=0, freq_masks=0)


def _window(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(-40, 10, (96, 1000)).astype(np.float32)


def test_warp_by_one_is_identity_and_stretch_moves_energy_up() -> None:
    x = _window()
    np.testing.assert_allclose(warp_mel(x, 1.0), x, atol=1e-5)
    band = np.full((96, 10), -80.0, np.float32)
    band[20:30] = 0.0  # energy in bins 20..29
    up = warp_mel(band, 1.1)  # a longer vocal tract's formants, read as a shorter one's
    centre = lambda m: float((np.arange(96) @ (m[:, 0] + 80)) / (m[:, 0] + 80).sum())  # noqa: E731
    assert centre(up) > centre(band) + 1.5


def test_gain_only_shifts_every_value_by_one_amount_within_range() -> None:
    x = _window()
    y = augment_window(x, np.random.default_rng(3), Augment(warp=0, time_masks=0, freq_masks=0))
    shift = y - x
    assert np.ptp(shift) < 1e-4 and 0 < abs(float(shift.mean())) <= 6.0


def test_masks_fill_with_the_window_floor_and_input_is_untouched() -> None:
    x = _window()
    before = x.copy()
    aug = Augment(warp=0, gain_db=0, time_masks=2, time_mask_frames=80, freq_masks=1)
    y = augment_window(x, np.random.default_rng(5), aug)
    np.testing.assert_array_equal(x, before)
    floor = np.float32(np.percentile(x, 5))
    masked_cols = np.all(y == floor, axis=0)
    assert 0 < masked_cols.sum() <= 160
    assert np.array_equal(augment_window(x, np.random.default_rng(7), NONE), x)


def test_same_seed_same_perturbation_other_seed_other() -> None:
    x = _window()
    a = augment_window(x, np.random.default_rng([1, 4]), Augment())
    b = augment_window(x, np.random.default_rng([1, 4]), Augment())
    c = augment_window(x, np.random.default_rng([2, 4]), Augment())
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_pipeline_augments_windows_keeps_labels_and_repeats_with_the_seed(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for role, n in (("agent", 7), ("customer", 5)):
        d = tmp_path / "train" / role / "female" / f"{role}1"
        d.mkdir(parents=True)
        for i in range(n):
            np.save(d / f"{i}.npy", rng.normal(-40, 10, (96, 1000)).astype(np.float32))
    items = scan_split(tmp_path, "train")

    def first_epoch(seed: int, aug: Augment | None) -> tuple[np.ndarray, np.ndarray]:
        ds = make_dataset(items, 2, batch_size=12, shuffle=True, seed=seed, augment=aug)
        x, y = next(iter(ds))
        return x.numpy(), y.numpy()

    plain_x, plain_y = first_epoch(1, None)
    aug_x, aug_y = first_epoch(1, Augment())
    again_x, _ = first_epoch(1, Augment())
    assert list(aug_y) == list(plain_y)  # same order, same labels
    assert not np.allclose(aug_x, plain_x)
    np.testing.assert_array_equal(aug_x, again_x)
