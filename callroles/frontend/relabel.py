"""The ``relabel`` step: each speech frame's speakers from a model that hears short turns.

The split gives a mono call's speakers their identity from turns of 1.6 s or more; a 0.5 s
answer or a backchannel inside the other's turn stays with the host. A local-speaker model
(:mod:`callroles.models.local_speakers`, trained on real conversation) hears who talks in each
frame of a 10 s chunk, but not who that is across the call. Per chunk, each local speaker is tied
to the call's speaker whose talk it overlaps most (an assignment, one local speaker per call
speaker), and only when that overlap is at least twice its overlap with the others: a local
speaker that straddles two call speakers ties to neither. Over the chunks that hear a frame:

- its number of voices is the chunks' mean count of tied local speakers talking, rounded, at
  least one where the call has speech and none where it has not (speech stays the ``speech``
  stage's); two voices in a run shorter than the talk spec's shortest overlap (0.2 s) are one;
- its speakers are the call speakers its tied local speakers name most, the split's own
  speaker where no chunk names one.

Two voices are thus only where two distinct local speakers talk at once, each tied to a call
speaker: the overlap the result reports (``overlap_method`` ``local speakers``).

The step runs where the activity model's guard fires (two voices in over 15% of the speech):
voices unlike the generated ones it was trained on, whose overlap it cannot place. On voices like
its own, its overlap and the split it serves are better than the relabelled ones
(docs/decisions.md).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from callroles.frontend.segmentation import FRAME_S, SpeakerTrack, drop_short_runs
from callroles.frontend.talk import DEFAULT_TALK
from callroles.models.local_speakers import LocalSpeakers

TIE_RATIO = 2.0  # a local speaker's overlap with its call speaker, against all the others'
KEEP_SPLIT = 1e-3  # weight of the split's own labels: they decide only where no chunk does


def relabel(talk: list[SpeakerTrack], local: LocalSpeakers) -> list[SpeakerTrack]:
    """``talk`` (two or more speakers' frames, the call's speech) with each frame's speakers
    from the tied local speakers; the same frames are speech."""
    if len(talk) < 2:
        return talk
    owned = np.stack([t.active for t in talk], axis=1).astype(float)  # (n, K)
    n, k = owned.shape
    named = np.zeros((n, k))  # how often the chunks tie each frame to each call speaker
    voices = np.zeros(n)  # tied local speakers heard, summed over chunks
    chunks = np.zeros(n)
    for c in range(len(local.starts_s)):
        t, heard = _frames_of(local, c, n)
        if len(t) == 0:
            continue
        agree = heard.T.astype(float) @ owned[t]  # (3 local, K)
        for lo, call in zip(*linear_sum_assignment(-agree), strict=True):
            rest = agree[lo].sum() - agree[lo, call]
            if agree[lo, call] > 0 and agree[lo, call] >= TIE_RATIO * rest:
                named[t, call] += heard[:, lo]
                voices[t] += heard[:, lo]  # only tied local speakers count as voices
        chunks[t] += 1
    speech = owned.any(axis=1)
    count = np.rint(voices / np.maximum(chunks, 1)).astype(int)
    count = np.where(speech, np.clip(count, 1, k), 0)
    count = np.where(chunks > 0, count, owned.sum(axis=1).astype(int))  # past the last chunk
    two = drop_short_runs(count > 1, int(round(DEFAULT_TALK.min_overlap_s / FRAME_S)))
    count = np.where(two | (count < 2), count, 1)  # the talk spec's shortest overlap
    order = np.argsort(-(named + KEEP_SPLIT * owned), axis=1, kind="stable")
    out = np.zeros((n, k), bool)
    for rank in range(k):
        rows = np.flatnonzero(count > rank)
        out[rows, order[rows, rank]] = True
    return [replace(t, active=out[:, i]) for i, t in enumerate(talk)]


def _frames_of(local: LocalSpeakers, chunk: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The call's frames ``chunk`` covers and, for each, its nearest model frame's speakers."""
    frames = local.active.shape[1]
    start = local.starts_s[chunk]
    end = start + 2 * local.frame_centre_s + frames * local.frame_step_s
    t = np.arange(int(round(start / FRAME_S)), min(int(round(end / FRAME_S)), n))
    j = np.rint((t * FRAME_S - start - local.frame_centre_s) / local.frame_step_s).astype(int)
    return t, local.active[chunk, np.clip(j, 0, frames - 1)]
