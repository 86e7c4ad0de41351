"""``run_call`` and ``callroles analyze`` on a real recording: front end, scorer, Eq. 4/5, event.

The model here is the untrained test export (no trained model in a fresh checkout), so the test
checks the pipeline and the event, not which role wins.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callroles.base.cli import main
from callroles.base.errors import AudioError, InputError
from callroles.base.settings import Settings
from callroles.call.pipeline import (
    STAGES,
    Artefacts,
    CallFailure,
    Models,
    analyze_file,
    run_call,
)
from callroles.commands.analyze import format_text, write_plot
from callroles.schemas import validate


@pytest.fixture(scope="module")
def models(exported: tuple[Path, Any]) -> Models:
    return Models(Settings(model_path=exported[0], execution_provider="cpu"))


def test_analyze_two_readers(reference_dir: Path, models: Models, tmp_path: Path) -> None:
    scorer = models.role_model
    seen = Artefacts()
    result = validate(
        "call_result", analyze_file(reference_dir / "lamartine.wav", models, hook=seen)
    )
    assert list(seen) == list(STAGES)
    assert result["call_id"] == "lamartine"
    assert result["separation_strategy"] == "gender"
    genders = sorted(s["gender"] for s in result["speakers"])
    assert genders == ["female", "male"]
    for spk in result["speakers"]:
        probs = seen["score"][spk["speaker"]].window_probs
        assert probs.shape == (spk["windows"], 2) and spk["windows"] >= 1
        mean = np.mean(probs, axis=0)
        assert list(spk["probabilities"].values()) == pytest.approx(mean.tolist(), abs=1e-5)
        assert spk["label"] == ("agent" if mean[1] > mean[0] else "customer")  # Eq. 5
        assert 0 < spk["talk_time_s"] < 14.7
    # two parties: one agent (the higher agent probability) and one customer
    by_agent_prob = sorted(result["speakers"], key=lambda s: s["probabilities"]["agent"])
    assert [s["role"] for s in by_agent_prob] == ["customer", "agent"]
    assert result["model"]["version"] == scorer.model_version
    text = format_text(result)
    assert "female" in text and "silence" in text
    png = write_plot(result, tmp_path / "timeline.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_analyze_json_and_bad_input(
    reference_dir: Path,
    exported: tuple[Path, Any],
    models: Models,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rc = main(
        ["analyze", str(reference_dir / "lamartine.wav"), "--json", "--model", str(exported[0])]
    )
    assert rc == 0
    payload = json.loads(capsys.readouterr().out)
    validate("call_result", payload)
    assert {s["gender"] for s in payload["speakers"]} == {"female", "male"}

    with pytest.raises(InputError):
        analyze_file(tmp_path / "absent.wav", models)
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("this is not a recording\n" * 50)
    with pytest.raises(AudioError):
        analyze_file(not_audio, models)
    outcome = run_call(not_audio, {"call_id": "c-bad"}, models)
    assert isinstance(outcome, CallFailure) and outcome.final
    assert outcome.stage == "decode" and getattr(outcome.error, "code", "").startswith("audio_")
    rc = main(["analyze", str(not_audio), "--model", str(exported[0])])
    assert rc == 1 and "error [" in capsys.readouterr().err
