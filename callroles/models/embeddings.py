"""Speaker embeddings (GE2E d-vectors, Resemblyzer 0.1.4's weights) in plain numpy, no torch.

Resemblyzer ships its trained 3-layer LSTM (``pretrained.pt``, MIT licence) in its PyPI wheel but
needs PyTorch (a multi-GB CUDA build on PyPI) to run it. The model is small: 40 mel bands at
16 kHz, 3 LSTM layers of 256, a linear layer, ReLU, L2 norm. The install step
(``callroles.deploy.provision``) extracts the weights from the wheel and keeps them as ``.npz``;
here they become an ONNX graph with native LSTM nodes, run by ONNX Runtime.
"""

from __future__ import annotations

import functools
from pathlib import Path

import librosa
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from callroles.base.settings import Settings
from callroles.models.errors import SegmenterError
from callroles.models.features import power_frames

RATE = 16000
PARTIAL_FRAMES = 160  # 1.6 s at 10 ms hop
#: two embeddings at least this alike are one voice: GE2E's equal-error threshold on whole
#: utterances in bench/results/voiceprint.json (real LibriSpeech voices through a phone line)
SAME_VOICE = 0.84


def weights_path(settings: Settings) -> Path:
    return settings.home / "resemblyzer" / "ge2e-0.1.4.npz"


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
                "`python -m callroles.deploy.provision` (part of deploy/setup.sh)"
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
    n = 1 + len(y) // 160
    mel = np.zeros((n + PARTIAL_FRAMES, 40), np.float32)  # (frames, 40), zeros past the end
    for a, power in power_frames(y, n_fft=400, hop_length=160):  # a chunk at a time
        mel[a : a + power.shape[1]] = (_mel_basis() @ power).T
    first = np.round(np.asarray(starts_s) * 100).astype(int)
    return mel[first[:, None] + np.arange(PARTIAL_FRAMES)[None, :]]
