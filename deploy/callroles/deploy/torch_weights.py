"""``torch.save`` checkpoints read without torch: only tensors and dicts.

Resemblyzer's voice-encoder weights ship as a legacy pickle; pyannote's segmentation-3.0 as a zip
checkpoint. ``find_class`` refuses everything but the tensor rebuild function, the storage types,
``OrderedDict`` and a few named metadata classes, which become inert placeholders
(tests/security), so a weights file cannot run code.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "HalfStorage": np.float16,
}


class _Storage:
    def __init__(self, dtype: Any, numel: int) -> None:
        self.dtype, self.numel, self.data = np.dtype(dtype), numel, np.zeros(0)


class _TensorRef:
    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def array(self) -> np.ndarray:
        item = self.storage.dtype.itemsize
        base = self.storage.data[self.offset :]
        strides = tuple(s * item for s in self.stride)
        return np.lib.stride_tricks.as_strided(base, self.size, strides).copy()


class _Inert:
    """A metadata object of a checkpoint (a version, a task's specification), kept unread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state


# metadata classes a pyannote checkpoint names beside its tensors; built as _Inert, never imported
_INERT = {
    ("torch.torch_version", "TorchVersion"),
    ("pyannote.audio.core.task", "Specifications"),
    ("pyannote.audio.core.task", "Problem"),
    ("pyannote.audio.core.task", "Resolution"),
}


class _Unpickler(pickle.Unpickler):
    """Reads torch's checkpoint pickles; only tensors, dicts and inert metadata are allowed."""

    def __init__(self, f: IO[bytes], storages: dict[str, _Storage]) -> None:
        super().__init__(f)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return lambda st, off, size, stride, *_: _TensorRef(st, off, size, stride)
        if module == "torch" and name in _DTYPES:
            return name
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if (module, name) in _INERT:
            return _Inert
        raise pickle.UnpicklingError(f"refusing {module}.{name} in a weights file")

    def persistent_load(self, pid: Any) -> _Storage:
        _, dtype_name, key, _location, numel, *_ = pid
        if key not in self.storages:
            self.storages[key] = _Storage(_DTYPES[dtype_name], numel)
        return self.storages[key]


def read_legacy_torch(f: IO[bytes]) -> dict[str, np.ndarray]:
    """State dict of a legacy ``torch.save`` file as numpy arrays."""
    storages: dict[str, _Storage] = {}
    for _ in range(3):  # magic number, protocol version, system info: plain ints and dicts
        _Unpickler(f, storages).load()
    obj = _Unpickler(f, storages).load()
    keys = _Unpickler(f, storages).load()
    for key in keys:
        st = storages[key]
        (numel,) = struct.unpack("<q", f.read(8))
        st.data = np.frombuffer(f.read(numel * st.dtype.itemsize), dtype=st.dtype)
    state = obj.get("model_state", obj)
    return {k: v.array() for k, v in state.items() if isinstance(v, _TensorRef)}


def read_zip_torch(path: Path) -> dict[str, np.ndarray]:
    """``state_dict`` of a zip ``torch.save`` file (``ARCHIVE/data.pkl`` and one entry per
    storage under ``ARCHIVE/data/``) as numpy arrays."""
    storages: dict[str, _Storage] = {}
    with zipfile.ZipFile(path) as zf:
        pkl = next(n for n in zf.namelist() if n.endswith("/data.pkl"))
        root = pkl[: -len("data.pkl")]
        obj = _Unpickler(io.BytesIO(zf.read(pkl)), storages).load()
        for key, st in storages.items():
            st.data = np.frombuffer(zf.read(f"{root}data/{key}"), dtype=st.dtype)
    state = obj.get("state_dict", obj)
    return {k: v.array() for k, v in state.items() if isinstance(v, _TensorRef)}
