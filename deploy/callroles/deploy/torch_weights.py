"""A legacy ``torch.save`` checkpoint read without torch: only tensors and dicts.

Resemblyzer's voice-encoder weights ship as such a pickle. Its ``find_class`` refuses everything
but the tensor rebuild function, the storage types and ``OrderedDict`` (tests/security), so a
weights file cannot run code.
"""

from __future__ import annotations

import collections
import pickle
import struct
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


class _Unpickler(pickle.Unpickler):
    """Reads torch's legacy (non-zip) checkpoint format; only tensors and dicts are allowed."""

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
