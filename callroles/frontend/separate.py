"""Who speaks when: one speaker per channel, by gender label (the paper), or by voice embeddings.

The embedding strategy is the paper's stated future work (same-gender mono calls). What is
kept out of the clustering matters most: only 1.6 s partials lying almost entirely inside
ina's speech are embedded and clustered; every speech frame then takes the label of the
partials covering it (or the nearest one), and runs shorter than ``min_turn_s`` are absorbed
by their neighbours, which gives change points inside long segments.
"""

from __future__ import annotations

import numpy as np

from callroles.frontend.segmentation import FRAME_S, SpeakerTrack, runs
from callroles.models.embeddings import partial_mels

SPEECH = ("female", "male")
PARTIAL_S = 1.6
PARTIAL_HOP_S = 0.4
MIN_SPEECH_FRACTION = 0.9
MIN_TURN_S = 0.6
GENDER_MIN_SHARE = 0.1  # minority gender needs this share of speech (and GENDER_MIN_S)
GENDER_MIN_S = 2.0


def gender_of(grid: np.ndarray, active: np.ndarray) -> str | None:
    f, m = int(np.sum(grid[active] == "female")), int(np.sum(grid[active] == "male"))
    return None if f + m == 0 else ("female" if f >= m else "male")


def name_tracks(tracks: list[SpeakerTrack]) -> list[SpeakerTrack]:
    """Drop silent tracks and name the rest S1, S2, ... in order of first speech."""
    live = [t for t in tracks if t.active.any()]
    live.sort(key=lambda t: int(np.argmax(t.active)))
    return [
        SpeakerTrack(f"S{i + 1}", t.gender, t.channel, t.active, t.source, t.role_hint)
        for i, t in enumerate(live)
    ]


def by_channel(grids: list[np.ndarray], layout: str) -> list[SpeakerTrack]:
    """Stereo: each channel's speech is one speaker."""
    hints: dict[int, str] = {}
    if layout == "stereo-agent-left":
        hints = {0: "agent", 1: "customer"}
    elif layout == "stereo-agent-right":
        hints = {0: "customer", 1: "agent"}
    tracks = []
    for ch, grid in enumerate(grids):
        active = np.isin(grid, SPEECH)
        tracks.append(
            SpeakerTrack("", gender_of(grid, active), ch, active, f"channel {ch}", hints.get(ch))
        )
    return name_tracks(tracks)


def opposite_genders(grid: np.ndarray) -> bool:
    """True when both gender labels hold a real share of the speech (the paper's calls)."""
    f, m = float(np.sum(grid == "female")), float(np.sum(grid == "male"))
    minority = min(f, m)
    return minority * FRAME_S >= GENDER_MIN_S and minority >= GENDER_MIN_SHARE * (f + m)


def by_gender(grid: np.ndarray) -> list[SpeakerTrack]:
    """The paper's separation: all female speech is one speaker, all male speech the other."""
    return name_tracks([SpeakerTrack("", g, 0, grid == g, f"gender {g}") for g in SPEECH])


def _smooth(labels: np.ndarray, speech: np.ndarray, min_frames: int) -> np.ndarray:
    """Within each speech run, merge label runs shorter than ``min_frames`` into a neighbour."""
    out = labels.copy()
    for a, b in runs(speech):
        for _ in range(3):
            seg = out[a:b]
            cuts = np.flatnonzero(np.diff(seg)) + 1
            bounds = np.r_[0, cuts, len(seg)]
            lens = np.diff(bounds)
            if len(lens) <= 1 or lens.min() >= min_frames:
                break
            i = int(np.argmin(lens))
            left, right = bounds[i], bounds[i + 1]
            donor = seg[left - 1] if left > 0 else seg[right]
            if left > 0 and right < len(seg) and lens[i + 1] > lens[i - 1]:
                donor = seg[right]
            seg[left:right] = donor
    return out


def cluster(embeddings: np.ndarray, n_speakers: int) -> np.ndarray:
    """Cluster L2-normalised embeddings (agglomerative, cosine, average linkage)."""
    from sklearn.cluster import AgglomerativeClustering  # noqa: PLC0415 (scikit-learn, about 1 s: only calls separated by voice need it)

    if len(embeddings) <= n_speakers:
        return np.arange(len(embeddings))
    algo = AgglomerativeClustering(n_clusters=n_speakers, metric="cosine", linkage="average")
    return np.asarray(algo.fit_predict(embeddings))


def partial_starts(speech: np.ndarray, least: float = MIN_SPEECH_FRACTION) -> np.ndarray:
    """Start times of 1.6 s partials that lie (almost) entirely in speech (``least``)."""
    width, hop = int(PARTIAL_S / FRAME_S), int(PARTIAL_HOP_S / FRAME_S)
    if len(speech) < width:
        return np.zeros(0)
    csum = np.r_[0, np.cumsum(speech)]
    starts = np.arange(0, len(speech) - width + 1, hop)
    frac = (csum[starts + width] - csum[starts]) / width
    keep = starts[frac >= least]
    if len(keep) < 4:  # short call: take what there is
        keep = starts[frac >= 0.5]
    return keep * FRAME_S


def by_embedding(
    grid: np.ndarray, wide: np.ndarray, encoder, n_speakers: int = 2, batch: int = 64
) -> list[SpeakerTrack]:
    """Cluster voice embeddings of speech partials into ``n_speakers`` speakers."""
    speech = np.isin(grid, SPEECH)
    starts = partial_starts(speech)
    if n_speakers <= 1 or len(starts) < 2:
        return name_tracks([SpeakerTrack("", gender_of(grid, speech), 0, speech, "cluster 1")])
    mels = partial_mels(wide, starts)
    emb = np.concatenate([encoder(mels[i : i + batch]) for i in range(0, len(mels), batch)])
    labels = cluster(emb, n_speakers)
    width = int(PARTIAL_S / FRAME_S)
    votes = np.zeros((n_speakers, len(grid)), np.float32)
    for s, lab in zip(np.round(starts / FRAME_S).astype(int), labels, strict=True):
        votes[lab, s : s + width] += 1.0
    covered = votes.sum(0) > 0
    frame_label = np.argmax(votes, axis=0)
    if covered.any():  # uncovered speech frames take the nearest covered frame's label
        idx = np.flatnonzero(covered)
        pos = np.clip(np.searchsorted(idx, np.arange(len(grid))), 1, len(idx) - 1)
        nearer = np.where(
            np.abs(idx[pos - 1] - np.arange(len(grid))) <= np.abs(idx[pos] - np.arange(len(grid))),
            idx[pos - 1],
            idx[pos],
        )
        if len(idx) == 1:
            nearer = np.full(len(grid), idx[0])
        frame_label = np.where(covered, frame_label, frame_label[nearer])
    frame_label = _smooth(frame_label, speech, int(MIN_TURN_S / FRAME_S))
    tracks = []
    for k in range(n_speakers):
        active = speech & (frame_label == k)
        tracks.append(SpeakerTrack("", gender_of(grid, active), 0, active, f"cluster {k + 1}"))
    return name_tracks(tracks)
