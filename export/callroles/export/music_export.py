"""The music check, Keras -> ONNX with its metadata and a parity check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from callroles.export.frame_export import export_frame_model
from callroles.models.music import CLASSES, MODEL_NAME, MUSIC_SPEC


def export_music(model_file: Path, dst: Path, evaluation: dict[str, Any], probe: np.ndarray) -> str:
    """ONNX with callroles metadata; checked against Keras on ``probe`` (N, mels, W, 1). Version."""
    return export_frame_model(
        model_file, dst, spec=MUSIC_SPEC, classes=CLASSES, model_name=MODEL_NAME,
        evaluation=evaluation, probe=probe,
    )  # fmt: skip
