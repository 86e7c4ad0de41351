"""DBAS on the small synthetic corpus: the paper's rules, the speaker split, bad inputs."""

from __future__ import annotations

import csv
import json
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callroles.agents.calltable import CallTableError, read_calls
from callroles.training.data import scan_split
from callroles.training.dataset import BuildOptions, DatasetError, build_dataset


def _truth(corpus: Path, call_id: str) -> dict:
    return json.loads((corpus / "truth" / f"{call_id}.json").read_text())


def _write_table(path: Path, rows: list[dict[str, str]], fields: list[str] | None = None) -> Path:
    fields = fields or list(rows[0])
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def _rows(corpus: Path) -> list[dict[str, str]]:
    with (corpus / "calls.csv").open() as fh:
        return list(csv.DictReader(fh))


def test_opposite_gender_calls_kept_same_gender_skipped(dbas_small: Any) -> None:
    res, corpus = dbas_small.result, dbas_small.corpus
    truth = {r["call_id"]: _truth(corpus, r["call_id"]) for r in _rows(corpus)}
    same = [c for c, t in truth.items() if t["same_gender"]]
    assert same, "the small preset has a same-gender call"
    for cid in same:
        assert "not two opposite genders" in res.skipped[cid]
    assert res.kept_calls >= 2
    assert res.kept_calls + len(res.skipped) == res.calls == len(truth)
    report = json.loads((dbas_small.out / "dbas_report.json").read_text())
    assert report["skipped"] == res.skipped
    # every kept window sits under the role and gender the truth gives its speaker
    speakers = {
        s: (v["role"], v["gender"]) for t in truth.values() for s, v in t["speakers"].items()
    }
    for split in ("train", "validation"):
        for it in scan_split(dbas_small.out, split):
            assert speakers[it.speaker] == (it.role, it.gender)
            assert np.load(it.path).shape == (96, 1000)


def test_split_is_by_speaker_and_deterministic(dbas_small: Any, tmp_path: Path) -> None:
    train = {it.speaker for it in scan_split(dbas_small.out, "train")}
    val = {it.speaker for it in scan_split(dbas_small.out, "validation")}
    assert train and val and not train & val
    stats = dbas_small.result.stats
    assert stats["train"]["speakers"] == len(train) and stats["validation"]["speakers"] == len(val)
    text = dbas_small.result.format()
    assert "| train |" in text and "| validation |" in text and "paper:" in text
    # a rebuild from the per-call cache (resume) gives the same tree
    again = build_dataset(
        dbas_small.corpus,
        dbas_small.corpus / "calls.csv",
        tmp_path / "again",
        BuildOptions(min_duration_s=dbas_small.min_s, progress=False, work=dbas_small.work),
    )
    assert again.stats == dbas_small.result.stats
    assert {it.speaker for it in scan_split(tmp_path / "again", "validation")} == val


def test_default_duration_range_skips_short_calls(dbas_small: Any, tmp_path: Path) -> None:
    rows = _rows(dbas_small.corpus)
    res = build_dataset(
        dbas_small.corpus,
        dbas_small.corpus / "calls.csv",
        tmp_path / "paper",
        BuildOptions(progress=False, work=dbas_small.work),
    )
    for r in rows:
        if float(r["duration_s"]) < 60:
            assert "outside 60-600 s" in res.skipped[r["call_id"]]


def test_gender_conflict_speaker_is_dropped(dbas_small: Any, tmp_path: Path) -> None:
    rows = _rows(dbas_small.corpus)
    kept = [r for r in rows if r["call_id"] not in dbas_small.result.skipped]
    first, second = kept[0], kept[1]
    # the database says the same agent is female in one call and male in another
    second = {
        **second,
        "agent_id": first["agent_id"],
        "agent_gender": "male" if first["agent_gender"] == "female" else "female",
    }
    table = _write_table(tmp_path / "conflict.csv", [first, second, *kept[2:]])
    res = build_dataset(
        dbas_small.corpus,
        table,
        tmp_path / "out",
        BuildOptions(min_duration_s=dbas_small.min_s, progress=False, work=dbas_small.work),
    )
    assert first["agent_id"] in res.dropped_speakers
    assert "female and male" in res.dropped_speakers[first["agent_id"]]
    for split in ("train", "validation"):
        assert first["agent_id"] not in {it.speaker for it in scan_split(tmp_path / "out", split)}


def test_sqlite_table_reads_like_csv(dbas_small: Any, tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    with sqlite3.connect(db) as con:
        con.executescript((dbas_small.corpus / "calls.sql").read_text())
    assert read_calls(f"sqlite:///{db}") == read_calls(dbas_small.corpus / "calls.csv")
    with pytest.raises(CallTableError, match="no such table"):
        read_calls(db, table="agents")


def test_missing_columns(dbas_small: Any, tmp_path: Path) -> None:
    rows = _rows(dbas_small.corpus)
    table = _write_table(tmp_path / "t.csv", rows, ["call_id", "file", "agent_id"])
    with pytest.raises(CallTableError, match="agent_gender, customer_id") as exc:
        build_dataset(dbas_small.corpus, table, tmp_path / "o", BuildOptions(progress=False))
    assert exc.value.code == "call_table_columns"


def test_unknown_agent_and_unreadable_file_are_reported(dbas_small: Any, tmp_path: Path) -> None:
    rows = _rows(dbas_small.corpus)
    kept = [r for r in rows if r["call_id"] not in dbas_small.result.skipped]
    archive = tmp_path / "archive"
    archive.mkdir()
    for r in rows:
        (archive / "audio").mkdir(exist_ok=True)
        (archive / r["file"]).symlink_to(dbas_small.corpus / r["file"])
    (archive / "audio" / "broken.gsm").write_bytes(b"\x00garbage" * 500)
    table_rows = [
        *kept,
        {**kept[0], "call_id": "nobody", "agent_id": "", "agent_gender": ""},
        {**kept[0], "call_id": "ghost", "agent_gender": "unknown"},
        {**kept[0], "call_id": "broken", "file": "audio/broken.gsm"},
        {**kept[0], "call_id": "gone", "file": "audio/none.gsm"},
    ]
    table = _write_table(tmp_path / "t.csv", table_rows)
    res = build_dataset(
        archive,
        table,
        tmp_path / "o",
        BuildOptions(min_duration_s=dbas_small.min_s, progress=False, work=dbas_small.work),
    )
    assert "unknown agent" in res.skipped["nobody"]
    assert "unknown agent gender" in res.skipped["ghost"]
    assert res.skipped["broken"].startswith("unreadable audio")
    assert "missing" in res.skipped["gone"]
    assert res.kept_calls == len(kept)


def test_no_usable_call(dbas_small: Any, tmp_path: Path) -> None:
    rows = [r for r in _rows(dbas_small.corpus) if r["call_id"] in dbas_small.result.skipped]
    table = _write_table(tmp_path / "t.csv", rows)
    opts = BuildOptions(min_duration_s=dbas_small.min_s, progress=False, work=dbas_small.work)
    with pytest.raises(DatasetError, match="no usable call") as exc:
        build_dataset(dbas_small.corpus, table, tmp_path / "o", opts)
    assert exc.value.code == "no_usable_call"
    with pytest.raises(DatasetError, match="does not exist"):
        build_dataset(tmp_path / "nowhere", table, tmp_path / "o", replace(opts))
