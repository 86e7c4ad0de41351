"""Front-end fixtures: one Models per test session (models load once), audio made with sox."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from callroles.base.settings import Settings
from callroles.call.pipeline import Models


@pytest.fixture(scope="session")
def frontend():

    return Models(Settings())


def run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def sh():
    """Run a command (sox, ffmpeg, espeak-ng), failing the test if it fails."""
    return run


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 4 s of espeak-ng speech (22.05 kHz WAV): the source every format test encodes."""
    out = tmp_path_factory.mktemp("speech") / "speech.wav"
    run(
        "espeak-ng",
        "-v",
        "en+m3",
        "-w",
        str(out),
        "Hello, this is the agent speaking. How can I help you with your account today?",
    )
    return out
