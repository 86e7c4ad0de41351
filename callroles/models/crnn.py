"""The role CRNN at run time: class probabilities of log-mel windows, in ONNX Runtime.

One ONNX Runtime session per model file per process (loading is cached), CUDA first where a GPU
and its libraries are present, CPU otherwise. A model is trusted only after its graph checksum,
its callroles metadata, its input/output shapes and its feature spec fingerprint all check out:
scoring features computed differently from the training features gives confident nonsense.
"""

from __future__ import annotations

import ctypes
import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import onnx
import onnxruntime as ort
from google.protobuf.message import DecodeError

from callroles.base.errors import ConfigError, InputError, ModelError
from callroles.base.settings import Settings
from callroles.models.errors import (
    ModelCorruptError,
    ModelForeignError,
    ModelMissingError,
    ModelSpecError,
)
from callroles.models.features import DEFAULT_SPEC, FeatureSpec
from callroles.models.metadata import ModelMetadata, read_metadata
from callroles.models.shipped import ROLE_MODEL
from callroles.models.trunk import stream_path, window_offsets

log = logging.getLogger(__name__)

DEFAULT_MODEL = ROLE_MODEL
#: the one default, read from Settings so that library callers and workers agree
DEFAULT_PROVIDER: str = Settings.model_fields["execution_provider"].default
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
MAX_BATCH = 64  # bounds memory: the first conv block of 64 windows holds ~120 MB


class WindowsError(InputError):
    """Windows of the wrong shape or with NaN/inf values."""

    code = "bad_windows"
    stage = "score"


def _cuda_usable() -> bool:
    """A GPU driver is loadable (else trying CUDA only prints ONNX Runtime's load errors)."""
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


def providers_for(setting: str) -> list[str]:
    """Execution providers to ask for, in order, for ``settings.execution_provider``."""
    available = ort.get_available_providers()
    if setting == "cpu":
        return [CPU]
    if setting == "cuda":
        if CUDA not in available:
            raise ConfigError(
                "execution_provider=cuda but this onnxruntime has no CUDA provider; install "
                "callroles[gpu] or set CALLROLES_EXECUTION_PROVIDER=auto"
            )
        return [CUDA, CPU]
    if setting == "auto":
        return [CUDA, CPU] if CUDA in available and _cuda_usable() else [CPU]
    raise ConfigError(f"execution_provider must be auto, cuda or cpu, not {setting!r}")


def _spec_fingerprint(meta: ModelMetadata, source: str) -> str:
    try:
        return FeatureSpec.from_dict(meta.feature_spec).fingerprint()
    except (ValueError, TypeError) as exc:
        raise ModelSpecError(
            f"{source} was exported with a feature spec this front end does not know ({exc}); "
            "retrain the model with the current front end"
        ) from exc


def check_spec(meta: ModelMetadata, source: str, expected: FeatureSpec | None = None) -> None:
    """Refuse a model trained on features other than ``expected`` (the role model's spec)."""
    want = expected or DEFAULT_SPEC
    theirs = _spec_fingerprint(meta, source)
    if theirs != want.fingerprint():
        ours = want.to_dict()
        diff = {
            k: (meta.feature_spec.get(k), ours.get(k))
            for k in sorted(set(ours) | set(meta.feature_spec))
            if meta.feature_spec.get(k) != ours.get(k)
        }
        shown = ", ".join(f"{k}: model {a!r} vs front end {b!r}" for k, (a, b) in diff.items())
        raise ModelSpecError(
            f"{source} was trained on features with spec {theirs}, but the front end computes "
            f"{want.fingerprint()} ({shown}); its scores would be meaningless. Retrain "
            "and re-export the model with this version of callroles"
        )


def read_model(path: Path) -> tuple[bytes, ModelMetadata]:
    if not path.is_file():
        hint = " or rebuild the default: callroles default-model rebuild"
        raise ModelMissingError(
            f"no model file at {path}; pass an exported .onnx (callroles export RUN --out FILE)"
            + (hint if path == DEFAULT_MODEL else "")
        )
    data = path.read_bytes()
    try:
        proto = onnx.load_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        msg = f"{path} is not a readable ONNX file ({exc}); re-export it"
        raise ModelCorruptError(msg) from exc
    if not proto.graph.node:
        raise ModelCorruptError(f"{path} holds no ONNX graph (empty or not an ONNX file)")
    return data, read_metadata(proto, source=str(path))


def calibration_path(model: Path) -> Path:
    """Where ``callroles calibrate`` writes a model's calibration: beside it."""
    return model.with_name(f"{model.stem}.calibration.json")


def read_calibration(model: Path, version: str) -> tuple[float, float]:
    """(temperature, ceiling) fitted for this model version, or (1, 1): uncalibrated, with a
    log line when the file is another version's."""
    path = calibration_path(model)
    if not path.is_file():
        return 1.0, 1.0
    data = json.loads(path.read_text())
    if data.get("model_version") != version:
        log.warning(
            "%s was fitted for model %s, not %s: ignored", path, data.get("model_version"), version
        )
        return 1.0, 1.0
    return float(data["temperature"]), float(data.get("ceiling", 1.0))


@dataclass
class RoleModel:
    """An ONNX Runtime session plus the model's metadata; thread-safe ``score``."""

    session: Any
    metadata: ModelMetadata
    path: Path
    provider: str
    max_batch: int = MAX_BATCH
    input_name: str = "windows"
    _cache: ClassVar[dict[tuple[str, str, bool, int, int, int], RoleModel]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()
    spec: FeatureSpec = DEFAULT_SPEC  # the model's feature spec, checked equal to ours at load
    window_shape: tuple[int, int] = DEFAULT_SPEC.shape  # from the model's spec at load
    frames_per_hop: int = DEFAULT_SPEC.frames_per_hop
    stream_session: Any = None  # trunk-once graph (model.stream.onnx), when asked for
    stream_info: dict[str, Any] = field(default_factory=dict)
    # the role decision's temperature (callroles.call.roles.pair_confidence), from
    # <stem>.calibration.json when it was fitted for this model version (callroles calibrate),
    # and the most it may claim: its accuracy on the calls the fit saw
    temperature: float = 1.0
    confidence_ceiling: float = 1.0

    @classmethod
    def load(
        cls,
        path: Path | str | None = None,
        *,
        execution_provider: str = DEFAULT_PROVIDER,
        stream_trunk: bool = True,
        threads: int = 0,
    ) -> RoleModel:
        """The role model at ``path`` (None: the shipped one), created once per process.

        ``stream_trunk`` also loads ``<stem>.stream.onnx``, so that ``score_stream`` runs the
        conv trunk once per speaker stream (``callroles.call.scoring``; export/README.md); a
        model exported without one is scored window by window.
        """
        setting = execution_provider
        resolved = Path(path).expanduser().resolve() if path is not None else DEFAULT_MODEL
        # the file's identity is in the key: a model replaced in place (a rollout) loads anew
        stat = resolved.stat() if resolved.is_file() else None
        mtime, size = (stat.st_mtime_ns, stat.st_size) if stat else (0, 0)
        key = (str(resolved), setting, stream_trunk, mtime, size, threads)
        with cls._lock:
            if key not in cls._cache:
                cls._cache[key] = cls._create(resolved, setting, stream_trunk, threads)
            return cls._cache[key]

    @classmethod
    def _create(
        cls, path: Path, setting: str, stream_trunk: bool = False, threads: int = 0
    ) -> RoleModel:
        data, meta = read_model(path)
        check_spec(meta, str(path))
        options = ort.SessionOptions()
        # EXTENDED fuses what matters here; ALL adds NCHWc reorders that cost more than they save
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.intra_op_num_threads = threads  # 0: ONNX Runtime's default
        wanted = providers_for(setting)
        try:
            session = ort.InferenceSession(data, options, providers=wanted)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ModelCorruptError(f"ONNX Runtime cannot load {path}: {exc}") from exc
        running = session.get_providers()[0]
        if setting == "cuda" and running != CUDA:
            raise ConfigError("execution_provider=cuda but CUDA could not start; see the log above")
        scorer = cls(session=session, metadata=meta, path=path, provider=running)
        scorer.temperature, scorer.confidence_ceiling = read_calibration(path, meta.model_version)
        scorer._check_io()
        if stream_trunk:
            scorer._load_stream(options, wanted)
        log.info(
            "scorer: %s (%s %s, %d classes) on %s",
            path.name,
            meta.model_name,
            meta.model_version,
            meta.n_classes,
            running,
        )
        return scorer

    def _check_io(self) -> None:
        spec = FeatureSpec.from_dict(self.metadata.feature_spec)  # checked equal to ours
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        shape = tuple(inputs[0].shape[1:]) if len(inputs) == 1 else ()
        out_shape = tuple(outputs[0].shape[1:]) if len(outputs) == 1 else ()
        if shape != tuple(spec.shape) or out_shape != (self.metadata.n_classes,):
            raise ModelForeignError(
                f"{self.path}: inputs {[(i.name, i.shape) for i in inputs]} and outputs "
                f"{[(o.name, o.shape) for o in outputs]} are not (batch, {spec.shape[0]}, "
                f"{spec.shape[1]}) -> (batch, {self.metadata.n_classes})"
            )
        self.input_name = inputs[0].name
        self.spec = spec
        self.window_shape = spec.shape
        self.frames_per_hop = spec.frames_per_hop

    def _load_stream(self, options: Any, providers: list[str]) -> None:
        path = stream_path(self.path)
        if not path.is_file():  # exported before trunk-once graphs, or copied without it
            log.warning(
                "%s has no trunk-once graph (%s): scoring windows one by one", self.path, path.name
            )
            return
        data, meta = read_model(path)
        check_spec(meta, str(path))
        if meta.stream.get("parent") != self.metadata.graph_sha256:
            raise ModelCorruptError(
                f"{path} belongs to another export than {self.path.name}; re-export the model"
            )
        self.stream_session = ort.InferenceSession(data, options, providers=providers)
        self.stream_info = dict(meta.stream)

    @classmethod
    def clear_cache(cls) -> None:
        """Forget loaded sessions (tests, or after replacing a model file in place)."""
        with cls._lock:
            cls._cache.clear()

    @property
    def classes(self) -> tuple[str, ...]:
        return self.metadata.classes

    @property
    def n_classes(self) -> int:
        return self.metadata.n_classes

    @property
    def model_name(self) -> str:
        return self.metadata.model_name

    @property
    def model_version(self) -> str:
        return self.metadata.model_version

    def info(self) -> dict[str, Any]:
        """What a result event says about the model."""
        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "classes": list(self.classes),
            "provider": self.provider,
        }

    def _validate(self, windows: np.ndarray) -> np.ndarray:
        arr = np.asarray(windows)
        if arr.ndim != 3 or tuple(arr.shape[1:]) != self.window_shape:
            raise WindowsError(
                f"windows must have shape (N, {self.window_shape[0]}, {self.window_shape[1]}), "
                f"got {arr.shape}"
            )
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.isfinite(arr).all():
            raise WindowsError("windows contain NaN or infinite values; check the front end")
        return arr

    def score(self, windows: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (N, n_classes), in ``classes`` order."""
        arr = self._validate(windows)
        if len(arr) == 0:
            return np.zeros((0, self.n_classes), dtype=np.float32)
        parts = [
            self.session.run(None, {self.input_name: arr[i : i + self.max_batch]})[0]
            for i in range(0, len(arr), self.max_batch)
        ]
        return np.concatenate(parts).astype(np.float32, copy=False)

    def score_stream(self, logmel: np.ndarray, n_windows: int) -> np.ndarray:
        """Probabilities of the ``n_windows`` windows 1 s apart over one (n_mels, frames) stream,
        with the conv trunk run once (needs ``load(..., stream_trunk=True)``)."""
        if self.stream_session is None:
            raise ModelError("this scorer was loaded without stream_trunk=True")
        stride, steps = self.stream_info["frames_per_step"], self.stream_info["steps"]
        frames = self.window_shape[1]
        if logmel.shape[1] < frames + self.frames_per_hop * (n_windows - 1):
            raise WindowsError(
                f"a stream of {logmel.shape[1]} frames has fewer than {n_windows} windows"
            )
        offsets = window_offsets(
            n_windows, stride, steps, logmel.shape[1] // stride, self.frames_per_hop
        )
        feed = {"stream": np.ascontiguousarray(logmel[None], dtype=np.float32), "offsets": offsets}
        return np.asarray(self.stream_session.run(None, feed)[0], dtype=np.float32)
