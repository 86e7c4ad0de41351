"""Speaker embeddings (GE2E d-vectors, Resemblyzer 0.1.4's weights) in plain numpy, no torch.

Resemblyzer ships its trained 3-layer LSTM (``pretrained.pt``, MIT licence) in its PyPI wheel but
needs PyTorch (a multi-GB CUDA build on PyPI) to run it. The model is small: 40 mel bands at
16 kHz, 3 LSTM layers of 256, a linear layer, ReLU, L2 norm. ``provision()`` (install time)
extracts the weights from the wheel with pip and converts them once to ``.npz``; the legacy
torch pickle is read with a restricted unpickler, never torch.
"""

from __future__ import annotations

import collections
import functools
import io
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import IO, Any

import librosa
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from callroles.base.settings import Settings, get_settings  # get_settings: the install step only
from callroles.models.errors import SegmenterError

WHEEL = "Resemblyzer==0.1.4"
RATE = 16000
PARTIAL_FRAMES = 160  # 1.6 s at 10 ms hop
#: two embeddings at least this alike are one voice: the equal-error threshold of
#: bench/results/voiceprint.json (real LibriSpeech voices through a phone line)
SAME_VOICE = 0.84
_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "HalfStorage": np.float16,
}


def weights_path(settings: Settings) -> Path:
    return settings.home / "resemblyzer" / "ge2e-0.1.4.npz"


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


def provision(settings: Settings) -> Path:
    """Install step: fetch Resemblyzer's wheel from PyPI (no deps), keep its weights as .npz."""
    out = weights_path(settings)
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, WHEEL]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
        if proc.returncode != 0:
            raise SegmenterError(f"could not fetch {WHEEL} from PyPI:\n{proc.stderr[-1000:]}")
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as zf, zf.open("resemblyzer/pretrained.pt") as f:
            state = read_legacy_torch(io.BytesIO(f.read()))
    part = out.with_suffix(".part.npz")
    np.savez(part, **state)
    part.rename(out)
    return out


def _onnx_graph(w: dict[str, np.ndarray]) -> bytes:
    """The encoder as an ONNX graph: 3 native LSTM nodes, Gemm, ReLU, L2 norm."""
    order = [0, 3, 1, 2]  # torch gates i,f,g,o -> ONNX i,o,f,c

    def gates(a: np.ndarray) -> np.ndarray:
        h = a.shape[0] // 4
        return np.concatenate([a[k * h : (k + 1) * h] for k in order])

    inits, nodes, cur = [], [], "x_tbf"
    nodes.append(helper.make_node("Transpose", ["mels"], [cur], perm=[1, 0, 2]))
    for k in range(3):
        wk = gates(w[f"lstm.weight_ih_l{k}"])[None].astype(np.float32)
        rk = gates(w[f"lstm.weight_hh_l{k}"])[None].astype(np.float32)
        bk = np.concatenate([gates(w[f"lstm.bias_ih_l{k}"]), gates(w[f"lstm.bias_hh_l{k}"])])[
            None
        ].astype(np.float32)
        for name, arr in ((f"W{k}", wk), (f"R{k}", rk), (f"B{k}", bk)):
            inits.append(numpy_helper.from_array(arr, name))
        hidden = int(rk.shape[2])
        nodes.append(
            helper.make_node(
                "LSTM", [cur, f"W{k}", f"R{k}", f"B{k}"], [f"y{k}", f"h{k}"], hidden_size=hidden
            )
        )
        inits.append(numpy_helper.from_array(np.array([1], np.int64), f"ax{k}"))
        nodes.append(helper.make_node("Squeeze", [f"y{k}", f"ax{k}"], [f"s{k}"]))
        cur = f"s{k}"
    inits.append(numpy_helper.from_array(np.array([0], np.int64), "ax_h"))
    nodes.append(helper.make_node("Squeeze", ["h2", "ax_h"], ["last"]))
    inits.append(numpy_helper.from_array(w["linear.weight"].astype(np.float32), "LW"))
    inits.append(numpy_helper.from_array(w["linear.bias"].astype(np.float32), "LB"))
    nodes.append(helper.make_node("Gemm", ["last", "LW", "LB"], ["lin"], transB=1))
    nodes.append(helper.make_node("Relu", ["lin"], ["relu"]))
    nodes.append(helper.make_node("LpNormalization", ["relu"], ["embedding"], axis=1, p=2))
    graph = helper.make_graph(
        nodes,
        "ge2e",
        [helper.make_tensor_value_info("mels", TensorProto.FLOAT, ["batch", PARTIAL_FRAMES, 40])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 256])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


class VoiceEncoder:
    """GE2E encoder: (B, 160, 40) mel partials -> (B, 256) L2-normalised embeddings (ONNX)."""

    def __init__(self, settings: Settings, threads: int = 0) -> None:
        path = weights_path(settings)
        if not path.exists():
            raise SegmenterError(
                f"speaker-embedding weights missing ({path}); run "
                "`python -m callroles.models.embeddings` (part of deploy/setup.sh)"
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.enable_cpu_mem_arena = False
        self.session = ort.InferenceSession(
            _onnx_graph(dict(np.load(path))), opts, providers=["CPUExecutionProvider"]
        )

    def __call__(self, mels: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(mels, dtype=np.float32)
        return np.asarray(self.session.run(None, {"mels": x})[0])


def reference_embed(w: dict[str, np.ndarray], mels: np.ndarray) -> np.ndarray:
    """The same network written out in numpy (slow): checks the ONNX graph in tests."""
    x = np.asarray(mels, np.float32)
    b, t, _ = x.shape
    h = np.zeros((b, 256), np.float32)
    for k in range(3):
        w_ih, w_hh = w[f"lstm.weight_ih_l{k}"].T, w[f"lstm.weight_hh_l{k}"].T
        bias = w[f"lstm.bias_ih_l{k}"] + w[f"lstm.bias_hh_l{k}"]
        n = w_hh.shape[0]
        gx = (x.reshape(b * t, -1) @ w_ih + bias).reshape(b, t, 4 * n)
        h, c = np.zeros((b, n), np.float32), np.zeros((b, n), np.float32)
        outs = np.empty((b, t, n), np.float32)
        for step in range(t):
            g = gx[:, step] + h @ w_hh
            i, f = _sigmoid(g[:, :n]), _sigmoid(g[:, n : 2 * n])
            c = f * c + i * np.tanh(g[:, 2 * n : 3 * n])
            h = _sigmoid(g[:, 3 * n :]) * np.tanh(c)
            outs[:, step] = h
        x = outs
    e = np.maximum(h @ w["linear.weight"].T + w["linear.bias"], 0.0)
    return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-9)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


@functools.lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    return librosa.filters.mel(sr=RATE, n_fft=400, n_mels=40).astype(np.float32)


def partial_mels(wide: np.ndarray, starts_s: np.ndarray) -> np.ndarray:
    """Resemblyzer's (power) mel frames for 1.6 s partials starting at ``starts_s`` (16 kHz)."""
    y = np.asarray(wide, np.float32)
    rms = float(np.sqrt(np.mean(y**2))) if y.size else 0.0
    if rms > 0:  # Resemblyzer normalises to -30 dBFS, increase only
        gain = 10 ** ((-30 - 20 * np.log10(rms)) / 20)
        y = y * gain if gain > 1 else y
    spec = np.abs(librosa.stft(y, n_fft=400, hop_length=160, center=True)) ** 2
    mel = (_mel_basis() @ spec).T.astype(np.float32)  # (frames, 40)
    mel = np.concatenate([mel, np.zeros((PARTIAL_FRAMES, 40), np.float32)])
    first = np.round(np.asarray(starts_s) * 100).astype(int)
    return mel[first[:, None] + np.arange(PARTIAL_FRAMES)[None, :]]


if __name__ == "__main__":
    print(f"[setup] speaker-embedding weights in {provision(get_settings())}")
