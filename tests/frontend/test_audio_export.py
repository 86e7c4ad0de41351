"""Segmentation exports (RTTM, CSV), the time budget, and the `callroles segment` command."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from callroles.base.cli import main
from callroles.bench.evaluation import read_rttm
from callroles.call import pipeline
from callroles.call.pipeline import front_end


@pytest.fixture(scope="module")
def lamartine(reference_dir: Path, frontend):
    return front_end(reference_dir / "lamartine.wav", models=frontend)


def test_rttm_round_trip(lamartine, tmp_path: Path) -> None:
    text = lamartine.segmentation.to_rttm("lamartine")
    (tmp_path / "lamartine.rttm").write_text(text)
    turns = [
        (s.start, s.end, who)
        for s, _, who in read_rttm(tmp_path / "lamartine.rttm").itertracks(yield_label=True)
    ]
    speech = lamartine.segmentation.speech
    assert len(turns) == len(speech) > 0
    for (start, end, who), seg in zip(turns, speech, strict=True):
        assert who == seg.speaker
        assert start == pytest.approx(seg.start, abs=1e-3) and end == pytest.approx(
            seg.end, abs=2e-3
        )
    assert all(line.split()[1] == "lamartine" for line in text.splitlines())


def test_csv_has_every_segment(lamartine) -> None:
    rows = list(csv.DictReader(io.StringIO(lamartine.segmentation.to_csv())))
    assert len(rows) == len(lamartine.segmentation.segments)
    assert {r["label"] for r in rows} == {"speech", "silence"}
    total = sum(float(r["end"]) - float(r["start"]) for r in rows)
    assert total == pytest.approx(lamartine.budget["duration_s"], abs=0.02)


def test_budget_adds_up(lamartine) -> None:
    b = lamartine.budget
    parts = b["speech_s"] + b["silence_s"] + b["music_s"] + b["noise_s"] + b["announcement_s"]
    assert parts == pytest.approx(b["duration_s"], abs=0.02)
    assert sum(b["speech_per_speaker_s"].values()) == pytest.approx(b["speech_s"] + b["overlap_s"])
    assert {s.speaker: s.talk_time_s for s in lamartine.speakers} == b["speech_per_speaker_s"]
    assert set(lamartine.timings) >= {"decode", "segment", "separate", "total"}
    json.dumps(lamartine.to_dict())  # JSON-ready


def test_segment_command(
    reference_dir: Path, tmp_path: Path, frontend, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.setattr(pipeline, "Models", lambda _settings: frontend)  # reuse its models
    rttm = tmp_path / "out.rttm"
    code = main(["segment", str(reference_dir / "lamartine.wav"), "--rttm", str(rttm), "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["strategy"] == "gender" and len(data["speakers"]) == 2
    assert len(read_rttm(rttm)) == sum(1 for s in data["segments"] if s["label"] == "speech")
    assert main(["segment", str(reference_dir / "lamartine.wav")]) == 0
    assert "strategy gender" in capsys.readouterr().out
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all" * 10)
    assert main(["segment", str(bad)]) == 1
    assert "audio_undecodable" in capsys.readouterr().err
