"""The speaker-count (activity) model, Keras -> ONNX with its metadata and a parity check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from callroles.export.frame_export import export_frame_model
from callroles.models.activity import ACTIVITY_SPEC, CLASSES, MODEL_NAME


def export_activity(
    model_file: Path, dst: Path, evaluation: dict[str, Any], probe: np.ndarray
) -> str:
    """ONNX with callroles metadata; checked against Keras on ``probe`` (1, T, 96). Version."""
    return export_frame_model(
        model_file, dst, spec=ACTIVITY_SPEC, classes=CLASSES, model_name=MODEL_NAME,
        evaluation=evaluation, probe=probe,
    )  # fmt: skip
