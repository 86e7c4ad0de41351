"""Session fixtures for export tests: the real CRNN architecture and real log-mel windows.

The model is untrained (seeded weights): export correctness does not depend on training, and a
trained run is not available in a fresh checkout. Windows come from a real recording.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callroles.export.onnx_export import export_model
from callroles.export.runs import windows_from_audio
from callroles.models.features import DEFAULT_SPEC
from callroles.models.metadata import ModelMetadata
from callroles.training.model import build_crnn

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def real_windows(reference_dir: Path) -> np.ndarray:
    """16 real windows (log-mel of musanmix.wav: speech, music and noise from MUSAN)."""

    windows = windows_from_audio(reference_dir / "musanmix.wav", limit=16)
    assert windows.shape[1:] == (96, 1000) and len(windows) == 16
    return windows


@pytest.fixture(scope="session")
def crnn_gru() -> Any:
    import keras  # noqa: PLC0415 (Keras: loaded only to train or export)

    keras.utils.set_random_seed(7)
    return build_crnn(2, "gru")


@pytest.fixture(scope="session")
def exported(
    tmp_path_factory: pytest.TempPathFactory, crnn_gru: Any, real_windows: np.ndarray
) -> tuple[Path, Any]:
    """The GRU CRNN exported once (with both variants), and its report."""

    out = tmp_path_factory.mktemp("export") / "model.onnx"
    meta = ModelMetadata(
        feature_spec=DEFAULT_SPEC.to_dict(),
        classes=("customer", "agent"),
        rnn="gru",
        param_count=int(crnn_gru.count_params()),
        model_name="test-crnn",
        data_summary={"corpus": "none (untrained test model)"},
        evaluation={"accuracy": None},
    )
    labels = np.zeros(len(real_windows), dtype=int)
    report = export_model(
        crnn_gru, out, meta, real_windows, labels=labels, variants=("fp16", "int8")
    )
    return out, report
