"""Scoring: each speaker's stream, windowed as the paper does, through the role CRNN, then Eq. 4.

A speaker's stream is their speech bundled into one signal (the front end's
:class:`~callroles.frontend.speakers.SpeakerStream`). Its log-mel spectrogram is computed once
and cut into 10 s windows 1 s apart (:func:`callroles.models.features.stream_windows`; under
10 s of speech the speech is repeated to fill one window). With the model's trunk-once graph the
conv trunk runs once over the whole spectrogram and the recurrent head once per window;
without one, windows are scored in batches. A speaker's probabilities are the mean over their
windows: the paper's Eq. 4 (:func:`callroles.call.roles.eq4`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import gcd

import numpy as np

from callroles.call.roles import eq4
from callroles.frontend.speakers import SpeakerStream
from callroles.models.crnn import RoleModel
from callroles.models.features import stream_windows

#: about this many windows per run of the trunk-once graph, whose activations grow with the stream
#: (750 MB more for a speaker's 30 minutes)
STREAM_WINDOWS = 240


@dataclass(frozen=True)
class SpeakerScore:
    """One speaker's windows through the role model: per-window class probabilities (N, C),
    their Eq. 4 mean (None without a window) and whether the speech was repeated to fill one."""

    speaker: str
    window_probs: np.ndarray
    mean: np.ndarray | None
    padded: bool

    @property
    def windows(self) -> int:
        return len(self.window_probs)


def score_stream(model: RoleModel, stream: np.ndarray) -> tuple[np.ndarray, bool]:
    """Class probabilities (N, C) of every window of one speaker's stream (8 kHz), and whether it
    was padded. Trunk-once when the model has the graph: the windows' frames, exactly, as one
    spectrogram."""
    win = stream_windows(stream, model.spec)
    n = len(win.windows)
    if model.stream_session is not None and n > 0:
        hop, frames = model.frames_per_hop, model.window_shape[1]
        # a run starts where the trunk's steps line up with the windows as in one run, so each
        # window meets the same pooling (only the few frames before a run's start are unseen)
        per_step = model.stream_info["frames_per_step"]
        step = per_step // gcd(per_step, hop)
        chunk = step * -(-STREAM_WINDOWS // step)
        parts = []
        for first in range(0, n, chunk):
            k = min(chunk, n - first)
            covered = win.logmel[:, first * hop : first * hop + frames + hop * (k - 1)]
            parts.append(model.score_stream(covered, k))
        return np.concatenate(parts), win.padded
    return model.score(win.windows), win.padded


def score_speakers(model: RoleModel, streams: Sequence[SpeakerStream]) -> dict[str, SpeakerScore]:
    """Every speaker's :class:`SpeakerScore`, by speaker name."""
    out = {}
    for s in streams:
        probs, padded = score_stream(model, s.audio)
        out[s.speaker] = SpeakerScore(s.speaker, probs, eq4(probs) if len(probs) else None, padded)
    return out
