"""inaSpeechSegmenter through ONNX Runtime reproduces ina's own reference segmentations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from callroles.call.pipeline import front_end
from callroles.frontend.decode import decode
from callroles.frontend.segmentation import raw_to_grid


def _reference(path: Path) -> list[tuple[str, float, float]]:
    rows = path.read_text().splitlines()[1:]
    return [(a, float(b), float(c)) for a, b, c in (r.split("\t") for r in rows)]


@pytest.mark.parametrize("name", ["musanmix", "silence2sec", "0021"])
def test_matches_ina_reference(name: str, reference_dir: Path, frontend) -> None:
    media = reference_dir / (f"{name}.mp3" if name == "0021" else f"{name}.wav")
    ref = _reference(reference_dir / f"{name}-smn-gender.csv")
    audio = decode(media)
    ours = frontend.segmenter(audio.wide.mean(axis=0))
    n = int(round(ref[-1][2] / 0.01))
    agreement = float(np.mean(raw_to_grid(ours, n) == raw_to_grid(ref, n)))
    assert agreement >= 0.99, agreement


def test_silence_only_gives_no_speaker(reference_dir: Path, frontend) -> None:
    result = front_end(reference_dir / "silence2sec.wav", models=frontend)
    assert result.speakers == []
    assert result.budget["silence_s"] == pytest.approx(2.0, abs=0.05)


def test_music_only_gives_no_speaker(reference_dir: Path, frontend, tmp_path: Path, sh) -> None:
    music = tmp_path / "music.wav"  # musanmix opens with 22 s of music
    sh("sox", str(reference_dir / "musanmix.wav"), "-r", "8000", str(music), "trim", "1", "20")
    result = front_end(music, models=frontend)
    assert result.speakers == []
    assert result.budget["music_s"] > 15.0


def test_tiny_recording_gives_no_speaker(frontend, tmp_path: Path, sh) -> None:
    tiny = tmp_path / "tiny.wav"  # 10 ms: shorter than one analysis frame
    sh("sox", "-n", "-r", "8000", "-c", "1", str(tiny), "synth", "0.01", "sine", "300")
    result = front_end(tiny, models=frontend)
    assert result.speakers == [] and result.facts.duration_s == pytest.approx(0.01, abs=0.002)
