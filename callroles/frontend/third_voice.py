"""A third voice inside one of a call's two speakers: a transfer, a supervisor, a second caller.

By default a mono call keeps two speakers unless a third voice is counted with certainty
(:mod:`callroles.frontend.count`). Short turns defeat that count (three readers taking 4 s turns
come out as two speakers), so the third voice ends inside one of the two. This step asks of each
speaker whether its turns hold two voices, in two stages:

1. **A screen on what the split computed anyway.** The speaker's turns of at least a second
   (their GE2E embeddings) are split in two by Ward linkage. Unless turns are ``screen_gap``
   more alike within the halves than across them (mean pairwise cosines), the speaker is one
   voice and nothing more runs: most calls stop here, at no cost.
2. **CAM++ decides** (:mod:`callroles.models.campplus`: 200k real speakers, EER 2.5% on 2 s
   phone-line pieces against GE2E's 10%, bench/results/voiceprint.json). It embeds the middle
   ``piece_s`` of up to ``most_pieces`` of the speaker's turns, spread over the call, and splits
   them again. A third voice is a gap of at least ``gap``, a smaller half of at least
   ``min_voice_s``, and a smaller half unlike the other speaker (``same_voice``): a half that
   sounds like the other speaker is the separation's error, not a third voice. The gap, not the
   halves' centroid cosine, because line and codec make every piece of a call alike: two
   readers' centroids reach 0.6 on one line, and so do one reader's halves.

The talk stays with the speaker that holds the voice; the result flags the call (``third_voice``)
and says who holds it, from when to when and how much (``call.third_voice``). No threshold was
fitted to the evaluation recordings (``ThirdVoiceSpec`` says where each comes from).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from callroles.frontend.segmentation import FRAME_S, SpeakerTrack
from callroles.frontend.turns import WIDE_RATE, TurnEmbeddings

#: a piece of a voice (16 kHz) -> its unit-length embedding (CAM++)
Embed = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ThirdVoiceSpec:
    min_turn_s: float = 1.0  # shorter turns are not embedded (a turn's voice is noise below it)
    #: the smaller half needs this much speech to be a voice (its turns' share of the speaker's
    #: turns of ``min_turn_s`` or more, as the pieces heard split them)
    min_voice_s: float = 3.0
    #: how much more alike a half's own turns are than turns across the halves (mean pairwise
    #: cosines) for two voices: GE2E's screen, then CAM++'s verdict. Both were chosen on
    #: development calls of real readers (quick turns of seed 3601 and pairs of them joined, the
    #: calls of seed 7, three readers in turn; docs/frontend.md), never on the evaluation recordings
    screen_gap: float = 0.08
    gap: float = 0.16
    #: a half whose voice is this alike the other speaker's is that speaker's, misplaced: CAM++'s
    #: equal-error threshold for whole utterances of real readers (bench/results/voiceprint.json)
    same_voice: float = 0.69
    piece_s: float = 3.0  # the middle of a turn that CAM++ hears
    most_pieces: int = 16  # per speaker, spread over the call (CAM++ runs at about 100x real time)
    most_turns: int = 1000  # the screen's linkage is quadratic in memory


DEFAULT_THIRD = ThirdVoiceSpec()


@dataclass(frozen=True)
class ThirdVoice:
    """A second voice inside ``speaker``: its speech, first and last second, and how alike the
    two voices are (CAM++ cosine; the ``call.third_voice`` of ``call_result.v1``)."""

    speaker: str
    seconds: float
    from_s: float
    to_s: float
    similarity: float

    def to_dict(self) -> dict[str, object]:
        return {
            "speaker": self.speaker,
            "seconds": round(self.seconds, 2),
            "from_s": round(self.from_s, 2),
            "to_s": round(self.to_s, 2),
            "similarity": round(self.similarity, 4),
        }


def find_third_voice(
    found: TurnEmbeddings,
    talk: list[SpeakerTrack],
    wide: np.ndarray,
    embed: Embed,
    spec: ThirdVoiceSpec = DEFAULT_THIRD,
) -> ThirdVoice | None:
    """The most distinct second voice inside either of two speakers, or None (one voice each).
    ``wide``: the call's (channels, samples) at 16 kHz; only the pieces heard are mixed down."""
    if len(talk) != 2:
        return None
    owned = _owned_turns(found, talk, spec)
    pieces: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # each speaker's, once

    def heard(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if k not in pieces:
            pieces[k] = _pieces(found, owned[k], wide, embed, spec)
        return pieces[k]

    best: ThirdVoice | None = None
    for k, track in enumerate(talk):
        step = max(1, int(np.ceil(len(owned[k]) / spec.most_turns)))
        screen = _halves(found.turn_emb[owned[k][::step]])
        if screen is None or screen[1] < spec.screen_gap:
            continue  # GE2E hears one voice: most calls stop here
        other = partial(heard, 1 - k) if len(owned[1 - k]) else None
        voice = _verdict(track.speaker, found, owned[k], heard(k), other, spec)
        if voice is not None and (best is None or voice.similarity < best.similarity):
            best = voice
    return best


def _owned_turns(
    found: TurnEmbeddings, talk: list[SpeakerTrack], spec: ThirdVoiceSpec
) -> list[np.ndarray]:
    """Per speaker, its turns of at least ``min_turn_s``: those whose frames are mostly its talk."""
    shortest = spec.min_turn_s / FRAME_S
    owned: list[list[int]] = [[] for _ in talk]
    for i, (a, b) in enumerate(found.turns):
        if b - a < shortest:
            continue
        share = [float(t.active[a:b].mean()) if b <= len(t.active) else 0.0 for t in talk]
        k = int(np.argmax(share))
        if share[k] > 0.5:
            owned[k].append(i)
    return [np.asarray(o, int) for o in owned]


def _halves(emb: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Two groups by Ward linkage (a 0/1 label per sample) and how much more alike samples are
    within a group than across (mean pairwise cosines): a split of one voice gains little,
    since the line and the codec make every piece of a call alike. None where a group would
    hold under two samples."""
    if len(emb) < 4:
        return None
    labels = fcluster(linkage(emb, method="ward"), t=2, criterion="maxclust") - 1
    if min((labels == 0).sum(), (labels == 1).sum()) < 2:
        return None
    sim = emb @ emb.T
    within = []
    for j in (0, 1):
        own = sim[np.ix_(labels == j, labels == j)]
        within.append(own[np.triu_indices(len(own), 1)].mean())
    return labels, float(np.mean(within) - sim[np.ix_(labels == 0, labels == 1)].mean())


def _centre(emb: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    c = (emb * seconds[:, None]).sum(0)
    return np.asarray(c / max(float(np.linalg.norm(c)), 1e-9))


def _pieces(
    found: TurnEmbeddings,
    turns: np.ndarray,
    wide: np.ndarray,
    embed: Embed,
    spec: ThirdVoiceSpec,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CAM++ embeddings of the middle of up to ``most_pieces`` turns spread over the call, the
    turns they stand for and those turns' seconds (none: a (0, 1) array)."""
    if len(turns) > spec.most_pieces:
        turns = turns[np.linspace(0, len(turns) - 1, spec.most_pieces).round().astype(int)]
    per_frame = WIDE_RATE * FRAME_S
    half = spec.piece_s / FRAME_S / 2
    kept, emb = [], []
    for i in turns:
        a, b = found.turns[i]
        mid = (a + b) / 2
        lo, hi = int(max(a, mid - half) * per_frame), int(min(b, mid + half) * per_frame)
        piece = wide[:, lo:hi].mean(axis=0)
        if len(piece) >= spec.min_turn_s * WIDE_RATE / 2:  # a turn past the audio's end: none
            kept.append(i)
            emb.append(embed(piece))
    turns = np.asarray(kept, int)
    out = np.stack(emb) if emb else np.zeros((0, 1), np.float32)
    return out, turns, found.frames[turns] * FRAME_S


def _verdict(
    speaker: str,
    found: TurnEmbeddings,
    mine: np.ndarray,
    pieces: tuple[np.ndarray, np.ndarray, np.ndarray],
    other: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]] | None,
    spec: ThirdVoiceSpec,
) -> ThirdVoice | None:
    """CAM++'s verdict on a speaker the screen let through; ``other`` gives the other speaker's
    pieces (embedded only if needed)."""
    emb, turns, seconds = pieces
    split = _halves(emb)
    if split is None or split[1] < spec.gap:
        return None
    labels = split[0]
    scale = found.frames[mine].sum() * FRAME_S / seconds.sum()  # pieces stand for all the turns
    held = [float(seconds[labels == j].sum() * scale) for j in (0, 1)]
    small = int(np.argmin(held))
    if held[small] < spec.min_voice_s:
        return None
    voice = _centre(emb[labels == small], seconds[labels == small])
    rest = _centre(emb[labels != small], seconds[labels != small])
    their, _, their_s = other() if other is not None else (emb[:0], turns[:0], seconds[:0])
    # the smaller half must not be the other speaker's voice
    if len(their) and float(voice @ _centre(their, their_s)) >= spec.same_voice:
        return None
    spans = [found.turns[i] for i in turns[labels == small]]
    return ThirdVoice(
        speaker, held[small], spans[0][0] * FRAME_S, spans[-1][1] * FRAME_S, float(voice @ rest)
    )
