"""Reduced-precision variants of an exported model, with their accuracy change measured.

``fp16``: weights stored as float16 and cast back to float32 at load, so it runs on any ONNX
Runtime provider (CPU has few float16 kernels) and halves the file; ``int8``: ONNX Runtime dynamic
quantization (int8 weights, activations quantized per batch at run time).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from callroles.export.errors import ExportError
from callroles.export.onnx_run import run_onnx
from callroles.models.metadata import read_metadata, write_metadata

KINDS = ("fp16", "int8")


def fp16_weights(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Copy of ``proto`` whose float32 initializers are stored as float16 (+ a Cast each)."""
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    graph = out.graph
    casts = []
    kept = []
    for init in graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or np.prod(init.dims) < 16:
            kept.append(init)
            continue
        half = numpy_helper.from_array(
            numpy_helper.to_array(init).astype(np.float16), init.name + "/fp16"
        )
        kept.append(half)
        casts.append(
            helper.make_node(
                "Cast",
                [half.name],
                [init.name],
                to=onnx.TensorProto.FLOAT,
                name=init.name + "/cast",
            )
        )
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    return out


def int8_dynamic(proto: onnx.ModelProto) -> onnx.ModelProto:
    """ONNX Runtime dynamic quantization (uint8 weights: CPU ConvInteger has no int8 kernel)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: PLC0415 (~0.1 s: int8 only)

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(proto, str(src))
        try:
            quantize_dynamic(src, dst, weight_type=QuantType.QUInt8)
        except Exception as exc:
            raise ExportError(
                f"dynamic int8 quantization failed: {type(exc).__name__}: {exc}"
            ) from exc
        return onnx.load(str(dst))


def make_variant(
    proto: onnx.ModelProto,
    kind: str,
    out: Path,
    windows: np.ndarray,
    labels: np.ndarray | None,
) -> dict[str, Any]:
    """Write ``<out stem>.<kind>.onnx`` and report how far its outputs move from float32."""

    if kind not in KINDS:
        raise ExportError(f"unknown variant {kind!r}; choose from {', '.join(KINDS)}")
    meta = read_metadata(proto, source="fp32 model")
    variant = fp16_weights(proto) if kind == "fp16" else int8_dynamic(proto)
    write_metadata(variant, type(meta)(**{**meta.__dict__, "variant": kind}))
    path = out.with_name(f"{out.stem}.{kind}.onnx")
    onnx.save(variant, str(path))
    ref = run_onnx(proto, windows)
    got = run_onnx(variant, windows)
    result: dict[str, Any] = {
        "path": str(path),
        "size_bytes": path.stat().st_size,
        "max_abs_diff_vs_fp32": float(np.max(np.abs(ref - got))),
        "argmax_agreement_vs_fp32": float(np.mean(ref.argmax(1) == got.argmax(1))),
        "windows": int(len(windows)),
    }
    if labels is not None:
        result["accuracy_fp32"] = float(np.mean(ref.argmax(1) == labels))
        result["accuracy"] = float(np.mean(got.argmax(1) == labels))
        result["accuracy_change"] = result["accuracy"] - result["accuracy_fp32"]
    return result
