"""Export a trained run folder: find its model, its metadata and real windows for the parity check.

A run folder (training/) holds ``model.keras`` and ``meta.json``. The parity check must run on
real log-mel windows, never on random numbers (a wrong mel scaling can hide in random inputs): they
come from ``--windows`` (a ``.npy`` of windows or an audio file) or from the run's own dataset.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from callroles.export.errors import ExportError
from callroles.export.onnx_export import ExportReport, export_model
from callroles.frontend.decode import decode
from callroles.models.errors import ModelMissingError
from callroles.models.features import DEFAULT_SPEC, stream_windows
from callroles.models.metadata import ModelMetadata
from callroles.training.labels import class_names, label_of

log = logging.getLogger(__name__)

MAX_PARITY_WINDOWS = 48
AUDIO_SUFFIXES = {".wav", ".gsm", ".mp3", ".flac", ".ogg"}


def windows_from_audio(path: Path, limit: int = MAX_PARITY_WINDOWS) -> np.ndarray:
    """Real windows of a recording: log-mel of its first channel, 10 s windows 1 s apart."""
    audio = decode(path)
    windows = stream_windows(audio.channels[0]).windows
    return _spread(np.asarray(windows, dtype=np.float32), limit)


def _spread(windows: np.ndarray, limit: int) -> np.ndarray:
    if len(windows) <= limit:
        return np.ascontiguousarray(windows)
    idx = np.linspace(0, len(windows) - 1, limit).round().astype(int)
    return np.ascontiguousarray(windows[idx])


def windows_from_dataset(
    root: Path, n_classes: int, limit: int = MAX_PARITY_WINDOWS
) -> tuple[np.ndarray, np.ndarray]:
    """Windows and labels from ``<root>/<split>/<role>/<gender>/<speaker>/<n>.npy`` (validation
    first), spread over the four role/gender folders."""
    for split in ("validation", "train"):
        groups = [
            sorted((root / split / r / g).glob("*/*.npy"))
            for r in ("customer", "agent")
            for g in ("female", "male")
        ]
        if any(groups):
            break
    else:
        raise ExportError(f"no windows under {root}/validation or {root}/train")
    per = max(1, limit // max(1, sum(bool(g) for g in groups)))
    files = [f for g in groups for f in g[:: max(1, len(g) // per)][:per]]
    windows = np.stack([np.load(f).astype(np.float32) for f in files])
    labels = np.array([label_of(f.parents[2].name, f.parents[1].name, n_classes) for f in files])
    return windows, labels


def dataset_dir(meta: dict[str, Any]) -> Path | None:
    """The dataset tree a run was trained on, if it is still there."""
    raw = meta.get("dataset") or (meta.get("data") or {}).get("dir")
    return Path(raw) if raw and Path(raw).is_dir() else None


def load_windows(source: Path) -> np.ndarray:
    """Windows from a ``.npy`` file (N, 96, 1000) or (96, 1000), or from an audio file."""
    if not source.exists():
        raise ExportError(f"parity windows {source} do not exist")
    if source.suffix == ".npy":
        arr = np.load(source).astype(np.float32)
        return _spread(arr[None] if arr.ndim == 2 else arr, MAX_PARITY_WINDOWS)
    return windows_from_audio(source)


def read_run(run_dir: Path) -> tuple[Path, dict[str, Any]]:
    """``model.keras`` and parsed ``meta.json`` of a run folder (or a bare .keras file)."""
    if run_dir.is_file() and run_dir.suffix == ".keras":
        model_path, meta_path = run_dir, run_dir.with_name("meta.json")
    else:
        model_path, meta_path = run_dir / "model.keras", run_dir / "meta.json"
    if not model_path.is_file():
        msg = f"no trained model at {model_path}; train one with `callroles train`"
        raise ModelMissingError(msg)
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    return model_path, meta


def metadata_from_run(meta: dict[str, Any], model: Any, name: str) -> ModelMetadata:
    """ModelMetadata from a run's meta.json, filling what it lacks from the model itself."""
    n_classes = int(model.outputs[0].shape[-1])
    classes = meta.get("classes") or meta.get("class_names")
    if not classes:
        classes = class_names(n_classes)
    if len(classes) != n_classes:
        msg = f"meta.json lists {len(classes)} classes but the model outputs {n_classes}"
        raise ExportError(msg)
    has_lstm = any("LSTM" in repr(layer) for layer in model.layers)
    rnn = meta.get("rnn") or ("lstm" if has_lstm else "gru")
    return ModelMetadata(
        feature_spec=meta.get("feature_spec") or DEFAULT_SPEC.to_dict(),
        classes=tuple(classes),
        rnn=str(rnn),
        param_count=int(model.count_params()),
        model_name=str(meta.get("name") or name),
        data_summary=meta.get("data_summary") or meta.get("data") or {},
        evaluation={**(meta.get("evaluation") or {}), "training": meta.get("training") or {}},
    )


def export_run(
    run_dir: Path,
    out: Path,
    *,
    windows: Path | None = None,
    variants: tuple[str, ...] = (),
    rnn_export: str = "native",
) -> ExportReport:
    """Load a run, gather parity windows, export to ``out``; writes ``<out>.report.json`` too."""
    import keras  # noqa: PLC0415 (Keras: loaded only to train or export)

    model_path, meta = read_run(run_dir)
    try:
        model = keras.saving.load_model(model_path, compile=False)
    except Exception as exc:
        raise ExportError(f"cannot load {model_path}: {type(exc).__name__}: {exc}") from exc
    name = meta.get("name") or model_path.parent.name
    metadata = metadata_from_run(meta, model, name)
    labels = None
    data_dir = dataset_dir(meta)
    if windows is not None:
        parity = load_windows(windows)
    elif data_dir is not None:
        parity, labels = windows_from_dataset(data_dir, metadata.n_classes)
    else:
        raise ExportError(
            "no real windows for the parity check: pass --windows FILE (.npy or audio), or keep "
            "the run's dataset (meta.json 'dataset') in place"
        )
    report = export_model(
        model, out, metadata, parity, labels=labels, variants=variants, rnn_export=rnn_export
    )
    out.with_suffix(".report.json").write_text(report.to_json() + "\n")
    return report
