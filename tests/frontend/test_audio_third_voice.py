"""A third voice inside one of two speakers (``callroles.frontend.third_voice``): real LibriSpeech
readers taking turns through a GSM line, three of them (a transfer, a supervisor), then two and
one, which must stay unflagged; the result event carries the flag and where the voice was."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from callroles.base.settings import PROJECT_ROOT
from callroles.call.pipeline import Models, front_end, run_call
from callroles.frontend.segmentation import SpeakerTrack
from callroles.frontend.third_voice import find_third_voice
from callroles.frontend.turns import TurnEmbeddings
from callroles.lab.simulate import channel
from callroles.lab.simulate.real_voices import _load, read_speakers

LIBRI = PROJECT_ROOT.parent / "shared" / "data" / "speakers" / "librispeech"

pytestmark = pytest.mark.skipif(
    not LIBRI.is_dir(), reason="the real voices are not here (../shared/data/speakers)"
)


def _readers_taking_turns(path: Path, genders: list[str], rounds: int, turn_s: float = 4.0) -> Path:
    """Distinct LibriSpeech readers of ``genders`` taking turns of ``turn_s``, ``rounds`` times,
    through a GSM line, written to ``path``."""
    agents, customers = read_speakers(LIBRI)
    pool, readers = agents + customers, []
    for g in genders:
        readers.append(next(r for r in pool if r.gender == g and r not in readers))
    speech = [np.concatenate([_load(f) for f in r.files[:6]]) for r in readers]
    n, pieces = int(turn_s * 8000), []
    for turn in range(rounds):
        for y in speech:
            pieces += [y[turn * n : (turn + 1) * n], np.zeros(2400, np.float32)]
    rng = np.random.default_rng(7)
    signal = channel.phone_line(np.concatenate(pieces), rng, 0.0, -50.0, channel.Line("gsm"))
    sf.write(path, signal, 8000)
    return path


def test_three_readers_are_flagged_and_reported(frontend: Models, tmp_path: Path) -> None:
    """Kept at two speakers by default, the third reader is heard inside one of them; the
    result (validated against call_result.v1) flags it and says whose talk holds it."""
    call = _readers_taking_turns(tmp_path / "three.wav", ["male", "female", "male"], rounds=4)
    result = run_call(call, {"call_id": "three"}, frontend)
    assert isinstance(result, dict), result
    third = result["call"]["third_voice"]
    assert len(result["speakers"]) == 2
    assert "third_voice" in result["flags"] and third is not None, result["call"]
    assert third["speaker"] in {s["speaker"] for s in result["speakers"]}
    assert third["seconds"] >= 3.0
    assert 0.0 <= third["from_s"] < third["to_s"] <= result["duration_s"]


@pytest.mark.parametrize("genders", [["male", "female"], ["female", "female"], ["male"]])
def test_two_readers_or_one_are_not_a_third_voice(
    genders: list[str], frontend: Models, tmp_path: Path
) -> None:
    """Two readers taking turns (opposite genders, then one gender) and a reader alone, as long
    as the three-reader call: the check runs (the budget has its key) and hears no third voice."""
    call = _readers_taking_turns(tmp_path / "call.wav", genders, rounds=12 // len(genders) + 2)
    front = front_end(call, models=frontend)
    assert "third_voice" in front.budget and front.budget["third_voice"] is None, front.budget


def test_a_reader_alone_whose_split_leaves_a_speaker_no_turn(
    frontend: Models, tmp_path: Path, sh
) -> None:
    """One reader's four utterances (35.5 s): the default splits off a second "speaker" of 1.6 s
    that owns no turn of a second; the check passes over it, and the call does not fail."""
    reader = sorted(p for p in (LIBRI / "test-other").iterdir() if p.is_dir())[0]
    alone = tmp_path / "alone.gsm"
    sh(
        "sox",
        "-D",
        *map(str, sorted(reader.glob("*.flac"))[:4]),
        "-r",
        "8000",
        "-c",
        "1",
        str(alone),
    )
    result = run_call(alone, {"call_id": "alone"}, frontend)
    assert isinstance(result, dict), result
    assert result["call"]["third_voice"] is None and "third_voice" not in result["flags"]


def test_a_stereo_call_is_not_checked(frontend: Models, tmp_path: Path, sh) -> None:
    """Each channel of a stereo call is one side; the check does not run there."""
    left = _readers_taking_turns(tmp_path / "left.wav", ["male"], rounds=4)
    right = _readers_taking_turns(tmp_path / "right.wav", ["female"], rounds=4)
    stereo = tmp_path / "stereo.wav"
    sh("sox", "-M", str(left), str(right), str(stereo))
    front = front_end(stereo, models=frontend)
    assert front.strategy == "stereo" and "third_voice" not in front.budget


def test_turns_past_the_audio_give_no_piece(frontend: Models) -> None:
    """Two readers' 1.4 s turns inside 12 s of audio, all owned by S1, and S2's turns past the
    audio's end (a grid longer than the audio): S1's second voice is found, S2 gives no piece
    and no error. The turns' GE2E embeddings are made for the screen: two directions."""
    agents, customers = read_speakers(LIBRI)
    a, b = agents[0], next(r for r in agents + customers if r.gender != agents[0].gender)
    voices = [soxr.resample(_load(r.files[0])[: 6 * 8000], 8000, 16000) for r in (a, b)]
    wide = np.concatenate(voices)[None, :].astype(np.float32)
    turns = [(s, s + 140) for s in (0, 150, 300, 450, 600, 750, 900, 1050, 5000, 5200)]
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((2, 256))
    emb = np.stack([centres[k // 4 if k < 8 else 0] for k in range(10)])
    emb += 0.1 * rng.standard_normal(emb.shape)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    found = TurnEmbeddings(turns, emb, np.arange(10), np.zeros(10, int), emb, np.full(10, 140))
    n = 5400
    mine, theirs = np.zeros(n, bool), np.zeros(n, bool)
    for k, (s, e) in enumerate(turns):
        (mine if k < 8 else theirs)[s:e] = True
    talk = [SpeakerTrack("S1", None, 0, mine, "test"), SpeakerTrack("S2", None, 0, theirs, "test")]
    assert frontend.voices is not None
    third = find_third_voice(found, talk, wide, frontend.voices)
    assert third is not None and third.speaker == "S1", third
    assert 3.0 <= third.seconds <= 8.0 and third.to_s <= 12.0
