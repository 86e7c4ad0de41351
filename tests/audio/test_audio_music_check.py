"""The music check in the front end: real hold music that inaSpeechSegmenter and the activity
model hear as a voice leaves talk, and speech stays. The call is the first of bench eval's
held-out set (MBROLA voices, Debian's real hold music and prompts, varied lines; SYNTHETIC),
generated here: none of it was heard by the check in training."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from callroles.audio.pipeline import FrontEnd
from callroles.audio.speech import music_veto
from callroles.eval_diarization import evaluate_dir
from callroles.settings import Settings
from callroles.simulate import generate_corpus


def _music_as_talk(result: dict) -> float:
    return float(result["files"][0]["background_as_talk_by_kind"].get("music", 0.0))


def test_hold_music_heard_as_a_voice_leaves_talk_and_speech_stays(
    tmp_path: Path, frontend: FrontEnd
) -> None:
    corpus = tmp_path / "held-out"
    sources = {"engines": ("mbrola",), "lines": "varied", "sounds": "debian"}
    generate_corpus(corpus, calls=1, seed=4343, random_paths=True, **sources)
    off = evaluate_dir(corpus / "audio", FrontEnd(Settings(music_check=False)), corpus / "truth")
    on = evaluate_dir(corpus / "audio", frontend, corpus / "truth")
    # ina hears the first seconds of this hold music as male speech, the activity model agrees
    assert _music_as_talk(off) > 1.5, "the call no longer fools ina: pick another"
    assert _music_as_talk(on) < 0.5 * _music_as_talk(off)
    assert on["total"]["der"] <= off["total"]["der"] + 0.002  # no speech lost for it
    result = frontend.process(corpus / "audio" / "call00001.gsm")
    assert result.budget["music_check_s"] > 1.0 and "music" in result.timings


def test_the_veto_needs_both_models_for_a_whole_window() -> None:
    speech = np.ones(400, bool)
    vad, music = np.full(400, 0.1), np.full(400, 0.9)
    vad[:100] = 0.9  # silero hears a voice: no veto
    music[250:260] = 0.2  # the check hears a voice: no veto, and 250-400 is 1.5 s
    music[100:200] = 0.9  # 100-250: 1.5 s of music where silero is quiet
    kept = music_veto(speech, vad, music)
    assert kept[:100].all() and not kept[100:250].any() and kept[250:260].all()
    assert not kept[260:].any()
    music[300:] = 0.2  # now 260-300 is 0.4 s: shorter than a window, not a verdict
    assert music_veto(speech, vad, music)[260:].all()
    assert music_veto(speech, None, music).all() and music_veto(speech, vad, None).all()
