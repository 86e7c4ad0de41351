"""Where somebody speaks: three opinions, one decision.

- inaSpeechSegmenter (trained on real broadcast audio) labels whole stretches speech, music,
  noise or no energy. Its speech/music decision holds on real audio; its boundaries carry a few
  hundred milliseconds of hangover and merge short pauses.
- silero-vad (``callroles.runtime.vad``, trained on thousands of hours of real speech, noise and
  music) decides every 32 ms.
- Our activity model (``callroles.runtime.activity``) is frame-precise on generated calls and
  the only one that hears two voices at once, but it has heard no real audio: on real recordings
  it both hears speech in music and misses real voices (musanmix, 63-74 s).

A speaker's talk is where inaSpeechSegmenter hears speech (music, noise and silence are never
talk) and where one of the two frame-level models hears it too ("either", the default): ina
removes what the frame models mistake for voices, and either frame model may fill in what the
other misses. The other rules stay selectable (``CALLROLES_SPEECH_EVIDENCE``) so the choice can
be measured again: ``callroles bench speech`` runs all of them on the same files
(docs/frontend.md, "Speech evidence").
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from callroles.audio.separate import SPEECH

SpeechRule = Literal["activity", "silero", "either"]
RULES: tuple[SpeechRule, ...] = ("activity", "silero", "either")
VAD_THRESHOLD = 0.5  # silero's own default


def speech_frames(
    grid: np.ndarray,
    activity_speech: np.ndarray,
    vad: np.ndarray | None,
    rule: SpeechRule = "either",
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
    raise ValueError(f"unknown speech rule {rule!r}; one of {RULES}")
