"""``simulate --real-voices``: calls of real LibriSpeech readers in the simulator's layout."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from callroles.base.settings import PROJECT_ROOT
from callroles.lab.simulate.errors import SimulateInputError
from callroles.lab.simulate.quickturns import cut_turns
from callroles.lab.simulate.real_voices import generate_real_corpus, read_speakers, readers_of

LIBRI = PROJECT_ROOT.parent / "shared" / "data" / "speakers" / "librispeech"
needs_libri = pytest.mark.skipif(
    not LIBRI.is_dir(),
    reason=f"the real voices are not here ({LIBRI}: only in the project's shared folder)",
)


@needs_libri
def test_real_voice_calls_have_the_simulators_layout_and_exact_truth(tmp_path: Path) -> None:
    agents, customers = read_speakers(LIBRI)
    assert len(agents) == 10 and len(customers) >= 200
    assert {a.gender for a in agents} == {"female", "male"}
    meta = generate_real_corpus(tmp_path / "c", LIBRI, calls=4, seed=3, stereo_fraction=0.5)
    assert meta["calls"] == 4 and meta["audio_s"] > 60
    with (tmp_path / "c" / "calls.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["call_id"] for r in rows] == [f"real{i:05d}" for i in range(1, 5)]
    for r in rows:
        info = sf.info(tmp_path / "c" / r["file"]) if r["file"].endswith(".wav") else None
        if info is not None:
            assert (info.samplerate, info.channels) == (8000, 2)
        truth = json.loads((tmp_path / "c" / "truth" / f"{r['call_id']}.json").read_text())
        roles = {v["role"] for v in truth["speakers"].values()}
        assert roles == {"agent", "customer"} and r["agent_id"] in truth["speakers"]
        for who, v in truth["speakers"].items():
            segs = [s for s in truth["segments"] if s["speaker"] == who]
            assert segs and abs(sum(s["end"] - s["start"] for s in segs) - v["talk_time_s"]) < 0.01
    again = generate_real_corpus(tmp_path / "d", LIBRI, calls=4, seed=3, stereo_fraction=0.5)
    assert again == meta | {"source": str(LIBRI)}
    for r in rows:
        a = (tmp_path / "c" / r["file"]).read_bytes()
        assert a == (tmp_path / "d" / r["file"]).read_bytes()  # deterministic


def test_a_missing_folder_says_where_the_voices_should_be(tmp_path: Path) -> None:
    with pytest.raises(SimulateInputError, match="LibriSpeech-style") as err:
        read_speakers(tmp_path / "nowhere")
    assert err.value.code == "real_voices_missing"


@needs_libri
def test_quick_turn_calls_have_short_turns_interruptions_and_backchannels(tmp_path: Path) -> None:
    """``quick_turns``: turns of 0.3-8 s, some changes of speaker overlapping, and backchannels
    of 0.2-0.8 s inside the other's turn, listed in the truth and marked as overlap there."""
    meta = generate_real_corpus(tmp_path / "q", LIBRI, calls=3, seed=3601, quick_turns=True)
    assert meta["quick_turns"] is True
    lengths, overlaps, backchannels, under = [], 0, 0, 0
    for k in range(1, 4):
        truth = json.loads((tmp_path / "q" / "truth" / f"real{k:05d}.json").read_text())
        segs = sorted(truth["segments"], key=lambda s: s["start"])
        lengths += [s["end"] - s["start"] for s in segs]
        overlaps += sum(
            a["speaker"] != b["speaker"] and b["start"] < a["end"]
            for a, b in zip(segs, segs[1:], strict=False)
        )
        for bc in truth["backchannels"]:
            backchannels += 1
            assert 0.15 <= bc["end"] - bc["start"] <= 0.85, bc
            others = [s for s in segs if s["speaker"] != bc["speaker"]]
            # under the other's speech, or in a pause of their turn
            under += any(s["start"] < bc["end"] and bc["start"] < s["end"] for s in others)
            own = [s for s in segs if s["speaker"] == bc["speaker"]]
            assert any(s["start"] < bc["end"] and bc["start"] < s["end"] for s in own), bc
    assert backchannels >= 3 and under >= backchannels / 2 and overlaps >= under
    lengths.sort()
    assert 0.4 <= lengths[len(lengths) // 2] <= 3.0, lengths  # quick turns, not 2-6 s ones
    y = np.random.default_rng(1).normal(0, 0.05, 8000 * 40).astype(np.float32)
    turns = [len(t) / 8000 for t in cut_turns(y, np.random.default_rng(2))]
    assert min(turns) >= 0.3 and max(turns) <= 8.0 and sum(turns) == pytest.approx(40.0)
    with pytest.raises(SimulateInputError) as err:  # one call centre's sounds are not mixed in
        generate_real_corpus(tmp_path / "h", LIBRI, calls=1, seed=1, quick_turns=True,
                             house_sounds=1)  # fmt: skip
    assert err.value.code == "options_conflict"
    again = generate_real_corpus(tmp_path / "r", LIBRI, calls=3, seed=3601, quick_turns=True)
    assert again == meta
    assert (tmp_path / "q" / "audio" / "real00002.gsm").read_bytes() == (
        tmp_path / "r" / "audio" / "real00002.gsm"
    ).read_bytes()


@needs_libri
def test_a_training_corpus_plays_no_reader_of_the_corpora_it_leaves_out(tmp_path: Path) -> None:
    """``leave_out``: the evaluation sets' readers (the agent pool among them) never speak in a
    training corpus; one-utterance readers then take both parts, never in one call twice."""
    evaluation = generate_real_corpus(tmp_path / "e", LIBRI, calls=3, seed=3602, quick_turns=True)
    gone = readers_of([tmp_path / "e"])
    assert len(gone) == evaluation["agents"] + evaluation["calls"]  # new customers each call
    agents, _ = read_speakers(LIBRI)
    gone |= {a.speaker for a in agents}
    meta = generate_real_corpus(
        tmp_path / "t", LIBRI, calls=4, seed=9901, quick_turns=True, leave_out=gone
    )
    assert meta["readers_left_out"] == len(gone)
    for t in sorted((tmp_path / "t" / "truth").glob("*.json")):
        voices = [s["voice"] for s in json.loads(t.read_text())["speakers"].values()]
        assert len(set(voices)) == 2 and not {v.removeprefix("librispeech-") for v in voices} & gone
    assert readers_of([tmp_path / "t"]) and not readers_of([tmp_path / "t"]) & gone
    with pytest.raises(SimulateInputError) as err:  # repeat customers come from the agent pool
        generate_real_corpus(tmp_path / "x", LIBRI, calls=5, seed=1, leave_out=gone,
                             repeat_customers=1)  # fmt: skip
    assert err.value.code == "options_conflict"
