"""Reading result events and tabulating them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callroles.report.tables import (
    ReportInputError,
    call_table,
    latest_per_call,
    load_results,
    parse_results,
    speaker_rows,
    truth_roles,
)
from callroles.schemas import example


def test_json_lines_array_and_single_object(batch: tuple[list[dict], Path]) -> None:
    results, _ = batch
    lines = "\n".join(json.dumps(r) for r in results) + "\n\n"
    assert [r["call_id"] for r in parse_results(lines)] == [r["call_id"] for r in results]
    assert len(parse_results(json.dumps(results, indent=2))) == len(results)
    assert parse_results(json.dumps(results[0], indent=2))[0]["call_id"] == results[0]["call_id"]
    assert parse_results("  \n") == []


def test_bad_input_names_the_line(batch: tuple[list[dict], Path], tmp_path: Path) -> None:
    results, _ = batch
    with pytest.raises(ReportInputError, match="line 2") as info:
        parse_results(json.dumps(results[0]) + "\n{oops\n", "r.jsonl")
    assert info.value.code == "report_input"
    broken = dict(results[0])
    del broken["speakers"]
    with pytest.raises(ReportInputError, match="speakers"):
        parse_results(json.dumps(broken))
    with pytest.raises(ReportInputError, match="does not exist"):
        load_results(tmp_path / "missing.jsonl")


def test_rows_share_and_truth(batch: tuple[list[dict], Path]) -> None:
    results, truth_dir = batch
    rows = speaker_rows(results[0])
    assert [r["role"] for r in rows] == ["agent", "customer"]
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    truth = json.loads((truth_dir / f"{results[3]['call_id']}.json").read_text())
    roles = truth_roles(results[3], truth)  # the swapped call: every role wrong
    assert all(roles[s["speaker"]] != s["role"] for s in results[3]["speakers"])
    text = call_table(results[0])
    assert results[0]["call_id"] in text and "agent" in text and "%" in text


def test_latest_result_per_call_wins(batch: tuple[list[dict], Path]) -> None:
    results, _ = batch
    newer = dict(results[0], produced_at="2099-01-01T00:00:00Z", duration_s=1.0)
    kept = latest_per_call([results[0], results[1], newer])
    assert [r["call_id"] for r in kept] == [results[0]["call_id"], results[1]["call_id"]]
    assert kept[0]["duration_s"] == 1.0


def test_a_later_v1_result_is_read_a_broken_one_is_not() -> None:
    """The report is a consumer: fields and open-list values a later v1 adds do not stop it."""
    later = example("call_result", "full")
    later["sentiment"] = {"agent": 0.1}
    later["flags"].append("agent_on_mute")
    later["separation_strategy"] = "beamforming"
    (read,) = parse_results(json.dumps(later))
    assert read["flags"][-1] == "agent_on_mute" and "beamforming" in call_table(read)
    del later["speakers"]
    with pytest.raises(ReportInputError):
        parse_results(json.dumps(later))
