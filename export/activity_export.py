"""The speaker-count (activity) model, Keras -> ONNX with its metadata and a parity check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import onnx
import onnxruntime as ort

from callroles.export.errors import ParityError
from callroles.export.onnx_export import OPSET, tf2onnx_graph
from callroles.runtime.activity import ACTIVITY_SPEC, CLASSES, MODEL_NAME
from callroles.runtime.metadata import ModelMetadata, write_metadata


def export_activity(
    model_file: Path, dst: Path, evaluation: dict[str, Any], probe: np.ndarray
) -> str:
    """ONNX with callroles metadata; checked against Keras on ``probe`` (1, T, 96). Version."""
    model = keras.models.load_model(model_file)
    proto = tf2onnx_graph(model, OPSET, input_name="logmel")
    meta = ModelMetadata(
        feature_spec=ACTIVITY_SPEC.to_dict(),
        classes=CLASSES,
        rnn="none",
        param_count=int(model.count_params()),
        model_name=MODEL_NAME,
        evaluation=evaluation,
        rnn_export="none",
    )
    stamped = write_metadata(proto, meta)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, dst)
    session = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    got = dict(zip(names, session.run(None, {"logmel": probe}), strict=True))
    want = dict(zip(("count", "change"), model.predict(probe, verbose=0), strict=True))
    gap = max(float(np.abs(got[k] - want[k]).max()) for k in want)
    if gap > 1e-4:
        raise ParityError(f"ONNX and Keras differ by {gap:.2e} on the probe")
    return stamped.model_version
