"""The call timeline: lanes per speaker coloured by role, non-speech bands, probabilities, truth."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_hex
from matplotlib.image import imread

from callroles.report.timeline import (
    build_figure,
    gaps,
    load_truth,
    role_colour,
    timeline_png,
    write_timeline,
)
from callroles.schemas import example


def _lane_colours(ax: Any) -> list[str]:
    return [
        to_hex(c.get_facecolor()[0])
        for c in ax.collections
        if isinstance(c, PolyCollection) and len(c.get_paths())
    ]


def test_figure_has_result_and_truth_panels(batch: tuple[list[dict], Path]) -> None:
    results, truth_dir = batch
    result = results[0]
    truth = load_truth(truth_dir, result["call_id"])
    assert truth is not None
    fig = build_figure(result, truth)
    timeline, probs, truth_ax, _blank = fig.axes
    labels = [t.get_text() for t in timeline.get_yticklabels()]
    assert labels[0] == "non-speech" and any(lbl.startswith("agent") for lbl in labels)
    # one bar collection per speaker lane in the role's colour, plus the non-speech band
    colours = _lane_colours(timeline)
    assert role_colour("agent") in colours and role_colour("customer") in colours
    n_segments = sum(len(s["segments"]) for s in result["speakers"])
    drawn = sum(len(c.get_paths()) for c in timeline.collections[: len(result["speakers"])])
    assert drawn == n_segments
    # probabilities: one stacked bar of len(classes) parts per speaker
    n_bars = len(probs.patches)
    assert n_bars == len(result["speakers"]) * len(result["model"]["classes"])
    widths = sorted(round(p.get_width(), 3) for p in probs.patches)
    expected = sorted(round(v, 3) for s in result["speakers"] for v in s["probabilities"].values())
    assert widths == expected
    # ground truth beneath: its music band and its speakers' ids
    truth_labels = " ".join(t.get_text() for t in truth_ax.get_yticklabels())
    assert all(spk in truth_labels for spk in truth["speakers"])
    assert "#9467bd" in _lane_colours(truth_ax)  # music


def test_png_is_a_real_picture(batch: tuple[list[dict], Path], tmp_path: Path) -> None:
    results, truth_dir = batch
    with_truth = timeline_png(results[1], load_truth(truth_dir, results[1]["call_id"]))
    without = timeline_png(results[1])
    img = imread(io.BytesIO(with_truth))
    assert img.shape[1] == 1200 and img.shape[0] > imread(io.BytesIO(without)).shape[0]
    rgb = img[..., :3]
    # not blank: many non-white pixels, and the agent blue is actually painted
    assert (rgb.min(axis=2) < 0.9).mean() > 0.05
    blue = np.array([0x1F, 0x77, 0xB4]) / 255
    assert (np.abs(rgb - blue).max(axis=2) < 0.02).sum() > 500
    path = write_timeline(results[1], tmp_path / "t")
    assert path.name == f"{results[1]['call_id']}.png" and path.stat().st_size > 10_000


def test_without_speakers_still_draws() -> None:

    res = example("call_result")
    res["speakers"], res["agent_speaker"], res["customer_speaker"] = [], None, None
    png = timeline_png(res)
    assert png.startswith(b"\x89PNG")


def test_gaps_between_speech() -> None:
    assert gaps([(1.0, 2.0), (1.5, 3.0), (5.0, 6.0)], 8.0) == [(0.0, 1.0), (3.0, 5.0), (6.0, 8.0)]
    assert gaps([(0.0, 8.0)], 8.0) == []


def test_truth_missing_or_broken(tmp_path: Path) -> None:
    assert load_truth(None, "x") is None
    assert load_truth(tmp_path, "x") is None
    (tmp_path / "x.json").write_text("{not json")
    assert load_truth(tmp_path, "x") is None
