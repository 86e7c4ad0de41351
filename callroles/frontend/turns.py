"""Who speaks when both voices have the same gender: cluster turns, not 1.6 s partials.

The partial-level clustering of ``separate.by_embedding`` voted per frame with 1.6 s partials
that straddle turn boundaries, and gave 54-66 s of one speaker's speech to the other on long
same-gender calls (docs/frontend.md). Here the activity model first cuts the call into turns
(single-voice stretches between silences, overlaps and predicted speaker changes). Each turn
gets one embedding: the mean of its partials, or, for a turn shorter than a partial, a partial
of its own audio repeated (a partial centred on a short turn hears mostly the neighbours).
Turns of at least a second are clustered spectrally; duration-weighted centroids then label
every turn, and a turn whose partials move from one centroid to the other is split where they
do (a two-state Viterbi with a switch penalty), for changes the activity model missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations

import numpy as np

from callroles.frontend.resegment import viterbi
from callroles.frontend.segmentation import FRAME_S, SpeakerTrack, runs
from callroles.frontend.separate import SPEECH, gender_of, name_tracks
from callroles.frontend.talk import DEFAULT_TALK, TalkSpec, nearest_owner, speech_and_overlap
from callroles.models.activity import Activity
from callroles.models.embeddings import SAME_VOICE, partial_mels

WIDE_RATE = 16_000  # the encoder's partials are cut from the 16 kHz signal
PARTIAL = 160  # frames in a 1.6 s partial
HOP = 40  # frames between partials inside a turn


@dataclass(frozen=True)
class TurnSpec:
    min_cluster_s: float = 1.0  # turns this long choose the clusters; shorter ones only join
    refine_iterations: int = 6
    switch_penalty: float = 0.05  # cosine units; Viterbi inside turns of 4 partials or more


DEFAULT_TURNS = TurnSpec()


def cut_turns(act: Activity, spec: TalkSpec = DEFAULT_TALK) -> list[tuple[int, int]]:
    """Single-voice frame runs, cut at silence, overlap and predicted changes."""
    speech, overlap = speech_and_overlap(act, spec)
    single = speech & ~overlap & (act.change <= spec.change)
    shortest = int(round(spec.min_turn_s / FRAME_S))
    return [(a, b) for a, b in runs(single) if b - a >= shortest]


def _partials(
    wide: np.ndarray, turns: list[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mel partials of every turn, the turn each belongs to and its first frame (-1: tiled)."""
    starts: list[int] = []
    owner: list[int] = []
    short: list[int] = []
    for k, (a, b) in enumerate(turns):
        if b - a >= PARTIAL:
            firsts = list(range(a, b - PARTIAL + 1, HOP))
            starts += firsts
            owner += [k] * len(firsts)
        else:
            short.append(k)
    per_frame = WIDE_RATE // 100
    mels = [partial_mels(wide, np.asarray(starts) * FRAME_S)] if starts else []
    if short:  # each short turn's own audio, repeated to one partial
        pieces = []
        for k in short:
            a, b = turns[k]
            audio = wide[a * per_frame : b * per_frame]
            reps = int(np.ceil(PARTIAL * per_frame / max(1, len(audio))))
            pieces.append(np.tile(audio, reps)[: PARTIAL * per_frame])
        mels.append(partial_mels(np.concatenate(pieces), np.arange(len(short)) * PARTIAL * FRAME_S))
        owner += short
    first = np.r_[np.asarray(starts, int), np.full(len(short), -1)]
    return np.concatenate(mels), np.asarray(owner), first


def _centroids(emb: np.ndarray, labels: np.ndarray, weight: np.ndarray, k: int) -> np.ndarray:
    c = np.stack([(emb[labels == j] * weight[labels == j, None]).sum(0) for j in range(k)])
    return c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-9)


def cluster_turns(
    emb: np.ndarray, frames: np.ndarray, n_speakers: int, spec: TurnSpec = DEFAULT_TURNS
) -> np.ndarray:
    """Speaker label per turn from L2-normalised turn embeddings and turn lengths (frames)."""
    from sklearn.cluster import SpectralClustering  # noqa: PLC0415 (scikit-learn, about 1 s: only calls separated by voice need it)

    seeds = frames >= spec.min_cluster_s / FRAME_S
    if seeds.sum() <= n_speakers:
        seeds = np.ones(len(emb), bool)
    if seeds.sum() <= n_speakers:
        return np.arange(len(emb)) % n_speakers
    affinity = np.clip(emb[seeds] @ emb[seeds].T, 0.0, 1.0)
    algo = SpectralClustering(n_speakers, affinity="precomputed", random_state=0)
    labels = np.zeros(len(emb), int)
    labels[seeds] = algo.fit_predict(affinity)
    mask = seeds
    for _ in range(spec.refine_iterations):
        if len(set(labels[mask].tolist())) < n_speakers:
            break
        centre = _centroids(emb[mask], labels[mask], frames[mask].astype(float), n_speakers)
        labels = (emb @ centre.T).argmax(1)
        mask = np.ones(len(emb), bool)
    return labels


def anchored_turns(
    emb: np.ndarray, frames: np.ndarray, anchor: np.ndarray, spec: TurnSpec = DEFAULT_TURNS
) -> np.ndarray:
    """Two labels per turn when one voice is known (an enrolled agent's print): 0 the known
    voice, 1 everyone else. Spectral clustering splits the dominant voice in two when the other
    speaks a second or two (docs/roles.md, archive misses); here the print seeds one centre and
    the turn least like it the other, then duration-weighted 2-means refines both."""
    sim = emb @ anchor
    labels = np.zeros(len(emb), int)
    if len(emb) < 2:
        return labels
    centre = np.stack([anchor, emb[int(sim.argmin())]])
    for _ in range(spec.refine_iterations):
        labels = (emb @ centre.T).argmax(1)
        if len(set(labels.tolist())) < 2:
            break
        centre = _centroids(emb, labels, frames.astype(float), 2)
    return labels


def one_voice_split(found: TurnEmbeddings, spec: TurnSpec = DEFAULT_TURNS) -> bool:
    """Whether clustering the turns in two splits one voice: the two centres at least
    ``SAME_VOICE`` alike, as two samples of one speaker are. It happens when the other speaker
    says too little to make a cluster (a 10 s call whose customer speaks 1.6 s)."""
    if len(found.turns) <= 2:
        return False
    labels = cluster_turns(found.turn_emb, found.frames, 2, spec)
    centres = _centroids(found.turn_emb, labels, found.frames.astype(float), 2)
    return float(centres[0] @ centres[1]) >= SAME_VOICE


def frame_labels(
    n: int,
    turns: list[tuple[int, int]],
    labels: np.ndarray,
    partial_emb: np.ndarray,
    partial_owner: np.ndarray,
    partial_first: np.ndarray,
    centres: np.ndarray,
    spec: TurnSpec = DEFAULT_TURNS,
) -> np.ndarray:
    """Speaker per frame: turn labels, long turns split by Viterbi; -1 outside every turn."""
    out = np.full(n, -1)
    scores = partial_emb @ centres.T
    for k, (a, b) in enumerate(turns):
        idx = np.flatnonzero(partial_owner == k)
        if len(idx) < 4:
            out[a:b] = labels[k]
            continue
        path = viterbi(scores[idx], spec.switch_penalty)
        mid = partial_first[idx] + PARTIAL // 2
        frames = np.arange(a, b)
        out[a:b] = path[np.abs(frames[:, None] - mid[None, :]).argmin(1)]
    return out


@dataclass(frozen=True)
class TurnEmbeddings:
    """A call's turns and their voices: computed once, used to count and to separate."""

    turns: list[tuple[int, int]]
    partial_emb: np.ndarray  # (P, D) one embedding per partial
    partial_owner: np.ndarray  # (P,) the turn each partial belongs to
    partial_first: np.ndarray  # (P,) its first frame (-1: a short turn's tiled audio)
    turn_emb: np.ndarray  # (K, D) L2-normalised mean of each turn's partials
    frames: np.ndarray  # (K,) each turn's length in frames


def embed_turns(
    n: int, wide: np.ndarray, encoder, act: Activity, talk: TalkSpec = DEFAULT_TALK
) -> TurnEmbeddings | None:
    """Cut the call into turns and embed each; None when the activity model hears no turn."""
    turns = cut_turns(act.cut(n), talk)
    if not turns:
        return None
    mels, owner, first = _partials(wide, turns)
    emb = np.concatenate([encoder(mels[i : i + 64]) for i in range(0, len(mels), 64)])
    turn_emb = np.stack([emb[owner == k].mean(0) for k in range(len(turns))])
    turn_emb /= np.maximum(np.linalg.norm(turn_emb, axis=1, keepdims=True), 1e-9)
    frames = np.asarray([b - a for a, b in turns])
    return TurnEmbeddings(turns, emb, owner, first, turn_emb, frames)


def turn_owners(
    n: int,
    found: TurnEmbeddings,
    n_speakers: int = 2,
    spec: TurnSpec = DEFAULT_TURNS,
    anchor: np.ndarray | None = None,
) -> np.ndarray | None:
    """(2, n) frame owners (speaker index, and who joins an overlap) from clustered turns;
    with ``anchor`` (a voice the call holds, two speakers) the turns are dealt around it
    (:func:`anchored_turns`). None when the call has too few turns to cluster.
    """
    if len(found.turns) <= n_speakers and n_speakers > 1:
        return None
    frames = found.frames
    if n_speakers == 1:
        labels = np.zeros(len(found.turns), int)
    elif anchor is not None and n_speakers == 2:
        labels = anchored_turns(found.turn_emb, frames, anchor, spec)
    else:
        labels = cluster_turns(found.turn_emb, frames, n_speakers, spec)
    centres = _centroids(found.turn_emb, labels, frames.astype(float), n_speakers)
    per_frame = frame_labels(
        n, found.turns, labels, found.partial_emb, found.partial_owner, found.partial_first,
        centres, spec,
    )  # fmt: skip
    marks = [SpeakerTrack("", None, 0, per_frame == k, "") for k in range(n_speakers)]
    return nearest_owner(marks, n)


def align(owners: np.ndarray, tracks: list[SpeakerTrack]) -> np.ndarray:
    """Renumber owners' speakers to the given tracks (the permutation they overlap most)."""
    k = len(tracks)
    overlap = np.array([[np.sum((owners[0] == i) & t.active) for t in tracks] for i in range(k)])
    best = max(permutations(range(k)), key=lambda p: sum(overlap[i, p[i]] for i in range(k)))
    return np.asarray(best)[owners]


def tracks_of(grid: np.ndarray, owners: np.ndarray, n_speakers: int) -> list[SpeakerTrack]:
    """ina-speech tracks per speaker (what the role model scores), named in order of first
    speech; ``owners`` (renumber them with :func:`align`) say who owns each frame."""
    speech = np.isin(grid, SPEECH)
    tracks = []
    for k in range(n_speakers):
        active = speech & (owners[0] == k)
        tracks.append(SpeakerTrack("", gender_of(grid, active), 0, active, f"turns {k + 1}"))
    return name_tracks(tracks)


def by_turns(
    grid: np.ndarray,
    found: TurnEmbeddings,
    n_speakers: int = 2,
    anchor: np.ndarray | None = None,
) -> tuple[list[SpeakerTrack], np.ndarray] | None:
    """ina-speech tracks per speaker (for the role model) and the frame owners (for talk time),
    numbered as the tracks are. None when the call has too few turns to cluster (the caller
    falls back to partials).
    """
    owners = turn_owners(len(grid), found, n_speakers, anchor=anchor)
    if owners is None:
        return None
    tracks = tracks_of(grid, owners, n_speakers)
    return tracks, align(owners, tracks) if len(tracks) == n_speakers else owners
