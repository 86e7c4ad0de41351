"""CPU ONNX Runtime sessions for the front end's small frame models, one per file and thread count.

silero-vad and the local-speaker model are small and run per call on the CPU (a GPU round trip
costs more than they do); a process loads each once and its threads share it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import onnxruntime as ort

from callroles.models.errors import ModelMissingError

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


def provisioned(path: Path, meta_key: str, what: str, threads: int = 0) -> tuple[Any, dict]:
    """The shared session of a model the install step builds, and the spec in its metadata
    under ``meta_key``; a missing file says how to provision it."""
    if not path.exists():
        raise ModelMissingError(
            f"{what} missing in {path}; run `deploy/setup.sh` "
            "(or `python -m callroles.deploy.provision`)"
        )
    session = cpu_session(path, threads)
    return session, json.loads(session.get_modelmeta().custom_metadata_map[meta_key])
