"""A small frame model (the activity model, the music check), Keras -> ONNX with its metadata,
checked against Keras on a probe before it is returned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import onnx
import onnxruntime as ort

from callroles.export.errors import ParityError
from callroles.export.onnx_export import OPSET, tf2onnx_graph
from callroles.models.features import FeatureSpec
from callroles.models.metadata import ModelMetadata, write_metadata


def export_frame_model(
    model_file: Path,
    dst: Path,
    *,
    spec: FeatureSpec,
    classes: tuple[str, ...],
    model_name: str,
    evaluation: dict[str, Any],
    probe: np.ndarray,
) -> str:
    """ONNX at ``dst`` with callroles metadata; every output equals Keras' on ``probe``.
    Returns the model version."""
    model = keras.models.load_model(model_file)
    proto = tf2onnx_graph(model, OPSET, input_name="logmel")
    meta = ModelMetadata(
        feature_spec=spec.to_dict(),
        classes=classes,
        rnn="none",
        param_count=int(model.count_params()),
        model_name=model_name,
        evaluation=evaluation,
        rnn_export="none",
    )
    stamped = write_metadata(proto, meta)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, dst)
    session = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    got = dict(zip(names, session.run(None, {"logmel": probe.astype(np.float32)}), strict=True))
    predicted = model.predict(probe, verbose=0)
    want = dict(zip(model.output_names, predicted if len(names) > 1 else [predicted], strict=True))
    if set(got) != set(want):
        raise ParityError(f"ONNX outputs {sorted(got)} are not Keras' {sorted(want)}")
    gap = max(float(np.abs(got[k] - want[k]).max()) for k in want)
    if gap > 1e-4:
        raise ParityError(f"ONNX and Keras differ by {gap:.2e} on the probe")
    return stamped.model_version
