"""Experiment: run the conv trunk once per speaker stream instead of once per window.

Windows slide by 1 s over 10 s, so per-window scoring convolves every frame ten times. The trunk
is translation-equivariant up to its pooling grid (27 frames per output step with the default
pools) and its zero padding at window edges, so running it once over a stream and cutting each
window's 37 steps out of the result gives *nearly* the per-window features. This module builds the
two ONNX pieces (trunk with a free time axis, native recurrent head) and measures speed and how
far the probabilities move; it is not used by the scorer unless the figures justify it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import onnx
from onnx import helper

from callroles.export.rnn_onnx import append_head, first_rnn_index

TRUNK_KINDS = ("Conv2D", "BatchNormalization", "Activation", "MaxPooling2D", "Dropout")


def split_models(model: Any) -> tuple[Any, list[Any], int, int]:
    """(trunk Keras model on (batch, n_mels, time), head layers, frames per step, steps/window)."""
    import keras

    start = first_rnn_index(model)
    if start is None:
        raise ValueError("model has no recurrent layer")
    n_mels = int(model.inputs[0].shape[1])
    inp = keras.Input((n_mels, None), name="stream")
    x = keras.layers.Reshape((n_mels, -1, 1))(inp)
    stride = 1
    for layer in model.layers[:start]:
        if type(layer).__name__ in TRUNK_KINDS:
            x = layer(x)
            if type(layer).__name__ == "MaxPooling2D":
                stride *= int(layer.strides[1])
    steps = int(model.layers[start].input.shape[1])
    return keras.Model(inp, x, name="stream_trunk"), list(model.layers[start:]), stride, steps


def head_onnx(layers: list[Any], feats: int, n_classes: int) -> onnx.ModelProto:
    """The recurrent head alone, input ``sequence`` (batch, steps, feats), native GRU/LSTM."""
    seq = helper.make_tensor_value_info(
        "sequence", onnx.TensorProto.FLOAT, ["batch", "steps", feats]
    )
    out = helper.make_tensor_value_info(
        "probabilities", onnx.TensorProto.FLOAT, ["batch", n_classes]
    )
    graph = helper.make_graph([], "head", [seq], [out])
    append_head(graph, "sequence", layers, "probabilities")
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(proto)
    return proto


def trunk_onnx(trunk: Any) -> onnx.ModelProto:
    import tensorflow as tf
    import tf2onnx

    from callroles.export.optimize import pool_before_activation

    n_mels = int(trunk.inputs[0].shape[1])
    spec = (tf.TensorSpec((None, n_mels, None), tf.float32, name="stream"),)
    proto, _ = tf2onnx.convert.from_keras(trunk, input_signature=spec, opset=17)
    pool_before_activation(proto)
    return proto


class StreamScorer:
    """Trunk once per stream, then each window's steps through the head."""

    def __init__(self, model: Any) -> None:
        import onnxruntime as ort

        trunk, layers, self.stride, self.steps = split_models(model)
        n_classes = int(model.outputs[0].shape[-1])
        self.frames_per_hop = 100
        out_shape = trunk.outputs[0].shape  # (batch, h, time, channels)
        self.feats = int(out_shape[1]) * int(out_shape[3])
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        providers = ["CPUExecutionProvider"]
        self.trunk = ort.InferenceSession(
            trunk_onnx(trunk).SerializeToString(), so, providers=providers
        )
        head = head_onnx(layers, self.feats, n_classes).SerializeToString()
        self.head = ort.InferenceSession(head, so, providers=providers)

    def score_stream(self, logmel: np.ndarray, n_windows: int) -> np.ndarray:
        """Probabilities of the ``n_windows`` windows 1 s apart over a (n_mels, frames) stream."""
        fmap = self.trunk.run(None, {"stream": logmel[None].astype(np.float32)})[0][0]
        h, t, c = fmap.shape
        seq = fmap.transpose(1, 0, 2).reshape(t, h * c)
        offsets = [
            min(round(k * self.frames_per_hop / self.stride), t - self.steps)
            for k in range(n_windows)
        ]
        batch = np.stack([seq[o : o + self.steps] for o in offsets])
        return self.head.run(None, {"sequence": batch})[0]


def compare(model: Any, streams: list[np.ndarray], per_window: Any) -> dict[str, Any]:
    """Speed and agreement of trunk-once vs per-window scoring on (n_mels, frames) streams."""
    from callroles.audio.windows import slice_windows

    scorer = StreamScorer(model)
    rows = []
    t_win = t_stream = 0.0
    for logmel in streams:
        windows = np.ascontiguousarray(slice_windows(logmel))
        if len(windows) == 0:
            continue
        t0 = time.perf_counter()
        ref = per_window(windows)
        t_win += time.perf_counter() - t0
        t0 = time.perf_counter()
        got = scorer.score_stream(logmel, len(windows))
        t_stream += time.perf_counter() - t0
        rows.append(
            {
                "windows": len(windows),
                "max_abs_diff": float(np.abs(ref - got).max()),
                "mean_abs_diff": float(np.abs(ref - got).mean()),
                "window_argmax_agreement": float(np.mean(ref.argmax(1) == got.argmax(1))),
                "eq4_mean_abs_diff": float(np.abs(ref.mean(0) - got.mean(0)).max()),
                "eq5_same_label": bool(ref.mean(0).argmax() == got.mean(0).argmax()),
            }
        )
    n = sum(r["windows"] for r in rows)
    return {
        "frames_per_step": scorer.stride,
        "streams": rows,
        "windows": n,
        "per_window_s": round(t_win, 3),
        "trunk_once_s": round(t_stream, 3),
        "speedup": round(t_win / t_stream, 2) if t_stream else None,
    }
