"""Bad input: a clear message, a non-zero exit, and nothing half-written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from callroles.base.cli import main
from callroles.lab.simulate import generate_corpus
from callroles.lab.simulate.errors import SimulateInputError, SynthesisError


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "callroles", "simulate", *args],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"calls": 0}, "bad_call_count"),
        ({"calls": -3}, "bad_call_count"),
        ({"calls": 1, "languages": ("fr",)}, "unknown_language"),
        ({"calls": 1, "engines": ("sapi",)}, "unknown_voice"),
        ({"calls": 1, "engines": ("piper",)}, "unknown_voice"),  # English and male only
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
def test_cli_bad_input_exits_non_zero(
    tmp_path: Path, args: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["simulate", *args, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("callroles: error [")
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_engine_failure_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """espeak-ng missing from PATH (in the worker processes): a typed error, nothing left behind."""
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    code = main(
        ["simulate", "--small", "--calls", "2", "--workers", "2", "--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert code == 1, err
    assert "simulate_synthesis" in err and "espeak-ng" in err
    assert list(tmp_path.iterdir()) == []


def test_synthesis_error_is_typed() -> None:
    assert SynthesisError("x").code == "simulate_synthesis"
