"""Score windows with a fresh ONNX Runtime session: the export's checks (parity, variants).

Serving uses :class:`callroles.models.crnn.RoleModel`; this is the small, uncached runner the
export steps compare against Keras and against each other.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort

INPUT_NAME = "windows"  # the role model's input, as the scorer reads it from the graph


def run_onnx(proto: onnx.ModelProto, windows: np.ndarray, batch: int = 64) -> np.ndarray:
    """Score ``windows`` with a fresh CPU ONNX Runtime session (for checks, not for serving)."""
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    out = [
        sess.run(None, {INPUT_NAME: windows[i : i + batch].astype(np.float32)})[0]
        for i in range(0, len(windows), batch)
    ]
    return np.concatenate(out)
