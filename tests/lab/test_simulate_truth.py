"""Ground-truth talk time agrees with the audio's own speech activity (independent energy VAD)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from callroles.lab.simulate import voices
from callroles.lab.simulate.dialogue import RenderedCall, render, utterance_regions
from callroles.lab.simulate.plan import draw_plan
from callroles.lab.simulate.tts import synthesize
from tests.lab.simvad import energy_vad_seconds

ESPEAK_CALLS = (0, 1, 3, 4)  # espeak-ng only (index 2 has a Festival customer: slower)


@pytest.fixture(scope="module")
def rendered(small_corpus: Path) -> dict[int, RenderedCall]:
    seed = json.loads((small_corpus / "corpus.json").read_text())["seed"]
    plans = draw_plan(
        calls=5,
        seed=seed,
        preset="small",
        voices=voices.catalog(),
        languages=voices.LANGUAGES,
        stereo_fraction=0.0,
    )
    return {i: render(plans[i]) for i in ESPEAK_CALLS}


@pytest.mark.parametrize("index", ESPEAK_CALLS)
def test_talk_time_matches_energy_vad_of_placed_speech(
    rendered: dict[int, RenderedCall], small_corpus: Path, index: int
) -> None:
    call = rendered[index]
    truth = json.loads((small_corpus / "truth" / f"{call.plan.call_id}.json").read_text())
    assert truth["segments"] == call.segments  # the files hold what was rendered
    for party in (call.plan.agent, call.plan.customer):
        want = truth["speakers"][party.speaker_id]["talk_time_s"]
        got = energy_vad_seconds(call.stems[party.role])
        assert abs(got - want) <= 0.02 * want, (party.role, got, want)


def test_stereo_file_channels_match_truth(small_corpus: Path) -> None:
    """In the stereo file each channel holds one speaker: its VAD must agree with the truth."""

    with (small_corpus / "calls.csv").open() as fh:
        row = next(r for r in csv.DictReader(fh) if r["channels"] == "2")
    truth = json.loads((small_corpus / "truth" / f"{row['call_id']}.json").read_text())
    audio, sr = sf.read(str(small_corpus / row["file"]), dtype="float32")
    assert sr == 8000 and audio.shape[1] == 2
    for ch, sid in enumerate((row["agent_id"], row["customer_id"])):
        want = truth["speakers"][sid]["talk_time_s"]
        other = [(e["start"], e["end"]) for e in truth["events"] if e["kind"] != "silence"]
        got = energy_vad_seconds(audio[:, ch], above_floor_db=6.0, ignore=other)
        assert abs(got - want) <= 0.03 * want, (sid, got, want)


def test_festival_utterance_truth_matches_vad() -> None:

    for voice in (v for v in voices.catalog(("en",)) if v.engine == "festival" and v.pitch == 0):
        x = synthesize(voice, "Hello, I am calling about my bill. It says ninety dollars, why?")
        placed = np.concatenate([np.zeros(4000, np.float32), x, np.zeros(4000, np.float32)])
        want = sum(b - a for a, b in utterance_regions(x)) / 8000
        got = energy_vad_seconds(placed)
        assert abs(got - want) <= 0.02 * want, (voice.name, got, want)
