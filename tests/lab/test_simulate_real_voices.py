"""``simulate --real-voices``: calls of real LibriSpeech readers in the simulator's layout."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import soundfile as sf

from callroles.base.settings import PROJECT_ROOT
from callroles.lab.simulate.errors import SimulateInputError
from callroles.lab.simulate.real_voices import generate_real_corpus, read_speakers

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
