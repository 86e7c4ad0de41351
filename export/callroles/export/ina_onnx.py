"""Install step: inaSpeechSegmenter's two CNNs, Keras .hdf5 -> ONNX, with a parity check.

Conversion needs TensorFlow with legacy Keras (``tf_keras``: tf2onnx cannot read these legacy
files under Keras 3), so it runs in a child process with ``TF_USE_LEGACY_KERAS=1``; the files
land where :func:`callroles.models.ina.onnx_paths` finds them. ``deploy/setup.sh`` runs
``python -m callroles.export.ina_onnx``; workers never convert. Nothing is downloaded.

It then writes the int8 copies (``segmenter_precision="int8"``, the default): static
quantization (onnxruntime.quantization, QDQ, per-channel weights, MinMax ranges) of the
convolution stack and dense layers; the batch-norm arithmetic and softmax after them stay in
float, because quantizing those flipped the gender of whole segments. Calibration audio is
real and installed by ``deploy/setup.sh`` step 1, never one of our evaluation files: Debian's
Asterisk telephone prompts (five voices, one male) and its hold music.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import librosa
import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_static,
)

from callroles.base.settings import Settings, get_settings
from callroles.deploy.provision import use_provisioned_weights
from callroles.models.errors import SegmenterError
from callroles.models.ina import INT8_RECIPE, MODELS, cnn_inputs, onnx_dir, wanted_paths

CONVERT_TIMEOUT_S = 900.0
ASTERISK = Path("/usr/share/asterisk")  # asterisk-core-sounds-*-wav, asterisk-moh-opsound-wav
# the five voices of those packages, by name: a local Asterisk's own prompts under the same root
# never change what the int8 CNNs are calibrated on
VOICES = (
    "en_US_f_Allison",
    "es_MX_f_Allison",
    "fr_CA_f_June",
    "it_IT_m_Carlo",
    "ru_RU_f_IvrvoiceRU",
)
PROMPTS_PER_VOICE = 30
MUSIC_S = 30.0
QUANTIZED_OPS = ["Conv", "Relu", "MaxPool", "Reshape", "Gemm"]
# a guard against a broken quantization, not a tuned figure: the share of calibration patches
# (music included, where gender means nothing) on which int8 and float decide alike
MIN_INT8_AGREEMENT = 0.95


def convert(settings: Settings) -> dict[str, Path]:
    """Convert the CNNs whose ONNX file is missing (one child process); return every path."""
    paths = wanted_paths(settings, "float")
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


def calibration_audio(root: Path = ASTERISK, seed: int = 0) -> np.ndarray:
    """16 kHz audio to calibrate on: prompts drawn from each Asterisk voice, then hold music."""
    voices = [root / "sounds" / v for v in VOICES]
    music = sorted((root / "moh").glob("*.wav"))
    if not all(v.is_dir() for v in voices) or not music:
        raise SegmenterError(
            f"no Asterisk prompts or hold music under {root} to calibrate the int8 CNNs on; "
            "deploy/setup.sh installs asterisk-core-sounds-*-wav and asterisk-moh-opsound-wav"
        )
    rng = random.Random(seed)
    files: list[Path] = []
    for voice in voices:
        prompts = sorted(voice.rglob("*.wav"))
        files += rng.sample(prompts, min(PROMPTS_PER_VOICE, len(prompts)))
    parts = [librosa.load(f, sr=16000, mono=True)[0] for f in files]
    parts += [librosa.load(f, sr=16000, mono=True, duration=MUSIC_S)[0] for f in music]
    return np.concatenate(parts).astype(np.float32)


class _Batches(CalibrationDataReader):
    def __init__(self, patches: np.ndarray, size: int = 128) -> None:
        self._it = iter([{"patches": patches[i : i + size]} for i in range(0, len(patches), size)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def quantize(settings: Settings) -> dict[str, Path]:
    """Write the int8 copy of each CNN whose file is missing; return every int8 path."""
    floats, paths = convert(settings), wanted_paths(settings, "int8")
    todo = [k for k, p in paths.items() if not p.exists()]
    if not todo:
        return paths
    wide = calibration_audio()
    for key in todo:
        x = cnn_inputs(wide, key)
        with tempfile.TemporaryDirectory() as tmp:
            pre, part = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
            quant_pre_process(str(floats[key]), str(pre))
            quantize_static(
                str(pre),
                str(part),
                _Batches(x),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=QUANTIZED_OPS,
            )
            _stamp(part, wide)
            agreement = _agreement(floats[key], part, x)
            if agreement < MIN_INT8_AGREEMENT:
                raise SegmenterError(
                    f"int8 {key} CNN agrees with the float one on {agreement:.3f} of "
                    f"calibration patches (at least {MIN_INT8_AGREEMENT} wanted)"
                )
            part.replace(paths[key])
        print(f"[setup] {key} CNN as int8: {paths[key]} (agrees on {agreement:.4f} of patches)")
    return paths


def _stamp(path: Path, wide: np.ndarray) -> None:
    """Write the recipe, a digest of the calibration audio and the quantizer's version into the
    model's metadata, so a copy can be traced to what it was calibrated on."""
    model = onnx.load(str(path))
    props = {
        "callroles.int8_recipe": INT8_RECIPE,
        "callroles.calibration_sha256": hashlib.sha256(wide.tobytes()).hexdigest()[:16],
        "callroles.calibration_seconds": f"{len(wide) / 16000:.1f}",
        "onnxruntime": ort.__version__,
    }
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def _agreement(float_path: Path, int8_path: Path, x: np.ndarray) -> float:
    """Share of patches on which the two CNNs take the same decision."""
    out = []
    for path in (float_path, int8_path):
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        out.append(sess.run(None, {sess.get_inputs()[0].name: x})[0].argmax(axis=1))
    return float(np.mean(out[0] == out[1]))


def _convert(pairs: list[str]) -> None:
    """Child process: load each .hdf5 with tf_keras, export with tf2onnx, check the numbers."""
    import tf2onnx  # noqa: PLC0415 (tf2onnx (TensorFlow): loaded only to export)
    import tf_keras  # noqa: PLC0415 (Keras: loaded only to train or export)

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
        settings = get_settings()
        for key, path in convert(settings).items():
            print(f"[setup] inaSpeechSegmenter {key} CNN as ONNX: {path}")
        quantize(settings)
