"""The music check in the front end: real hold music that inaSpeechSegmenter and the activity
model hear as a voice leaves talk, and speech stays. The call is the first of bench eval's
held-out set (MBROLA voices, Debian's real hold music and prompts, varied lines; SYNTHETIC),
generated here: none of it was heard by the check in training."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from callroles.base.settings import SHARED_DATA, Settings
from callroles.bench.evaluation import evaluate_dir
from callroles.call.pipeline import Models, front_end
from callroles.frontend.speech import music_stretches, veto_candidates
from callroles.lab.simulate import generate_corpus
from callroles.lab.simulate.real_voices import generate_real_corpus


def _without_check() -> Models:
    """The shipped front end less the music check: what it is measured against."""
    models = Models(Settings())
    models.music = None
    return models


def music_veto(speech: np.ndarray, vad: np.ndarray, music: np.ndarray) -> np.ndarray:
    return speech & ~music_stretches(vad, music, len(speech))


def _music_as_talk(result: dict) -> float:
    return float(result["files"][0]["background_as_talk_by_kind"].get("music", 0.0))


def test_hold_music_heard_as_a_voice_leaves_talk_and_speech_stays(
    tmp_path: Path, frontend: Models
) -> None:
    corpus = tmp_path / "held-out"
    sources = {"engines": ("mbrola",), "lines": "varied", "sounds": "debian"}
    generate_corpus(corpus, calls=1, seed=4343, random_paths=True, **sources)
    off = evaluate_dir(corpus / "audio", _without_check(), corpus / "truth")
    on = evaluate_dir(corpus / "audio", frontend, corpus / "truth")
    # ina hears the first seconds of this hold music as male speech, the activity model agrees
    assert _music_as_talk(off) > 1.5, "the call no longer fools ina: pick another"
    assert _music_as_talk(on) < 0.5 * _music_as_talk(off)
    assert on["total"]["der"] <= off["total"]["der"] + 0.002  # no speech lost for it
    result = front_end(corpus / "audio" / "call00001.gsm", models=frontend)
    assert result.budget["music_check_s"] > 1.0 and "music" in result.timings


def test_real_readers_on_real_hold_music_keep_their_speech(
    tmp_path: Path, frontend: Models
) -> None:
    # bench eval's "real voices on hold" h4-real00001: LibriSpeech readers, Debian's
    # macroform-robot_dity on hold, a varied phone line
    voices = SHARED_DATA / "speakers" / "librispeech"
    assert voices.is_dir(), f"LibriSpeech readers missing at {voices}"
    corpus = tmp_path / "on-hold"
    generate_real_corpus(corpus, voices, calls=1, seed=84, varied_lines=True, house_sounds=4)
    off = evaluate_dir(corpus / "audio", _without_check(), corpus / "truth")
    on = evaluate_dir(corpus / "audio", frontend, corpus / "truth")
    assert _music_as_talk(off) > 0.5, "the call no longer fools ina: pick another"
    assert _music_as_talk(on) < 0.5 * _music_as_talk(off)
    assert on["total"]["der"] <= off["total"]["der"]  # no real reader's speech lost for it


def test_the_veto_needs_both_models_for_a_whole_window() -> None:
    speech = np.ones(600, bool)
    vad, music = np.full(600, 0.1), np.full(600, 0.9)
    vad[:100] = 0.9  # silero hears a voice: no veto
    music[250:260] = 0.2  # a 0.1 s dip inside 1 s of music is not a voice: most of the window
    music[400:] = 0.2  # the check hears a voice from 4 s on: no veto
    kept = music_veto(speech, vad, music)
    assert kept[:100].all() and not kept[105:395].any() and kept[405:].all()
    music[220:400] = 0.2  # now 100-220 is music: more than a window, still a verdict ...
    assert not music_veto(speech, vad, music)[110:210].any()
    music[140:400] = 0.2  # ... but 0.4 s is not
    assert music_veto(speech, vad, music).all()


def test_the_verdict_covers_islands_of_speech_inside_music() -> None:
    # in hold music ina and the activity model hear speech in islands of a few tenths of a
    # second: the verdict is the check's over the stretch, not one per island
    speech = np.zeros(500, bool)
    for a in range(100, 400, 60):
        speech[a : a + 20] = True
    vad, music = np.full(500, 0.1), np.full(500, 0.9)
    assert not music_veto(speech, vad, music).any()
    candidates = veto_candidates(speech, vad)
    assert candidates.all()  # the whole quiet stretch, to read the verdict over it
    vad[300:] = 0.9  # silero hears a voice from 3 s on: those islands stay
    kept = music_veto(speech, vad, music)
    assert not kept[:290].any() and (kept[310:] == speech[310:]).all()
