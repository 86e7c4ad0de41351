"""Native ONNX GRU/LSTM for the recurrent head of a Keras 3 CRNN.

tf2onnx 1.17 turns Keras 3 recurrent layers into ONNX ``Loop`` nodes (its GRU/LSTM rewriters
match the graphs tf.keras 2 produced, not Keras 3's). A Loop runs one small sub-graph per time
step through the ONNX Runtime interpreter. So the export splits the model at its first recurrent
layer: tf2onnx converts the convolutional trunk, and the head (bidirectional GRU/LSTM stacks,
dropout, dense, softmax) is written here as native ``GRU``/``LSTM``/``MatMul`` nodes from the Keras
weights. Keras and ONNX share the GRU gate order (z, r, h); Keras' ``reset_after`` is ONNX's
``linear_before_reset``; LSTM gates go from Keras' (i, f, c, o) to ONNX's (i, o, f, c).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from callroles.export.errors import ExportError

RNN_TYPES = ("GRU", "LSTM")
HEAD_PASSTHROUGH = ("Dropout", "GaussianNoise", "GaussianDropout", "SpatialDropout1D")
ACTIVATIONS = {"softmax": "Softmax", "relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}


def _kind(layer: Any) -> str:
    return type(layer).__name__


def first_rnn_index(model: Any) -> int | None:
    """Index in ``model.layers`` of the first recurrent (or bidirectional) layer, if any."""
    for i, layer in enumerate(model.layers):
        kind = _kind(layer)
        if kind in RNN_TYPES or (
            kind == "Bidirectional" and _kind(layer.forward_layer) in RNN_TYPES
        ):
            return i
    return None


def _check_rnn(layer: Any) -> None:
    cell = layer.cell
    act, rec = cell.activation.__name__, cell.recurrent_activation.__name__
    problems = []
    if (act, rec) != ("tanh", "sigmoid"):
        problems.append(f"activations {act}/{rec} (need tanh/sigmoid)")
    if not cell.use_bias:
        problems.append("use_bias=False")
    if getattr(layer, "return_state", False) or getattr(layer, "stateful", False):
        problems.append("return_state or stateful")
    if problems:
        raise ExportError(
            f"layer {layer.name}: {', '.join(problems)} has no native ONNX mapping here; "
            "export with rnn_export='loop'"
        )


def _gru_weights(layer: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(W, R, B) of one direction in ONNX layout, and linear_before_reset."""
    kernel, recurrent, bias = (np.asarray(w, dtype=np.float32) for w in layer.get_weights())
    if layer.cell.reset_after:
        b = np.concatenate([bias[0], bias[1]])
        lbr = 1
    else:
        b = np.concatenate([bias, np.zeros_like(bias)])
        lbr = 0
    return kernel.T, recurrent.T, b, lbr


def _lstm_weights(layer: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(W, R, B) of one direction in ONNX layout (gates reordered ifco -> iofc)."""
    kernel, recurrent, bias = (np.asarray(w, dtype=np.float32) for w in layer.get_weights())
    u = recurrent.shape[0]

    def reorder(a: np.ndarray) -> np.ndarray:
        i, f, c, o = (a[..., k * u : (k + 1) * u] for k in range(4))
        return np.concatenate([i, o, f, c], axis=-1)

    b = reorder(bias)
    return reorder(kernel).T, reorder(recurrent).T, np.concatenate([b, np.zeros_like(b)]), 0


class _Head:
    """Appends nodes and initializers to a graph, tracking the current tensor name."""

    def __init__(self, graph: onnx.GraphProto, current: str) -> None:
        self.graph = graph
        self.current = current
        self.n = 0
        self.seq_major = False  # True once the tensor is [T, B, F]

    def name(self, base: str) -> str:
        self.n += 1
        return f"head/{base}_{self.n}"

    def const(self, base: str, value: np.ndarray) -> str:
        name = self.name(base)
        self.graph.initializer.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], n_out: int = 1, **attrs: Any) -> list[str]:
        outs = [self.name(op.lower()) for _ in range(n_out)]
        self.graph.node.append(helper.make_node(op, inputs, outs, name=self.name(op), **attrs))
        return outs

    def rnn(self, layer: Any) -> None:
        """One GRU/LSTM (plain or bidirectional, concat merge) as a single native node."""
        if _kind(layer) == "Bidirectional":
            if layer.merge_mode != "concat":
                raise ExportError(
                    f"layer {layer.name}: merge_mode {layer.merge_mode!r} unsupported"
                )
            directions = [layer.forward_layer, layer.backward_layer]
            direction = "bidirectional"
            returns_seq = layer.forward_layer.return_sequences
        else:
            if layer.go_backwards:
                raise ExportError(f"layer {layer.name}: go_backwards alone is not supported")
            directions = [layer]
            direction = "forward"
            returns_seq = layer.return_sequences
        op = _kind(directions[0])
        for d in directions:
            _check_rnn(d)
        per_dir = [(_gru_weights if op == "GRU" else _lstm_weights)(d) for d in directions]
        w = np.stack([p[0] for p in per_dir])
        r = np.stack([p[1] for p in per_dir])
        b = np.stack([p[2] for p in per_dir])
        units = r.shape[-1]
        if not self.seq_major:  # [B, T, F] -> [T, B, F]
            self.current = self.node("Transpose", [self.current], perm=[1, 0, 2])[0]
            self.seq_major = True
        attrs: dict[str, Any] = {"hidden_size": units, "direction": direction}
        if op == "GRU":
            attrs["linear_before_reset"] = per_dir[0][3]
        inputs = [self.current, self.const("W", w), self.const("R", r), self.const("B", b)]
        y, y_h = self.node(op, inputs, n_out=2, **attrs)[:2]
        flat = self.const("shape", np.array([0, 0, -1] if returns_seq else [0, -1], np.int64))
        if returns_seq:  # Y [T, D, B, H] -> [T, B, D*H] (Keras concat order: forward, backward)
            t = self.node("Transpose", [y], perm=[0, 2, 1, 3])[0]
        else:  # Y_h [D, B, H] -> [B, D*H]
            t = self.node("Transpose", [y_h], perm=[1, 0, 2])[0]
            self.seq_major = False
        self.current = self.node("Reshape", [t, flat])[0]

    def activation(self, name: str, layer_name: str) -> None:
        if name == "linear":
            return
        if name not in ACTIVATIONS:
            raise ExportError(f"layer {layer_name}: activation {name!r} is not mapped")
        attrs = {"axis": -1} if name == "softmax" else {}
        self.current = self.node(ACTIVATIONS[name], [self.current], **attrs)[0]

    def dense(self, layer: Any) -> None:
        if self.seq_major:
            raise ExportError(f"layer {layer.name}: Dense on a sequence is not supported")
        weights = [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]
        self.current = self.node("MatMul", [self.current, self.const("kernel", weights[0])])[0]
        if len(weights) > 1:
            self.current = self.node("Add", [self.current, self.const("bias", weights[1])])[0]
        self.activation(layer.activation.__name__, layer.name)


def append_head(graph: onnx.GraphProto, trunk_output: str, layers: list[Any], output: str) -> None:
    """Write ``layers`` (the model after its conv trunk) as native nodes; rename the result."""
    head = _Head(graph, trunk_output)
    for layer in layers:
        kind = _kind(layer)
        if kind in RNN_TYPES or kind == "Bidirectional":
            head.rnn(layer)
        elif kind in HEAD_PASSTHROUGH:
            continue  # identity at inference
        elif kind == "Dense":
            head.dense(layer)
        elif kind == "Activation":
            head.activation(layer.activation.__name__, layer.name)
        elif kind == "Softmax":
            head.activation("softmax", layer.name)
        else:
            raise ExportError(
                f"layer {layer.name} ({kind}) after the first recurrent layer has no native "
                "mapping; export with rnn_export='loop'"
            )
    if head.seq_major:
        raise ExportError("the model ends on a sequence; expected (batch, n_classes) output")
    graph.node.append(helper.make_node("Identity", [head.current], [output], name="head/output"))
