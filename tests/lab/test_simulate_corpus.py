"""The small preset: layout, metadata table, ffprobe facts, truth consistency, determinism."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from callroles.lab.simulate import generate_corpus


def _rows(corpus: Path) -> list[dict]:
    with (corpus / "calls.csv").open() as fh:
        return list(csv.DictReader(fh))


def _truth(corpus: Path, call_id: str) -> dict:
    return json.loads((corpus / "truth" / f"{call_id}.json").read_text())


def test_layout_and_coverage(small_corpus: Path) -> None:
    rows = _rows(small_corpus)
    assert len(rows) == 5
    assert list(rows[0]) == [
        "call_id",
        "file",
        "started_at",
        "duration_s",
        "agent_id",
        "agent_gender",
        "customer_id",
        "language",
        "channels",
    ]
    kinds = set()
    for row in rows:
        truth = _truth(small_corpus, row["call_id"])
        assert (small_corpus / row["file"]).is_file()
        assert re.fullmatch(r"A\d{3}", row["agent_id"])
        assert re.fullmatch(r"\+\d{11,12}", row["customer_id"])
        assert truth["speakers"][row["agent_id"]]["role"] == "agent"
        assert truth["speakers"][row["customer_id"]]["role"] == "customer"
        assert truth["speakers"][row["agent_id"]]["gender"] == row["agent_gender"]
        assert abs(truth["duration_s"] - float(row["duration_s"])) < 1e-3
        for spk in truth["speakers"].values():
            assert spk["talk_time_s"] >= 10.0, (row["call_id"], spk)
        seg_end = max(s["end"] for s in truth["segments"])
        assert seg_end <= truth["duration_s"]
        rttm = (small_corpus / "truth" / f"{row['call_id']}.rttm").read_text().splitlines()
        assert len(rttm) == len(truth["segments"])
        first = rttm[0].split()
        assert first[0] == "SPEAKER" and first[1] == row["call_id"]
        assert first[7] == truth["segments"][0]["speaker"]
        stereo = row["channels"] == "2"
        assert row["file"].endswith(".wav" if stereo else ".gsm")
        kinds.add(("stereo" if stereo else "mono", truth["same_gender"]))
        dur = float(row["duration_s"])
        kinds.add("in_60_600" if 60 <= dur <= 600 else "outside_60_600")
        kinds.add(row["language"])
    assert {("mono", False), ("mono", True), "in_60_600", "outside_60_600"} <= kinds
    assert any(k[0] == "stereo" for k in kinds if isinstance(k, tuple))
    assert {"tr", "de", "en"} <= kinds
    agents = [r["agent_id"] for r in rows]
    assert len(set(agents)) < len(agents), "an agent must recur across calls"
    events = [e["kind"] for r in rows for e in _truth(small_corpus, r["call_id"])["events"]]
    assert "music" in events


def test_sql_table_matches_csv(small_corpus: Path) -> None:
    db = sqlite3.connect(":memory:")
    db.executescript((small_corpus / "calls.sql").read_text())
    got = db.execute(
        "SELECT call_id, agent_id, customer_id, duration_s FROM calls ORDER BY call_id"
    ).fetchall()
    want = [
        (r["call_id"], r["agent_id"], r["customer_id"], float(r["duration_s"]))
        for r in _rows(small_corpus)
    ]
    assert got == want


def _ffprobe(path: Path) -> dict:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,sample_rate,channels:format=duration",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    info = json.loads(out)
    return {**info["streams"][0], "duration": float(info["format"]["duration"])}


def test_ffprobe_says_gsm_8k_mono(small_corpus: Path) -> None:
    for row in _rows(small_corpus):
        info = _ffprobe(small_corpus / row["file"])
        assert info["sample_rate"] == "8000"
        assert abs(info["duration"] - float(row["duration_s"])) < 0.05
        if row["channels"] == "1":
            assert info["codec_name"] == "gsm" and info["channels"] == 1
        else:
            assert info["codec_name"] == "pcm_s16le" and info["channels"] == 2


def test_same_seed_same_files_other_seed_differs(small_corpus: Path, tmp_path: Path) -> None:
    seed = json.loads((small_corpus / "corpus.json").read_text())["seed"]
    again = generate_corpus(tmp_path / "a", calls=2, seed=seed, preset="small", workers=1)
    assert again.calls == 2
    for call in ("call00001", "call00002"):
        for rel in (f"audio/{call}.gsm", f"truth/{call}.json", f"truth/{call}.rttm"):
            assert (tmp_path / "a" / rel).read_bytes() == (small_corpus / rel).read_bytes(), rel
    assert _rows(tmp_path / "a") == _rows(small_corpus)[:2]
    generate_corpus(tmp_path / "b", calls=1, seed=seed + 1, preset="small", workers=1)
    assert (tmp_path / "b/audio/call00001.gsm").read_bytes() != (
        small_corpus / "audio/call00001.gsm"
    ).read_bytes()


def test_wav_format_option(tmp_path: Path) -> None:
    summary = generate_corpus(
        tmp_path / "w", calls=1, seed=5, preset="small", audio_format="wav", languages=("de",)
    )
    info = _ffprobe(tmp_path / "w/audio/call00001.wav")
    assert (info["codec_name"], info["sample_rate"], info["channels"]) == ("pcm_s16le", "8000", 1)
    assert summary.calls_by_language == {"de": 1}
    assert "calls" in summary.table()


def test_stereo_fraction_default_preset(tmp_path: Path) -> None:
    summary = generate_corpus(
        tmp_path / "d", calls=1, seed=9, stereo_fraction=1.0, languages=("tr",), engines=("espeak",)
    )
    assert summary.stereo_calls == 1
    rows = _rows(tmp_path / "d")
    assert all(r["file"].endswith(".wav") and r["channels"] == "2" for r in rows)
    assert all(_ffprobe(tmp_path / "d" / r["file"])["channels"] == 2 for r in rows)


def test_random_paths_put_agents_on_phones_and_customers_on_headsets(tmp_path: Path) -> None:
    """--random-paths draws each party's path per call; the stereo channels show it: a party's
    channel is band-limited like a phone line (300-3400 Hz) when that party is on a phone."""
    generate_corpus(
        tmp_path / "r", calls=8, seed=3, stereo_fraction=1.0, languages=("en",),
        engines=("espeak",), random_paths=True, workers=1,
    )  # fmt: skip
    truths = [json.loads(p.read_text()) for p in sorted((tmp_path / "r/truth").glob("*.json"))]
    seen = {(t["paths"]["agent"], t["paths"]["customer"]) for t in truths}
    assert ("phone", "headset") in seen or ("phone", "phone") in seen  # agents on phones too
    for t in truths:
        audio, _ = sf.read(tmp_path / "r/audio" / f"{t['call_id']}.wav")
        for ch, party in enumerate(("agent", "customer")):
            spec = np.abs(np.fft.rfft(audio[:, ch])) ** 2
            freqs = np.fft.rfftfreq(len(audio), 1 / 8000)
            high = spec[freqs > 3600].sum() / spec[(freqs > 400) & (freqs < 3000)].sum()
            # above the band: headsets 0.0025-0.044, phone lines 0.0002-0.0014 (seed 3)
            assert (high < 0.002) == (t["paths"][party] == "phone"), (t["call_id"], party, high)
    fixed = json.loads((tmp_path / "r/corpus.json").read_text())
    assert fixed["random_paths"] is True
