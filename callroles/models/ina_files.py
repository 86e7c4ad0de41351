"""inaSpeechSegmenter's two CNNs as ONNX files, converted once from the provisioned .hdf5 weights.

Conversion needs TensorFlow with legacy Keras (``tf_keras``: tf2onnx cannot read these legacy
files under Keras 3), so it runs once in a child process (``python -m
callroles.models.ina_files``) and the result is cached under ``settings.home/onnx/ina``. Workers
then load two small ONNX files and never import TensorFlow. Nothing is downloaded. The install
step can run the conversion ahead of time: ``python -m callroles.models.ina_files``.

The install step also writes an int8 copy of each CNN (static quantization of the convolution
stack, calibrated on Debian's telephone prompts and hold music): the CNNs run 2-3x faster on
CPU, the whole front end about 1.5x; the default (``segmenter_precision``; docs/frontend.md has
its agreement with the float CNNs).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from callroles.base.settings import Settings
from callroles.deploy.provision import use_provisioned_weights
from callroles.models.errors import ModelNotConvertedError

INSTALL_COMMAND = "python -m callroles.export.ina_onnx  (part of deploy/setup.sh)"

Precision = Literal["int8", "float"]
# the int8 recipe (ops quantized, calibration audio); a new recipe gets a new name, so files
# written by an older one are never taken for it
INT8_RECIPE = "int8q1"

MODELS = {
    "vad": "keras_speech_music_noise_cnn.hdf5",
    "gender": "keras_male_female_cnn.hdf5",
}


def onnx_dir(settings: Settings) -> Path:
    return settings.home / "onnx" / "ina"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def onnx_paths(settings: Settings, precision: Precision) -> dict[str, Path]:
    """The ONNX file of each CNN; ModelNotConvertedError when the install step has not run."""
    paths = wanted_paths(settings, precision)
    missing = [str(p) for p in paths.values() if not p.exists()]
    if not missing:
        return paths
    floats_there = all(p.exists() for p in wanted_paths(settings, "float").values())
    if precision == "int8" and floats_there:  # a home from before the int8 copies existed
        raise ModelNotConvertedError(
            f"the int8 copies of inaSpeechSegmenter's CNNs are missing ({', '.join(missing)}); "
            f"run deploy/setup.sh again (it installs the Debian prompts they are calibrated on "
            f"and runs {INSTALL_COMMAND.split('  ')[0]}), or set "
            "CALLROLES_SEGMENTER_PRECISION=float to use the float CNNs"
        )
    raise ModelNotConvertedError(
        f"inaSpeechSegmenter's CNNs are not converted to ONNX yet ({', '.join(missing)}); "
        f"run: {INSTALL_COMMAND}"
    )


def wanted_paths(settings: Settings, precision: Precision) -> dict[str, Path]:
    """Where each CNN's ONNX file belongs, named by the digest of its provisioned weights."""
    weights = use_provisioned_weights(settings)
    out = onnx_dir(settings)
    tail = "" if precision == "float" else f"-{INT8_RECIPE}"
    return {k: out / f"{Path(v).stem}-{digest(weights / v)}{tail}.onnx" for k, v in MODELS.items()}
