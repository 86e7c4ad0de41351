"""ONNX export: parity with Keras on real windows, metadata round trip, native recurrent ops."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from callroles.base.cli import main
from callroles.export.errors import ParityError
from callroles.export.onnx_export import (
    check_parity,
    keras_to_onnx,
    op_counts,
    run_keras,
    run_onnx,
)
from callroles.models.errors import ModelCorruptError
from callroles.models.features import DEFAULT_SPEC
from callroles.models.metadata import read_metadata
from callroles.training.model import build_crnn


def test_parity_and_metadata_round_trip(exported: tuple[Path, Any], crnn_gru: Any) -> None:
    path, report = exported
    assert report.parity_max_abs_diff <= 1e-4
    meta = read_metadata(onnx.load(str(path)), source=str(path))
    assert meta.classes == ("customer", "agent")
    assert meta.n_classes == 2 and meta.rnn == "gru" and meta.variant == "fp32"
    assert meta.param_count == crnn_gru.count_params() == 118_478
    assert meta.data_summary == {"corpus": "none (untrained test model)"}
    assert meta.rnn_export == "native"
    assert meta.model_version == meta.graph_sha256[:12] == report.metadata["model_version"]


def test_batch_axis_is_dynamic(
    exported: tuple[Path, Any], crnn_gru: Any, real_windows: np.ndarray
) -> None:
    proto = onnx.load(str(exported[0]))
    dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_param == "batch"
    for n in (1, 3):
        got = run_onnx(proto, real_windows[:n], batch=n)
        assert got.shape == (n, 2)
        np.testing.assert_allclose(got, run_keras(crnn_gru, real_windows[:n]), atol=1e-4)


def test_recurrent_layers_are_native_ops(exported: tuple[Path, Any]) -> None:
    counts = op_counts(onnx.load(str(exported[0])))
    assert counts.get("GRU") == 2
    assert "Loop" not in counts and "Scan" not in counts
    # ELU moved after max pooling (exact rewrite): every Elu now reads a MaxPool output
    proto = onnx.load(str(exported[0]))
    producers = {o: n.op_type for n in proto.graph.node for o in n.output}
    assert [producers[n.input[0]] for n in proto.graph.node if n.op_type == "Elu"] == [
        "MaxPool"
    ] * 4


def test_lstm_four_classes_native_and_loop_agree(real_windows: np.ndarray) -> None:
    import keras  # noqa: PLC0415 (Keras: loaded only to train or export)

    keras.utils.set_random_seed(3)
    model = build_crnn(4, "lstm")
    native = keras_to_onnx(model)
    assert op_counts(native).get("LSTM") == 2
    assert check_parity(model, native, real_windows[:4]) <= 1e-4
    loop = keras_to_onnx(model, rnn_export="loop", optimize=False)
    np.testing.assert_allclose(
        run_onnx(native, real_windows[:4]), run_onnx(loop, real_windows[:4]), atol=1e-5
    )


def test_parity_failure_names_output_and_difference(
    exported: tuple[Path, Any], crnn_gru: Any, real_windows: np.ndarray
) -> None:
    proto = onnx.load(str(exported[0]))
    bias = next(i for i in proto.graph.initializer if i.name.startswith("head/bias"))
    values = onnx.numpy_helper.to_array(bias) + np.array([3.0, -3.0], dtype=np.float32)
    bias.CopyFrom(onnx.numpy_helper.from_array(values, bias.name))
    with pytest.raises(ParityError) as info:
        check_parity(crnn_gru, proto, real_windows[:4])
    assert "'probabilities'" in str(info.value) and "differs from Keras by" in str(info.value)
    assert info.value.code == "export_parity"


def test_changed_graph_fails_checksum(exported: tuple[Path, Any]) -> None:
    proto = onnx.load(str(exported[0]))
    proto.graph.node[-1].name = "tampered"
    with pytest.raises(ModelCorruptError, match="checksum"):
        read_metadata(proto)


def test_variants_report_accuracy_change(exported: tuple[Path, Any]) -> None:
    _, report = exported
    for kind in ("fp16", "int8"):
        variant = report.variants[kind]
        meta = read_metadata(onnx.load(variant["path"]))
        assert meta.variant == kind
        assert variant["size_bytes"] < report.size_bytes
        assert "accuracy_change" in variant and variant["windows"] == report.parity_windows
    assert report.variants["fp16"]["max_abs_diff_vs_fp32"] < 1e-2
    assert report.variants["int8"]["argmax_agreement_vs_fp32"] >= 0.75


def test_cli_exports_a_run_folder(
    tmp_path: Path, crnn_gru: Any, real_windows: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run folder as training leaves it; parity windows come from its dataset tree."""

    run = tmp_path / "runs" / "gru2"
    run.mkdir(parents=True)
    crnn_gru.save(run / "model.keras")
    data = tmp_path / "dbas"
    for i, (role, gender) in enumerate([("agent", "female"), ("customer", "male")]):
        spk = data / "validation" / role / gender / f"S{i}"
        spk.mkdir(parents=True)
        for j in range(2):
            np.save(spk / f"{j}.npy", real_windows[2 * i + j])
    meta = {
        "name": "gru2",
        "classes": ["customer", "agent"],
        "rnn": "gru",
        "feature_spec": DEFAULT_SPEC.to_dict(),
        "data": {"dir": str(data), "train": {"windows": 0}},
        "evaluation": {"window_accuracy": 0.5},
        "training": {"best_epoch": 1},
    }
    (run / "meta.json").write_text(json.dumps(meta))
    out = tmp_path / "out" / "model.onnx"
    assert main(["export", str(run), "--out", str(out)]) == 0
    assert "parity max abs diff" in capsys.readouterr().out
    exported = read_metadata(onnx.load(str(out)))
    assert exported.model_name == "gru2" and exported.evaluation["window_accuracy"] == 0.5
    assert exported.data_summary["dir"] == str(data)
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert report["parity_windows"] == 4 and report["parity_max_abs_diff"] <= 1e-4
    empty = tmp_path / "empty_run"
    empty.mkdir()
    assert main(["export", str(empty), "--out", str(out)]) == 1
    assert "model_missing" in capsys.readouterr().err
