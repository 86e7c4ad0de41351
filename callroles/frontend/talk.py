"""Per-speaker talk masks from the activity model: who speaks comes from the separation, when
and how many from ``callroles.models.activity``.

A frame counts as talk for a speaker when the activity model hears speech there and that
speaker owns the frame; a frame it hears two voices in counts for both speakers, as the ground
truth and a human listener count a backchannel under the other party. Ownership comes from the
separation strategy: for the gender strategy, the ina track nearest in time (ina's hangover and
the model's boundaries disagree by a few frames at each turn); for the same-voice strategy, the
turns clustered in ``callroles.frontend.turns``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.ndimage import distance_transform_edt

from callroles.frontend.segmentation import FRAME_S, SpeakerTrack, drop_short_runs, runs
from callroles.models.activity import Activity


@dataclass(frozen=True)
class TalkSpec:
    """Decision thresholds on the model's probabilities (measured: docs/frontend.md)."""

    speech: float = 0.5  # P(one) + P(two) above this: somebody speaks
    overlap: float = 0.5  # P(two) above this: two people speak
    change: float = 0.5  # P(change) above this: a turn ends here
    min_turn_s: float = 0.3  # single-voice pieces shorter than this are not turns of their own
    min_overlap_s: float = 0.2  # shorter runs of two voices count as one voice
    bridge_s: float = 0.3  # a speaker's own pauses shorter than this count as talk (as the
    # simulator's truth and a human annotator count them)
    # Generated calls from the voices the model was trained on overlap on 2-11% of their speech,
    # and the model hears that much (35 calls, seeds 4242 and 1234: at most 0.112). On voices it
    # never heard it hears phantom overlap inside one voice's turns: 0.21 median on held-out
    # MBROLA voices (true 0.05), 0.17-0.21 on real LibriSpeech voices (true 0.00), 0.31-0.34 on
    # the real Callytics calls. Above this share it is out of its depth: ignore its overlap
    # (docs/frontend.md, "A guard"; was 0.25 until 2026-12-01).
    max_overlap_share: float = 0.15


DEFAULT_TALK = TalkSpec()


def _thresholded(act: Activity, spec: TalkSpec) -> tuple[np.ndarray, np.ndarray]:
    speech = 1.0 - act.count[:, 0] > spec.speech
    return speech, speech & (act.count[:, 2] > spec.overlap)


def overlap_share(act: Activity, spec: TalkSpec = DEFAULT_TALK) -> float:
    """Share of the speech frames in which the model hears two voices."""
    speech, overlap = _thresholded(act, spec)
    return float(overlap.sum() / max(1, speech.sum()))


def overlap_ignored(act: Activity, spec: TalkSpec = DEFAULT_TALK) -> bool:
    """The guard: the model hears two voices in more of the speech than conversation holds."""
    return overlap_share(act, spec) > spec.max_overlap_share


def heard_overlap_s(act: Activity, spec: TalkSpec = DEFAULT_TALK) -> float:
    """Seconds in which the model hears two voices, before the guard and the shortest run."""
    return float(_thresholded(act, spec)[1].sum()) * FRAME_S


def speech_and_overlap(act: Activity, spec: TalkSpec = DEFAULT_TALK) -> tuple[np.ndarray, ...]:
    """(speech, overlap) frame masks; overlap implies speech, and is empty when implausible."""
    speech, overlap = _thresholded(act, spec)
    if overlap_ignored(act, spec):
        overlap = np.zeros_like(overlap)
    return speech, drop_short_runs(overlap, int(round(spec.min_overlap_s / FRAME_S)))


def nearest_owner(tracks: list[SpeakerTrack], n: int) -> np.ndarray:
    """(2, n) the nearest and second-nearest track per frame, by distance to its active frames."""
    far = float(10 * n + 1)
    dist = np.stack(
        [
            distance_transform_edt(~t.active[:n]) if t.active.any() else np.full(n, far)
            for t in tracks
        ]
    )
    order = np.argsort(dist, axis=0, kind="stable")
    return order[:2] if len(tracks) > 1 else np.vstack([order[0], order[0]])


def talk_tracks(
    tracks: list[SpeakerTrack],
    act: Activity,
    owner: np.ndarray | None = None,
    spec: TalkSpec = DEFAULT_TALK,
    speech: np.ndarray | None = None,
) -> list[SpeakerTrack]:
    """Each track's activity replaced by its talk: owned speech, plus every overlap it is in.

    ``owner`` is (2, n): per frame the speaker who owns it and the one who would join an overlap;
    None derives it from the tracks themselves (``nearest_owner``). ``speech`` is where somebody
    speaks (``callroles.frontend.speech``); None: where the activity model hears it.
    """
    if not tracks:
        return tracks
    n = len(tracks[0].active)
    act = act.cut(n)
    heard, overlap = speech_and_overlap(act, spec)
    if speech is not None:
        heard = np.asarray(speech[:n], dtype=bool)
        overlap = overlap & heard
    speech = heard
    own = nearest_owner(tracks, n) if owner is None else owner
    masks = []
    for k in range(len(tracks)):
        active = speech & (own[0] == k)
        if len(tracks) > 1:
            active |= overlap & (own[1] == k)
        masks.append(active)
    bridge = int(round(spec.bridge_s / FRAME_S))
    for active in masks if bridge > 1 else []:
        for a, b in runs(~active):  # a pause inside this speaker's speech, nobody else talking
            if a > 0 and b < n and b - a < bridge and not speech[a:b].any():
                active[a:b] = True
    return [replace(t, active=m) if m.any() else t for t, m in zip(tracks, masks, strict=True)]
