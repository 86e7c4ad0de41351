"""Install step: inaSpeechSegmenter's two CNNs, Keras .hdf5 -> ONNX, with a parity check.

Conversion needs TensorFlow with legacy Keras (``tf_keras``: tf2onnx cannot read these legacy
files under Keras 3), so it runs in a child process with ``TF_USE_LEGACY_KERAS=1``; the files
land where :func:`callroles.audio.ina_models.onnx_paths` finds them. ``deploy/setup.sh`` runs
``python -m callroles.export.ina_onnx``; workers never convert. Nothing is downloaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

from callroles.audio.errors import SegmenterError
from callroles.audio.ina_models import MODELS, onnx_dir, wanted_paths
from callroles.deploy.provision import use_provisioned_weights
from callroles.settings import Settings, get_settings

CONVERT_TIMEOUT_S = 900.0


def convert(settings: Settings) -> dict[str, Path]:
    """Convert the CNNs whose ONNX file is missing (one child process); return every path."""
    paths = wanted_paths(settings)
    if all(p.exists() for p in paths.values()):
        return paths
    weights = use_provisioned_weights(settings)
    onnx_dir(settings).mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "TF_USE_LEGACY_KERAS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "KERAS_HOME": str(settings.keras_home),
    }
    cmd = [sys.executable, "-m", "callroles.export.ina_onnx", "--child"]
    cmd += [f"{weights / MODELS[k]}={paths[k]}" for k in MODELS]
    try:
        proc = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=CONVERT_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise SegmenterError("converting inaSpeechSegmenter's CNNs to ONNX timed out") from exc
    if proc.returncode != 0 or not all(p.exists() for p in paths.values()):
        raise SegmenterError(f"converting inaSpeechSegmenter's CNNs failed:\n{proc.stderr[-2000:]}")
    return paths


def _convert(pairs: list[str]) -> None:
    """Child process: load each .hdf5 with tf_keras, export with tf2onnx, check the numbers."""
    import tf2onnx  # TensorFlow, ~4 s, only in the child: TF_USE_LEGACY_KERAS is set for it
    import tf_keras

    for pair in pairs:
        src, dst = pair.split("=", 1)
        model = tf_keras.models.load_model(src, compile=False)
        spec = [
            tf2onnx.tf_loader.tf.TensorSpec(
                (None, *model.input_shape[1:]), "float32", name="patches"
            )
        ]
        part = Path(dst + ".part")
        tf2onnx.convert.from_keras(model, input_signature=spec, opset=17, output_path=str(part))
        sess = ort.InferenceSession(str(part), providers=["CPUExecutionProvider"])
        x = np.random.default_rng(0).standard_normal((64, *model.input_shape[1:])).astype("f4")
        diff = np.abs(
            sess.run(None, {sess.get_inputs()[0].name: x})[0] - model.predict(x, verbose=0)
        )
        if float(diff.max()) > 1e-4:
            raise SystemExit(f"{src}: ONNX differs from Keras by {diff.max():.2e}")
        part.rename(dst)
        print(f"{Path(src).name} -> {dst} (max abs diff {diff.max():.1e})")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":  # started by convert()
        _convert(sys.argv[2:])
    else:  # install step
        for key, path in convert(get_settings()).items():
            print(f"[setup] inaSpeechSegmenter {key} CNN as ONNX: {path}")
