"""Frame-level resegmentation (``callroles.frontend.resegment``) on two real readers' voices.

Two LibriSpeech readers of one gender take quick turns through a GSM line; the turns a
clustering would have missed (every turn under 0.8 s given to the speaker before it) must come
back to their speaker, and a speaker with too little speech to model leaves the owners alone.
One reader's speech split in two is told from two readers by the gain of two voices over one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from callroles.base.settings import PROJECT_ROOT
from callroles.call.pipeline import Models, front_end
from callroles.frontend.resegment import ONE_VOICE_GAIN, frame_evidence, resegment
from callroles.lab.simulate import channel
from callroles.lab.simulate.real_voices import _load, read_speakers

LIBRI = PROJECT_ROOT.parent / "shared" / "data" / "speakers" / "librispeech"
pytestmark = pytest.mark.skipif(
    not LIBRI.is_dir(), reason=f"the real voices are not here ({LIBRI}: only in the shared folder)"
)


def _quick_turns(
    one_reader: bool = False,
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int]]]:
    """(8 kHz GSM signal, speaker per 10 ms frame (-1 silence), the turns (a, b, who)); with
    ``one_reader`` both "speakers" are the same reader."""
    agents, _ = read_speakers(LIBRI)
    males = [a for a in agents if a.gender == "male"][:2]
    voices = [np.concatenate([_load(f) for f in r.files[:16]]) for r in males]
    if one_reader:  # one reader's speech, read on in turn by both "speakers"
        voices = [voices[0], voices[0]]
    rng = np.random.default_rng(3)
    pieces, turns, at, used = [], [], 0, [0, 0]
    for k in range(36 if one_reader else 60):
        who = k % 2
        length = int(rng.choice([0.4, 0.6, 2.5, 3.0]) * 8000)
        src = 0 if one_reader else who
        piece = voices[who][used[src] : used[src] + length]
        assert len(piece) == length  # the readers have enough speech
        used[src] += length
        pieces += [piece, np.zeros(800, np.float32)]
        turns.append((at // 80, (at + len(piece)) // 80, who))
        at += len(piece) + 800
    signal = channel.phone_line(np.concatenate(pieces), rng, 0.0, -50.0, channel.Line("gsm"))
    truth = np.full(len(signal) // 80, -1)
    for a, b, who in turns:
        truth[a:b] = who
    return signal, truth, turns


def test_short_turns_a_clustering_missed_come_back_to_their_speaker() -> None:
    signal, truth, turns = _quick_turns()
    n = len(truth)
    speech = truth >= 0
    clustered = truth.copy()
    short = [(a, b, who) for a, b, who in turns if b - a < 80]
    for a, b, who in short:  # what turn clustering does to a quick answer: the other's turn
        clustered[a:b] = 1 - who
    owners = np.vstack([np.where(speech, clustered, 0), np.where(speech, 1 - clustered, 1)])
    done = resegment(owners, frame_evidence(signal, speech, np.zeros(n, bool)))
    out = done.owners
    assert done.gain is not None and done.gain > ONE_VOICE_GAIN and not done.one_voice
    back = [np.mean(out[0][a:b] == who) for a, b, who in short]
    assert len(short) >= 10 and np.mean(back) >= 0.4, back  # all 0 before
    long_right = np.mean([np.mean(out[0][a:b] == w) for a, b, w in turns if b - a >= 80])
    assert long_right >= 0.9, long_right
    assert set(np.unique(out[1][speech])) <= {0, 1} and np.all(out[0][speech] != out[1][speech])


def test_a_speaker_too_short_to_model_leaves_the_owners_alone() -> None:
    signal, truth, _ = _quick_turns()
    speech = truth >= 0
    owners = np.vstack([np.zeros(len(truth), int), np.ones(len(truth), int)])
    owners[0][np.flatnonzero(speech)[:150]] = 1  # 1.5 s of the second speaker: too little
    done = resegment(owners, frame_evidence(signal, speech, np.zeros(len(truth), bool)))
    assert done.owners is owners and done.gain is None and not done.one_voice


def test_one_reader_split_in_two_explains_no_better_than_one_voice() -> None:
    signal, truth, _ = _quick_turns(one_reader=True)
    speech = truth >= 0
    owners = np.vstack([np.where(speech, truth, 0), np.where(speech, 1 - truth, 1)])
    done = resegment(owners, frame_evidence(signal, speech, np.zeros(len(truth), bool)))
    assert done.gain is not None and done.gain < ONE_VOICE_GAIN and done.one_voice, done.gain


def test_a_reader_alone_is_two_speakers_as_asked_but_an_uncertain_count(
    frontend: Models, tmp_path: Path
) -> None:
    """Through the whole front end: one reader's 30 s through a GSM line is split in two (two
    voices are the default) and the count says it doubts; the two readers' quick turns do not."""
    signal, _, _ = _quick_turns(one_reader=True)
    alone = tmp_path / "alone.wav"
    sf.write(alone, signal, 8000)
    count = front_end(alone, frontend).budget["speaker_count"]
    assert count["n"] == 2 and count["uncertain"] and count["split_gain"] < ONE_VOICE_GAIN, count
    signal, _, _ = _quick_turns()
    both = tmp_path / "both.wav"
    sf.write(both, signal, 8000)
    count = front_end(both, frontend).budget["speaker_count"]
    assert not count["uncertain"] and count["split_gain"] > ONE_VOICE_GAIN, count
