"""The small frame models (the activity model, the music check) as ONNX Runtime sessions.

Each is one ONNX file whose metadata names its kind, its classes and the feature spec it was
trained on; a file of another kind or spec is refused at load time, never scored. A session is
made once per file and execution provider and shared by every thread of the process.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar, Self

import onnxruntime as ort

from callroles.models.crnn import check_spec, providers_for, read_model
from callroles.models.errors import ModelForeignError
from callroles.models.features import FeatureSpec


class FrameModel:
    """Base of the frame models; a subclass names its kind, classes, spec and shipped file."""

    MODEL_NAME: ClassVar[str]
    CLASSES: ClassVar[tuple[str, ...]]
    SPEC: ClassVar[FeatureSpec]
    SHIPPED: ClassVar[Path]
    KIND: ClassVar[str]  # "an activity model": what the refusal says the file is not
    _cache: ClassVar[dict[tuple[str, str, str], Any]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, session: Any, version: str, path: Path) -> None:
        self.session = session
        self.spec = self.SPEC
        self.version = version
        self.path = path
        self.input = session.get_inputs()[0].name
        self.outputs = [o.name for o in session.get_outputs()]

    @classmethod
    def load(cls, path: Path | None = None, execution_provider: str = "cpu") -> Self:
        """The model at ``path`` (None: the shipped one), its kind and spec checked."""
        resolved = Path(path).expanduser().resolve() if path else cls.SHIPPED
        key = (cls.__name__, str(resolved), execution_provider)
        with cls._lock:
            if key not in cls._cache:
                cls._cache[key] = cls._create(resolved, execution_provider)
            model: Self = cls._cache[key]
            return model

    @classmethod
    def _create(cls, path: Path, execution_provider: str) -> Self:
        data, meta = read_model(path)
        if meta.model_name != cls.MODEL_NAME or tuple(meta.classes) != cls.CLASSES:
            raise ModelForeignError(
                f"{path} is a callroles {meta.model_name!r} model with classes {meta.classes}, "
                f"not {cls.KIND} {cls.CLASSES}"
            )
        check_spec(meta, str(path), cls.SPEC)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # the front end already runs one call per thread
        session = ort.InferenceSession(
            data, sess_options=opts, providers=providers_for(execution_provider)
        )
        return cls(session, meta.model_version, path)
