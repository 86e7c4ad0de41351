"""Models for tests: the shipped default model (its files must be there) and an untrained CRNN.

The shipped folder is part of the package: a test that needs it asserts every file is present,
so a packaging loss fails loudly instead of skipping or quietly using something else.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from callroles.base.settings import PROJECT_ROOT, Settings
from callroles.export.onnx_export import export_model
from callroles.export.runs import windows_from_audio
from callroles.models.crnn import DEFAULT_MODEL
from callroles.models.features import DEFAULT_SPEC
from callroles.models.metadata import ModelMetadata
from callroles.training.model import build_crnn

#: what ``callroles/runtime/default_model/`` must hold in every checkout and install
SHIPPED_FILES = (
    "model.onnx",
    "model.stream.onnx",
    "model.calibration.json",
    "voiceprint.calibration.json",  # the voiceprint decision's confidence (embedding model)
    "model.keras",  # the weights `callroles adapt` fine-tunes from (the runtime never reads it)
    "activity.onnx",
    "music.onnx",  # the music check, on by default
    "report.json",
)


def assert_shipped_model() -> Path:
    """Assert the shipped model folder is whole; return the role model (``DEFAULT_MODEL``)."""

    folder = DEFAULT_MODEL.parent
    missing = [name for name in SHIPPED_FILES if not (folder / name).is_file()]
    assert not missing, f"shipped model files missing from {folder}: {', '.join(missing)}"
    return DEFAULT_MODEL


def untrained_model() -> Path:
    """An untrained CRNN exported to ONNX once and cached under <home>/test-cache: for tests
    that check integrity or plumbing, never roles."""
    cached = Settings().home / "test-cache" / "faults-untrained-crnn.onnx"
    stream = cached.with_name(f"{cached.stem}.stream.onnx")  # its trunk-once graph
    if cached.is_file() and stream.is_file():
        return cached
    import keras  # noqa: PLC0415 (Keras: loaded only to train or export)

    cached.parent.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(7)
    model = build_crnn(2, "gru")
    windows = windows_from_audio(PROJECT_ROOT / "tests/data/reference/lamartine.wav", limit=4)
    meta = ModelMetadata(
        feature_spec=DEFAULT_SPEC.to_dict(),
        classes=("customer", "agent"),
        rnn="gru",
        param_count=int(model.count_params()),
        model_name="untrained-fault-crnn",
    )
    tmp = cached.with_suffix(".partial.onnx")
    export_model(model, tmp, meta, windows, labels=np.zeros(len(windows), dtype=int))
    tmp.with_name(f"{tmp.stem}.stream.onnx").rename(stream)
    tmp.rename(cached)
    return cached
