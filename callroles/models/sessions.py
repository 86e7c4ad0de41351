"""CPU ONNX Runtime sessions for the front end's small frame models, one per file and thread count.

silero-vad and the local-speaker model are small and run per call on the CPU (a GPU round trip
costs more than they do); a process loads each once and its threads share it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import onnxruntime as ort

_cache: dict[str, Any] = {}
_lock = threading.Lock()


def cpu_session(path: Path, threads: int = 0) -> Any:
    """The session of ``path`` with ``threads`` intra-op threads (0: ONNX Runtime's choice)."""
    key = f"{path}:{threads}"
    with _lock:
        if key not in _cache:
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            _cache[key] = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        return _cache[key]
