"""Build the trunk-once graph: the conv trunk runs once per speaker stream, not once per window.

Windows slide by 1 s over 10 s, so per-window scoring convolves every frame ten times. The trunk
is translation-equivariant up to its pooling grid (27 frames per output step with the default
pools) and its zero padding at window edges, so running it once over a stream and cutting each
window's 37 steps out of the result gives *nearly* the per-window features. This module builds the
two ONNX pieces (trunk with a free time axis, native recurrent head) and measures speed and how
far the probabilities move. Workers score with it by default (``scoring=trunk-once``; same Eq. 5
labels, about 5x faster: export/README.md); the runtime side is ``callroles.models.trunk``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

from callroles.export.onnx_run import run_onnx
from callroles.export.optimize import pool_before_activation
from callroles.export.rnn_onnx import append_head, first_rnn_index
from callroles.models.features import slice_windows
from callroles.models.metadata import ModelMetadata, write_metadata
from callroles.models.trunk import join_windows, stream_path, window_offsets

TRUNK_KINDS = ("Rescaling", "Conv2D", "BatchNormalization", "Activation", "MaxPooling2D", "Dropout")
# Layers the stream graph replaces with its own input, reshapes and step slicing. Any other
# layer type in the trunk is refused: skipping it silently would score another model.
REPLACED_KINDS = ("InputLayer", "Reshape", "Permute")


def split_models(model: Any) -> tuple[Any, list[Any], int, int]:
    """(trunk Keras model on (batch, n_mels, time), head layers, frames per step, steps/window)."""
    import keras  # noqa: PLC0415 (Keras: loaded only to train or export)

    start = first_rnn_index(model)
    if start is None:
        raise ValueError("model has no recurrent layer")
    n_mels = int(model.inputs[0].shape[1])
    inp = keras.Input((n_mels, None), name="stream")
    x = keras.layers.Reshape((n_mels, -1, 1))(inp)
    stride = 1
    for layer in model.layers[:start]:
        kind = type(layer).__name__
        if kind not in TRUNK_KINDS + REPLACED_KINDS:
            raise ValueError(f"trunk-once scoring does not know layer {layer.name!r} ({kind})")
        if kind in TRUNK_KINDS:
            x = layer(x)
            if type(layer).__name__ == "MaxPooling2D":
                stride *= int(layer.strides[1])
    steps = int(model.layers[start].input.shape[1])
    return keras.Model(inp, x, name="stream_trunk"), list(model.layers[start:]), stride, steps


def trunk_onnx(trunk: Any) -> onnx.ModelProto:
    import tensorflow as tf  # noqa: PLC0415 (TensorFlow: loaded only to train or export)
    import tf2onnx  # noqa: PLC0415 (tf2onnx (TensorFlow): loaded only to export)

    n_mels = int(trunk.inputs[0].shape[1])
    spec = (tf.TensorSpec((None, n_mels, None), tf.float32, name="stream"),)
    proto, _ = tf2onnx.convert.from_keras(trunk, input_signature=spec, opset=17)
    pool_before_activation(proto)
    return proto


def stream_onnx(model: Any) -> tuple[onnx.ModelProto, dict[str, int]]:
    """One graph: ``stream`` (1, n_mels, frames) + ``offsets`` (N,) int64 -> (N, n_classes).

    The trunk runs once over the stream; window ``k`` reads the ``steps`` trunk outputs starting
    at ``offsets[k]`` (``round(k * frames_per_hop / frames_per_step)``), then the native head.
    """
    trunk, layers, stride, steps = split_models(model)
    n_classes = int(model.outputs[0].shape[-1])
    _, h, _, c = trunk.outputs[0].shape  # (batch, height, time, channels), NHWC
    proto = trunk_onnx(trunk)
    graph = proto.graph
    fmap = graph.output[0].name
    feats = int(h) * int(c)

    def const(name: str, value: np.ndarray) -> str:
        graph.initializer.append(onnx.numpy_helper.from_array(value, name))
        return name

    graph.input.append(helper.make_tensor_value_info("offsets", onnx.TensorProto.INT64, ["n"]))
    nodes = [  # (1, h, T, c) -> (T, h*c); idx = offsets[:, None] + arange(steps)
        helper.make_node("Transpose", [fmap], ["st/thc"], perm=[0, 2, 1, 3]),
        helper.make_node(
            "Reshape", ["st/thc", const("st/shape", np.array([-1, feats]))], ["st/seq"]
        ),
        helper.make_node("Unsqueeze", ["offsets", const("st/axis", np.array([1]))], ["st/off"]),
        helper.make_node("Add", ["st/off", const("st/range", np.arange(steps)[None])], ["st/idx"]),
        helper.make_node("Gather", ["st/seq", "st/idx"], ["st/windows"], axis=0),
    ]
    graph.node.extend(nodes)
    del graph.output[:]
    append_head(graph, "st/windows", layers, "probabilities")
    graph.output.append(
        helper.make_tensor_value_info("probabilities", onnx.TensorProto.FLOAT, ["n", n_classes])
    )
    onnx.checker.check_model(proto)
    return proto, {"frames_per_step": stride, "steps": steps}


class StreamScorer:
    """Trunk once per stream, then each window's steps through the head (one ONNX graph)."""

    def __init__(self, model: Any) -> None:
        proto, info = stream_onnx(model)
        self.stride, self.steps = info["frames_per_step"], info["steps"]
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        self.session = ort.InferenceSession(
            proto.SerializeToString(), so, providers=["CPUExecutionProvider"]
        )

    def score_stream(self, logmel: np.ndarray, n_windows: int) -> np.ndarray:
        """Probabilities of the ``n_windows`` windows 1 s apart over a (n_mels, frames) stream."""
        offsets = window_offsets(n_windows, self.stride, self.steps, logmel.shape[1] // self.stride)
        feed = {"stream": logmel[None].astype(np.float32), "offsets": offsets}
        return self.session.run(None, feed)[0]


def compare(model: Any, streams: list[np.ndarray], per_window: Any) -> dict[str, Any]:
    """Speed and agreement of trunk-once vs per-window scoring on (n_mels, frames) streams."""
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


def write_stream_model(
    model: Any, out: Path, parent: ModelMetadata, windows: np.ndarray
) -> dict[str, Any]:
    """Write the trunk-once graph next to ``out``, stamped with its parent's version, and
    report how far it moves from per-window scoring on ``windows`` (treated as one stream)."""
    proto, info = stream_onnx(model)
    meta = dataclasses.replace(
        parent, variant="stream", stream={**info, "parent": parent.graph_sha256}
    )
    write_metadata(proto, meta)
    path = stream_path(out)
    onnx.save(proto, str(path))
    result: dict[str, Any] = {"path": str(path), "size_bytes": path.stat().st_size, **info}
    stream = join_windows(windows)
    if stream is not None:
        sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        offsets = window_offsets(
            len(windows),
            info["frames_per_step"],
            info["steps"],
            stream.shape[1] // info["frames_per_step"],
        )
        got = sess.run(None, {"stream": stream[None], "offsets": offsets})[0]
        ref = run_onnx(onnx.load(str(out)), windows)
        result["max_abs_diff_vs_per_window"] = float(np.abs(ref - got).max())
        result["argmax_agreement_vs_per_window"] = float(np.mean(ref.argmax(1) == got.argmax(1)))
    return result
