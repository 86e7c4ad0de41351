"""The talk-time evaluation: summary figures and the drawing, on hand-made results."""

from __future__ import annotations

from pathlib import Path

from callroles.training.talktime import plot_errors, summarise


def _call(errors: list[float], channels: int = 1, same: bool = False) -> dict:
    speakers = [{"truth_s": 10.0, "measured_s": 10.0 * (1 + e), "error": e} for e in errors]
    return {"channels": channels, "same_gender": same, "speakers": speakers}


def test_summary_counts_speakers_within_five_percent() -> None:
    calls = [_call([0.01, -0.049]), _call([0.2, -0.06], same=True), _call([0.0])]
    s = summarise(calls)
    assert s["speakers"] == 5 and s["within_5_percent"] == 3
    assert s["max_abs_error"] == 0.2 and s["median_abs_error"] == 0.049
    assert s["calls_with_a_speaker_missing"] == 1


def test_figure_is_drawn(tmp_path: Path) -> None:
    calls = [_call([0.01, -0.02]), _call([0.1, -0.1], same=True), _call([0.0, 0.03], channels=2)]
    plot_errors({"activity": {"calls": calls}, "energy": {"calls": calls}}, tmp_path / "e.png", "t")
    assert (tmp_path / "e.png").stat().st_size > 5000
