"""inaSpeechSegmenter's two CNNs as ONNX files, converted once from the provisioned .hdf5 weights.

Conversion needs TensorFlow with legacy Keras (``tf_keras``: tf2onnx cannot read these legacy
files under Keras 3), so it runs once in a child process (``python -m
callroles.audio.ina_models``) and the result is cached under ``settings.home/onnx/ina``. Workers
then load two small ONNX files and never import TensorFlow. Nothing is downloaded. The install
step can run the conversion ahead of time: ``python -m callroles.audio.ina_models``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from callroles.audio.errors import SegmenterError
from callroles.settings import Settings, get_settings

MODELS = {
    "vad": "keras_speech_music_noise_cnn.hdf5",
    "gender": "keras_male_female_cnn.hdf5",
}
CONVERT_TIMEOUT_S = 900.0


def onnx_dir(settings: Settings) -> Path:
    return settings.home / "onnx" / "ina"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def onnx_paths(settings: Settings | None = None) -> dict[str, Path]:
    """The ONNX file of each model, converting them first if missing (one child process)."""
    from callroles.deploy.provision import use_provisioned_weights

    settings = settings or get_settings()
    weights = use_provisioned_weights(settings)
    out = onnx_dir(settings)
    paths = {k: out / f"{Path(v).stem}-{_digest(weights / v)}.onnx" for k, v in MODELS.items()}
    if all(p.exists() for p in paths.values()):
        return paths
    out.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "TF_USE_LEGACY_KERAS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "KERAS_HOME": str(settings.keras_home),
    }
    cmd = [sys.executable, "-m", "callroles.audio.ina_models", str(weights)]
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
    import numpy as np
    import tf2onnx
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
        import onnxruntime as ort

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
    if len(sys.argv) > 2:  # child process started by onnx_paths()
        _convert(sys.argv[2:])
    else:  # install step: `python -m callroles.audio.ina_models`
        for key, path in onnx_paths().items():
            print(f"[setup] inaSpeechSegmenter {key} CNN as ONNX: {path}")
