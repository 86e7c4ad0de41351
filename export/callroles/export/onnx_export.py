"""Keras CRNN -> ONNX, with metadata and a parity check on real windows at every export.

Workers score with ONNX Runtime, never TensorFlow; so the exported file must reproduce the Keras
model (checked here, max abs diff <= 1e-4 on real windows, or :class:`ParityError`) and carry
everything a worker needs to trust it (see :mod:`callroles.models.metadata`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from callroles.export.errors import ExportError, ParityError
from callroles.export.onnx_run import INPUT_NAME, run_onnx
from callroles.export.optimize import pool_before_activation
from callroles.export.rnn_onnx import append_head, first_rnn_index
from callroles.export.stream_trunk import write_stream_model
from callroles.export.variants import make_variant
from callroles.models.metadata import ModelMetadata, write_metadata

log = logging.getLogger(__name__)

OUTPUT_NAME = "probabilities"
OPSET = 17
PARITY_TOL = 1e-4
RECURRENT_LOOP_OPS = ("Loop", "Scan")


@dataclass
class ExportReport:
    """What an export produced and how closely it matches Keras."""

    path: str
    metadata: dict[str, Any]
    parity_max_abs_diff: float
    parity_windows: int
    op_counts: dict[str, int]
    seconds: float
    size_bytes: int
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def _quiet_tf() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def tf2onnx_graph(model: Any, opset: int, input_name: str = INPUT_NAME) -> onnx.ModelProto:
    """tf2onnx's conversion of a Keras 3 model, any batch size, input called ``input_name``."""
    import tensorflow as tf  # noqa: PLC0415 (TensorFlow: loaded only to train or export)
    import tf2onnx  # noqa: PLC0415 (tf2onnx (TensorFlow): loaded only to export)

    spec = (tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32, name=input_name),)
    try:
        proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=opset)
    except Exception as exc:  # tf2onnx raises a zoo of types
        msg = f"tf2onnx could not convert {model.name}: {type(exc).__name__}: {exc}"
        raise ExportError(msg) from exc
    return proto


def _head_layers(model: Any, start: int) -> list[Any]:
    layers = list(model.layers[start:])
    for prev, layer in zip(layers, layers[1:], strict=False):
        if layer.input is not prev.output:
            raise ExportError(
                f"layer {layer.name} does not take {prev.name}'s output: the recurrent head is not "
                "a simple chain; export with rnn_export='loop'"
            )
    if layers and layers[-1].output is not model.outputs[0]:
        raise ExportError("the last layer is not the model's output; export with rnn_export='loop'")
    return layers


def _fix_io(proto: onnx.ModelProto, n_classes: int) -> None:
    """Name input/output ``windows``/``probabilities`` with a symbolic ``batch`` axis."""
    graph = proto.graph
    graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    del graph.output[:]
    graph.output.append(
        onnx.helper.make_tensor_value_info(
            OUTPUT_NAME, onnx.TensorProto.FLOAT, ["batch", n_classes]
        )
    )


def keras_to_onnx(
    model: Any, *, rnn_export: str = "native", opset: int = OPSET, optimize: bool = True
) -> onnx.ModelProto:
    """Convert a Keras 3 model whose input is ``(batch, 96, 1000)`` to an ONNX model.

    ``rnn_export="native"`` writes recurrent layers as ONNX GRU/LSTM ops (see ``rnn_onnx``);
    ``"loop"`` keeps tf2onnx's own conversion (Loop nodes), for comparison or odd heads.
    ``optimize`` applies the exact rewrites of :mod:`callroles.export.optimize`.
    """
    import keras  # noqa: PLC0415 (Keras: loaded only to train or export)

    _quiet_tf()
    n_classes = int(model.outputs[0].shape[-1])
    if rnn_export == "loop":
        proto = tf2onnx_graph(model, opset)
        old = proto.graph.output[0].name
        proto.graph.node.append(onnx.helper.make_node("Identity", [old], [OUTPUT_NAME]))
    elif rnn_export == "native":
        start = first_rnn_index(model)
        if start is None:
            raise ExportError(f"{model.name} has no GRU/LSTM layer; export with rnn_export='loop'")
        head = _head_layers(model, start)
        trunk = keras.Model(model.inputs, model.layers[start].input, name=f"{model.name}_trunk")
        proto = tf2onnx_graph(trunk, opset)
        append_head(proto.graph, proto.graph.output[0].name, head, OUTPUT_NAME)
    else:
        raise ExportError(f"rnn_export must be 'native' or 'loop', not {rnn_export!r}")
    if proto.graph.input[0].name != INPUT_NAME:
        raise ExportError(f"unexpected ONNX input name {proto.graph.input[0].name!r}")
    _fix_io(proto, n_classes)
    if optimize:
        pool_before_activation(proto)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:
        raise ExportError(f"the exported graph does not pass the ONNX checker: {exc}") from exc
    return proto


def op_counts(proto: onnx.ModelProto) -> dict[str, int]:
    """Top-level operator histogram (shows at a glance whether recurrent layers became Loops)."""
    return dict(sorted(Counter(n.op_type for n in proto.graph.node).items()))


def run_keras(model: Any, windows: np.ndarray, batch: int = 64) -> np.ndarray:
    """Keras inference (``training=False``) in batches."""
    out = [
        np.asarray(model(windows[i : i + batch].astype(np.float32), training=False))
        for i in range(0, len(windows), batch)
    ]
    return np.concatenate(out)


def check_parity(
    model: Any, proto: onnx.ModelProto, windows: np.ndarray, tol: float = PARITY_TOL
) -> float:
    """Max abs difference of Keras and ONNX outputs on ``windows``; ParityError above ``tol``."""
    if windows.ndim != 3 or len(windows) == 0:
        raise ExportError(f"parity needs windows of shape (N, 96, 1000), got {windows.shape}")
    expected = run_keras(model, windows)
    got = run_onnx(proto, windows)
    diff = float(np.max(np.abs(expected - got)))
    if not np.isfinite(diff) or diff > tol:
        worst = np.unravel_index(int(np.nanargmax(np.abs(expected - got))), got.shape)
        raise ParityError(
            f"ONNX output {OUTPUT_NAME!r} differs from Keras by {diff:.3g} (> {tol:g}) at window "
            f"{worst[0]}, class {worst[1]}, over {len(windows)} windows; the conversion is wrong, "
            "do not ship this file"
        )
    return diff


def export_model(
    model: Any,
    out: Path,
    meta: ModelMetadata,
    windows: np.ndarray,
    *,
    labels: np.ndarray | None = None,
    variants: tuple[str, ...] = (),
    rnn_export: str = "native",
    tol: float = PARITY_TOL,
    stream: bool = True,
) -> ExportReport:
    """Convert, check parity on ``windows``, stamp metadata, write ``out`` (+ variants, and the
    trunk-once graph ``<stem>.stream.onnx`` used by ``RoleModel.score_speaker``)."""

    started = time.perf_counter()
    proto = keras_to_onnx(model, rnn_export=rnn_export)
    diff = check_parity(model, proto, windows, tol)
    meta = ModelMetadata(**{**meta.__dict__, "rnn_export": rnn_export, "variant": "fp32"})
    stamped = write_metadata(proto, meta)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(out))
    log.info("exported %s (max abs diff %.2g on %d windows)", out, diff, len(windows))
    report = ExportReport(
        path=str(out),
        metadata={**stamped.__dict__, "model_version": stamped.model_version},
        parity_max_abs_diff=diff,
        parity_windows=int(len(windows)),
        op_counts=op_counts(proto),
        seconds=round(time.perf_counter() - started, 2),
        size_bytes=out.stat().st_size,
    )
    for kind in variants:
        report.variants[kind] = make_variant(proto, kind, out, windows, labels)
    if stream:
        report.variants["stream"] = write_stream_model(model, out, stamped, windows)
    return report
