"""The scorer: batch shapes, session cache, and typed refusals of bad model files."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from callroles.base.errors import ConfigError, ModelError
from callroles.call.scoring import score_stream
from callroles.export.onnx_export import run_onnx
from callroles.frontend.decode import decode
from callroles.models.crnn import RoleModel, WindowsError, _cuda_usable
from callroles.models.errors import (
    ModelCorruptError,
    ModelForeignError,
    ModelMissingError,
    ModelSpecError,
)
from callroles.models.features import DEFAULT_SPEC, stream_windows
from callroles.models.metadata import ModelMetadata, read_metadata, write_metadata


@pytest.fixture()
def scorer(exported: tuple[Path, Any]) -> RoleModel:
    return RoleModel.load(exported[0], execution_provider="cpu")


def test_scores_batches_with_the_right_shapes(
    scorer: RoleModel, exported: tuple[Path, Any], real_windows: np.ndarray
) -> None:
    assert scorer.classes == ("customer", "agent") and scorer.provider == "CPUExecutionProvider"
    scorer.max_batch = 5  # several session runs for 16 windows
    probs = scorer.score(real_windows)
    assert probs.shape == (len(real_windows), 2) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(
        probs, run_onnx(onnx.load(str(exported[0])), real_windows), atol=1e-6
    )
    assert scorer.score(real_windows[:0]).shape == (0, 2)
    scorer.max_batch = 64


def test_one_session_per_process(exported: tuple[Path, Any]) -> None:
    a = RoleModel.load(exported[0], execution_provider="cpu")
    assert RoleModel.load(str(exported[0]), execution_provider="cpu") is a


def test_bad_windows_are_refused(scorer: RoleModel, real_windows: np.ndarray) -> None:
    with pytest.raises(WindowsError, match=r"\(N, 96, 1000\)"):
        scorer.score(real_windows[:, :64])
    bad = real_windows[:2].copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(WindowsError, match="NaN"):
        scorer.score(bad)


def _restamp(path: Path, out: Path, **changes: Any) -> Path:
    proto = onnx.load(str(path))
    meta = read_metadata(proto)
    write_metadata(proto, dataclasses.replace(meta, **changes))
    onnx.save(proto, str(out))
    return out


def test_refuses_another_feature_spec(exported: tuple[Path, Any], tmp_path: Path) -> None:
    spec = {**DEFAULT_SPEC.to_dict(), "fmax": 3800.0}
    other = _restamp(exported[0], tmp_path / "other_spec.onnx", feature_spec=spec)
    with pytest.raises(ModelSpecError, match="fmax: model 3800.0 vs front end 4000.0") as info:
        RoleModel.load(other, execution_provider="cpu")
    assert info.value.code == "model_feature_spec"
    unknown = _restamp(exported[0], tmp_path / "unknown.onnx", feature_spec={"bins": 3})
    with pytest.raises(ModelSpecError, match="does not know"):
        RoleModel.load(unknown, execution_provider="cpu")


def test_refuses_missing_corrupt_and_tampered_files(
    exported: tuple[Path, Any], tmp_path: Path
) -> None:
    with pytest.raises(ModelMissingError) as missing:
        RoleModel.load(tmp_path / "nope.onnx")
    assert missing.value.code == "model_missing"
    data = exported[0].read_bytes()
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"RIFF\x00\x00WAVEfmt not a model at all" * 10)
    for bad in (truncated, garbage):
        with pytest.raises(ModelCorruptError) as info:
            RoleModel.load(bad, execution_provider="cpu")
        assert info.value.code == "model_corrupt"
    proto = onnx.load(str(exported[0]))
    weight = next(i for i in proto.graph.initializer if i.name.startswith("head/kernel"))
    arr = onnx.numpy_helper.to_array(weight) * 2
    weight.CopyFrom(onnx.numpy_helper.from_array(arr, weight.name))
    tampered = tmp_path / "tampered.onnx"
    onnx.save(proto, str(tampered))
    with pytest.raises(ModelCorruptError, match="checksum"):
        RoleModel.load(tampered, execution_provider="cpu")


def test_refuses_foreign_onnx(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 96, 1000])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 96, 1000])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "foreign", [x], [y])
    foreign = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(graph), str(foreign))
    with pytest.raises(ModelForeignError, match="not one exported by callroles"):
        RoleModel.load(foreign, execution_provider="cpu")
    # callroles metadata on a graph of the wrong shape: still foreign
    proto = onnx.load(str(foreign))

    write_metadata(proto, ModelMetadata(DEFAULT_SPEC.to_dict(), ("customer", "agent"), "gru", 0))
    onnx.save(proto, str(foreign))
    with pytest.raises(ModelForeignError, match=r"\(batch, 2\)"):
        RoleModel.load(foreign, execution_provider="cpu")


def test_execution_provider_setting(exported: tuple[Path, Any]) -> None:
    with pytest.raises(ConfigError):
        RoleModel.load(exported[0], execution_provider="tpu")
    if not _cuda_usable():
        with pytest.raises(ConfigError, match="cuda"):
            RoleModel.load(exported[0], execution_provider="cuda")


def test_trunk_once_scoring(exported: tuple[Path, Any], reference_dir: Path) -> None:

    exact = RoleModel.load(exported[0], execution_provider="cpu", stream_trunk=False)
    fast = RoleModel.load(exported[0], execution_provider="cpu")
    assert fast is not exact and fast.stream_info["frames_per_step"] == 27
    assert fast.stream_info["steps"] == 37
    audio = decode(reference_dir / "lamartine.wav").channels[0]
    win = stream_windows(audio)
    # one window: the stream is the window, so trunk-once must equal per-window scoring
    one, _ = score_stream(fast, audio[: 10 * 8000])
    np.testing.assert_allclose(one, exact.score(win.windows[:1]), atol=1e-5)
    many, padded = score_stream(fast, audio)
    assert many.shape == (len(win.windows), 2) and not padded
    covered = win.logmel[:, : 1000 + 100 * (len(win.windows) - 1)]  # frames the windows span
    np.testing.assert_allclose(many, fast.score_stream(covered, len(win.windows)), atol=1e-6)
    assert (many.argmax(1) == exact.score(win.windows).argmax(1)).mean() >= 0.9
    with pytest.raises(ModelError, match="stream_trunk"):
        exact.score_stream(win.logmel, 2)


def test_model_without_trunk_once_graph_scores_windows(
    exported: tuple[Path, Any], reference_dir: Path, tmp_path: Path
) -> None:
    """A model copied without its .stream.onnx still loads: it is scored window by window
    instead of refusing to start a worker."""

    alone = tmp_path / "alone.onnx"
    shutil.copy(exported[0], alone)
    scorer = RoleModel.load(alone, execution_provider="cpu")
    assert scorer.stream_session is None
    audio = decode(reference_dir / "lamartine.wav").channels[0]
    probs, _ = score_stream(scorer, audio)
    np.testing.assert_allclose(probs, scorer.score(stream_windows(audio).windows), atol=1e-6)
