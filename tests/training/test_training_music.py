"""``callroles music train --debug`` end to end: real clips, fit, export, load, score."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from callroles.base.cli import main
from callroles.models.music import MusicModel

pytestmark = pytest.mark.slow


def test_a_debug_music_check_trains_exports_and_loads(tmp_path: Path) -> None:

    out = tmp_path / "music-run"
    assert main(["music", "train", "--out", str(out), "--debug"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["clips"]["train"] == 48 and report["synthetic"] is False
    for name in ("model.keras", "history.json", "music.onnx", "training_curves.png"):
        assert (out / name).stat().st_size > 0, name
    model = MusicModel.load(out / "music.onnx")
    assert model.version == report["model_version"]
    p = model(np.random.default_rng(1).normal(0, 0.02, 8000 * 4).astype(np.float32), 400)
    assert p.shape == (400,) and ((p >= 0) & (p <= 1)).all()
