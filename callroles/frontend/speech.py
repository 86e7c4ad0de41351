"""Where somebody speaks: three opinions, one decision.

- inaSpeechSegmenter (trained on real broadcast audio) labels whole stretches speech, music,
  noise or no energy. Its speech/music decision holds on real audio; its boundaries carry a few
  hundred milliseconds of hangover and merge short pauses.
- silero-vad (``callroles.models.vad``, trained on thousands of hours of real speech, noise and
  music) decides every 32 ms.
- Our activity model (``callroles.models.activity``) is frame-precise on generated calls and
  the only one that hears two voices at once, but it has heard no real audio: on real recordings
  it both hears speech in music and misses real voices (musanmix, 63-74 s).

A speaker's talk is where inaSpeechSegmenter hears speech (music, noise and silence are never
talk) and where one of the two frame-level models hears it too ("either"): ina removes what
the frame models mistake for voices, and either frame model may fill in what the other misses.
"rescue" (the default since 2026-12-01: lower DER on every evaluation set, real and SYNTHETIC,
docs/frontend.md) also counts ina's noise and no-energy frames where *both* frame models hear a
voice (never its music); "gated" lets the activity model only extend silero's speech.
The other rules stay selectable (``CALLROLES_SPEECH_EVIDENCE``) so the choice can be measured
again: ``callroles bench speech`` runs all of them on the same files
(docs/frontend.md, "Speech evidence").
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.ndimage import binary_dilation, uniform_filter1d

from callroles.frontend.segmentation import drop_short_runs, runs
from callroles.frontend.separate import SPEECH
from callroles.models.music import MUSIC_SPEC

SpeechRule = Literal["activity", "silero", "either", "rescue", "gated"]
RULES: tuple[SpeechRule, ...] = ("activity", "silero", "either", "rescue", "gated")
#: "gated": the activity model may extend silero's speech by this much on either side, never
#: start speech of its own (it hears voices in real hold music: docs/frontend.md)
GATE_S = 0.5
FRAME_S = 0.01
#: ina's labels that "rescue" lets both frame models overrule; music is never overruled
RESCUABLE = ("noise", "silence")
VAD_THRESHOLD = 0.5  # silero's own default
MUSIC_THRESHOLD = 0.5  # the music check's own decision: music is the likelier class
WINDOW_FRAMES = int(round(MUSIC_SPEC.window_s / FRAME_S))  # the shortest veto: one window


def music_veto(speech: np.ndarray, vad: np.ndarray | None, music: np.ndarray | None) -> np.ndarray:
    """``speech`` less the stretches the music check hears as music where silero-vad hears no
    voice: neither model that has heard real audio hears a voice there (docs/frontend.md, "The
    music check"). The verdict is read over the whole timeline, not only where ina or the
    activity model say speech (in hold music they say it in islands of a few tenths of a
    second), by a majority over the check's own 1 s window, and it must last a whole window.
    Without silero's opinion nothing is vetoed."""
    if music is None or vad is None:
        return speech
    return speech & ~music_stretches(vad, music, len(speech))


def music_stretches(vad: np.ndarray, music: np.ndarray, n: int) -> np.ndarray:
    """Frames in stretches of at least one window (1 s) where most of the window around each
    frame is music to the check and voiceless to silero-vad: a lone frame is not a verdict (0.17
    s of a real reader in lamartine.wav went otherwise), nor is a flicker of silero inside music
    a voice."""
    heard = np.zeros(n, bool)
    m = min(n, len(vad), len(music))
    heard[:m] = (np.asarray(music[:m]) > MUSIC_THRESHOLD) & (np.asarray(vad[:m]) <= VAD_THRESHOLD)
    most = uniform_filter1d(heard.astype(np.float32), WINDOW_FRAMES, mode="constant") > 0.5
    return drop_short_runs(most, WINDOW_FRAMES)


def veto_candidates(speech: np.ndarray, vad: np.ndarray | None) -> np.ndarray:
    """The frames worth scoring: stretches of a whole window or more where silero-vad hears no
    voice and ina or the activity model hears speech somewhere (a veto lies in one of them)."""
    if vad is None:
        return np.zeros(len(speech), bool)
    quiet = np.zeros(len(speech), bool)
    m = min(len(speech), len(vad))
    quiet[:m] = np.asarray(vad[:m]) <= VAD_THRESHOLD
    out = np.zeros(len(speech), bool)
    for a, b in runs(quiet):
        if b - a >= WINDOW_FRAMES and speech[a:b].any():
            out[a:b] = True
    return out


def speech_frames(
    grid: np.ndarray,
    activity_speech: np.ndarray,
    vad: np.ndarray | None,
    rule: SpeechRule = "rescue",
) -> np.ndarray:
    """Per 10 ms frame: does somebody speak? ``grid`` is ina's label per frame,
    ``activity_speech`` the activity model's decision, ``vad`` silero's P(speech) (None: not run,
    and the rule falls back to the activity model alone)."""
    n = len(grid)
    ina = np.isin(grid, SPEECH)
    act = np.asarray(activity_speech[:n], dtype=bool)
    if vad is None or rule == "activity":
        return act & ina
    sil = np.asarray(vad[:n]) > VAD_THRESHOLD
    if rule == "silero":
        return sil & ina
    if rule == "either":
        return (act | sil) & ina
    if rule == "rescue":
        # ina calls a quiet voice on a phone line "noise" or no-energy "silence" (real voices in
        # generated calls: a customer's 5 s turn at -6 dB became noise); both frame models
        # hearing a voice there outvote it. Music stays a veto: hold music is never talk.
        return ((act | sil) & ina) | (act & sil & np.isin(grid, RESCUABLE))
    if rule == "gated":
        reach = int(round(GATE_S / FRAME_S))
        near = binary_dilation(sil, structure=np.ones(2 * reach + 1, bool)) if sil.any() else sil
        return (sil | (act & near)) & ina
    raise ValueError(f"unknown speech rule {rule!r}; one of {RULES}")
