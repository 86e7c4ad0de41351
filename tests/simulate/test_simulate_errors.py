"""Bad input: a clear message, a non-zero exit, and nothing half-written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from callroles.simulate import generate_corpus
from callroles.simulate.errors import SimulateInputError, SynthesisError


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "callroles", "simulate", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"calls": 0}, "bad_call_count"),
        ({"calls": -3}, "bad_call_count"),
        ({"calls": 1, "languages": ("fr",)}, "unknown_language"),
        ({"calls": 1, "engines": ("piper",)}, "unknown_voice"),
        ({"calls": 1, "languages": ("tr",), "engines": ("festival",)}, "unknown_voice"),
        ({"calls": 1, "audio_format": "mp3"}, "unknown_format"),
        ({"calls": 1, "stereo_fraction": 1.5}, "bad_stereo_fraction"),
        ({"calls": 1, "preset": "huge"}, "unknown_preset"),
    ],
)
def test_bad_options_raise_typed_errors(tmp_path: Path, kwargs: dict, code: str) -> None:
    with pytest.raises(SimulateInputError) as info:
        generate_corpus(tmp_path / "out", seed=1, **kwargs)
    assert info.value.code == code
    assert list(tmp_path.iterdir()) == []  # nothing written, not even the folder


def test_non_empty_output_folder_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    proc = _cli("--small", "--calls", "1", "--out", str(out))
    assert proc.returncode == 1
    assert "output_not_empty" in proc.stderr and "not empty" in proc.stderr
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("args", [("--calls", "0"), ("--languages", "tr,xx"), ("--voices", "x")])
def test_cli_bad_input_exits_non_zero(tmp_path: Path, args: tuple[str, ...]) -> None:
    proc = _cli(*args, "--out", str(tmp_path / "o"))
    assert proc.returncode == 1
    assert proc.stderr.startswith("callroles: error [")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_engine_failure_leaves_nothing(tmp_path: Path) -> None:
    """espeak-ng missing from PATH: a typed error, and no partial corpus left behind."""
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    proc = _cli("--small", "--calls", "1", "--workers", "1", "--out", str(tmp_path / "o"), env=env)
    assert proc.returncode == 1, proc.stderr
    assert "simulate_synthesis" in proc.stderr and "espeak-ng" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_synthesis_error_is_typed() -> None:
    assert SynthesisError("x").code == "simulate_synthesis"
