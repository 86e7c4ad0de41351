"""The int8 copies of inaSpeechSegmenter's CNNs: what the install step writes, and how close
their decisions stay to the float CNNs on real audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from callroles.base.settings import get_settings
from callroles.export.ina_onnx import calibration_audio, quantize
from callroles.frontend.decode import decode
from callroles.frontend.segmentation import raw_to_grid
from callroles.models.errors import ModelNotConvertedError, SegmenterError
from callroles.models.ina import INT8_RECIPE, InaSegmenter, wanted_paths


def test_install_step_wrote_smaller_int8_copies() -> None:
    settings = get_settings()
    floats, int8 = wanted_paths(settings, "float"), wanted_paths(settings, "int8")
    assert all(p.is_file() for p in int8.values())  # written by deploy/setup.sh
    assert quantize(settings) == int8  # nothing left to do
    for key in floats:
        meta = {p.key: p.value for p in onnx.load(str(int8[key])).metadata_props}
        assert meta["callroles.int8_recipe"] == INT8_RECIPE
        assert float(meta["callroles.calibration_seconds"]) > 600  # all five voices and music
        assert int8[key].name.endswith(f"-{INT8_RECIPE}.onnx")
        # int8 weights: well under half the float file
        assert int8[key].stat().st_size < 0.5 * floats[key].stat().st_size


@pytest.mark.parametrize("name", ["musanmix.wav", "lamartine.wav"])
def test_int8_decides_like_float_on_real_audio(name: str, reference_dir: Path) -> None:
    settings = get_settings()
    wide = decode(reference_dir / name).wide.mean(axis=0)
    runs = {p: InaSegmenter(settings, precision=p)(wide) for p in ("int8", "float")}
    n = int(len(wide) / 16000 / 0.01)
    agreement = float(np.mean(raw_to_grid(runs["int8"], n) == raw_to_grid(runs["float"], n)))
    assert agreement >= 0.99, agreement


def test_home_without_int8_copies_says_what_to_do(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    settings = get_settings()
    monkeypatch.setenv("KERAS_HOME", str(settings.keras_home))  # restored after the test
    home = tmp_path / "home"
    (home / "onnx" / "ina").mkdir(parents=True)
    (home / "keras").symlink_to(settings.keras_home)  # the provisioned ina weights
    for path in wanted_paths(settings, "float").values():  # float files only, as before 12-01
        (home / "onnx" / "ina" / path.name).write_bytes(path.read_bytes())
    older = settings.model_copy(update={"home": home})
    with pytest.raises(ModelNotConvertedError, match="int8 copies .* deploy/setup.sh"):
        InaSegmenter(older)
    assert InaSegmenter(older, precision="float").sessions  # the files they are made from


def test_the_front_end_runs_the_int8_copies() -> None:
    assert InaSegmenter(get_settings()).precision == "int8"


def test_calibration_needs_the_debian_sounds(tmp_path: Path) -> None:
    with pytest.raises(SegmenterError, match="asterisk-core-sounds"):
        calibration_audio(tmp_path)
