"""How many voices a mono call holds (1 to 4), from voice embeddings over its speech.

A call is usually two people, but not always: a voicemail or an agent's test call is one voice,
a transfer or a supervisor makes three. Splitting every call into two invents a second speaker
in a one-voice call and merges two people in a three-voice one. Here 1.6 s partials every 0.4 s
over inaSpeechSegmenter's speech (music and noise are never somebody) are embedded and
clustered bottom-up, average linkage on cosine distance; merging stops where the two closest
groups are less alike than one voice's partials usually are (``CountSpec.same_voice``). A group
with under ``min_speaker_s`` of speech is not a voice of its own (partials that straddle two
speakers, a laugh): the clustering proper gives its frames to a counted voice. Both numbers
were chosen by ``callroles bench count`` on generated recordings of real LibriSpeech readers,
never on the real evaluation recordings.

The count is uncertain (flag ``speaker_count_uncertain``) when the merge that decided it was
within ``margin`` of the threshold (one more or one fewer voice was nearly as plausible), when a
quarter of the speech sits in groups too small to count, or when there are more than four
voices.

The default (``two-or-more``) is two voices, a call centre's usual call, unless a third or
fourth voice is counted with certainty: counting every call (``auto``) found one voice or three
in 8 of 20 held-out two-party calls (docs/frontend.md has the figures). The turns' partials,
embedded for the split anyway, screen for a third voice first; only a call where they hear one
pays for the count proper over all its speech.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from callroles.frontend.segmentation import FRAME_S
from callroles.frontend.separate import PARTIAL_HOP_S, PARTIAL_S, partial_starts
from callroles.frontend.turns import TurnEmbeddings
from callroles.models.embeddings import partial_mels

#: what a caller asks of a mono call's voices: a number, "auto" (count 1 to 4) or
#: "two-or-more" (two unless more are counted with certainty)
VoiceAsk = int | Literal["auto", "two-or-more"]

#: partials with at least this share of speech are voice samples (bench/results/count.json)
SPEECH_SHARE = 0.5


@dataclass(frozen=True)
class CountSpec:
    same_voice: float = 0.7  # partial groups at least this alike (mean cosine): one voice
    same_centroid: float = 0.85  # voices (group centroids) at least this alike: one voice
    min_speaker_s: float = 5.0  # a voice needs this much speech in its group
    margin: float = 0.04  # a deciding merge this close to the threshold: count uncertain
    stray_share: float = 0.25  # this much speech in groups too small to count: uncertain
    max_speakers: int = 4
    most_samples: int = 3000  # evenly spread voice samples at most (20 min of speech; memory)


DEFAULT_COUNT = CountSpec()


@dataclass(frozen=True)
class SpeakerCount:
    """The number of voices and how sure the count is (the ``speaker_count`` of the budget)."""

    n: int
    uncertain: bool
    closest_merge: float | None  # similarity of the most alike voices left apart (None: 1 voice)
    method: str = "counted"
    #: two voices' gain over one in the resegmentation (nats per frame; None: not resegmented)
    split_gain: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "method": self.method,
            "uncertain": self.uncertain,
            "closest_merge": None if self.closest_merge is None else round(self.closest_merge, 4),
            "split_gain": self.split_gain,
        }


def groups(emb: np.ndarray, same_voice: float) -> np.ndarray:
    """Average-linkage groups of L2-normalised embeddings: merge while mean cosine >= same_voice."""

    if len(emb) < 2:
        return np.zeros(len(emb), int)
    tree = linkage(emb, method="average", metric="cosine")
    return fcluster(tree, t=1.0 - same_voice, criterion="distance") - 1


def voice_samples(
    speech: np.ndarray,
    wide: np.ndarray,
    encoder,
    least: float = SPEECH_SHARE,
    batch: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of 1.6 s partials every 0.4 s that are at least ``least`` speech, and the
    seconds of speech each stands for: what the count clusters (turns cut by the activity model
    are often shorter than a second on real voices, and a short turn's embedding is noise)."""
    starts = partial_starts(speech, least)
    if len(starts) == 0:
        return np.zeros((0, 256), np.float32), np.zeros(0)
    mels = partial_mels(wide, starts)
    emb = np.concatenate([encoder(mels[i : i + batch]) for i in range(0, len(mels), batch)])
    width = int(round(PARTIAL_S / FRAME_S))
    first = np.round(starts / FRAME_S).astype(int)
    share = np.array([speech[a : a + width].mean() for a in first])
    return emb, share * PARTIAL_HOP_S


def count_speakers(
    emb: np.ndarray, seconds: np.ndarray, spec: CountSpec = DEFAULT_COUNT
) -> SpeakerCount:
    """Voices among L2-normalised voice samples, each standing for ``seconds`` of speech:
    1 (uncertain) when there are too few samples to tell two voices apart.

    Two stages: partials are grouped finely (``same_voice``: a group is surely one voice),
    then groups with enough speech merge while their mean voices (centroids, far steadier
    than one partial) are at least ``same_centroid`` alike.
    """
    if len(emb) < 2:
        return SpeakerCount(1, True, None)
    step = int(np.ceil(len(emb) / spec.most_samples))  # average linkage is quadratic in memory
    emb, seconds = emb[::step], seconds[::step] * step
    labels = groups(emb, spec.same_voice)
    big = [k for k in range(labels.max() + 1) if seconds[labels == k].sum() >= spec.min_speaker_s]
    stray = seconds[~np.isin(labels, big)].sum()  # speech in groups too small to be a voice
    voices = [emb[labels == k].sum(0) for k in big]
    closest, merged = None, None
    while len(voices) > 1:
        unit = np.stack([v / np.linalg.norm(v) for v in voices])
        sim = unit @ unit.T - 2 * np.eye(len(voices))
        i, j = np.unravel_index(int(sim.argmax()), sim.shape)
        closest = float(sim[i, j])
        if closest < spec.same_centroid:
            break
        voices[i] = voices[i] + voices[j]
        del voices[j]
        closest, merged = None, closest
    n = int(min(max(len(voices), 1), spec.max_speakers))
    near = [abs(x - spec.same_centroid) < spec.margin for x in (closest, merged) if x is not None]
    uncertain = any(near)
    if len(voices) > spec.max_speakers or stray >= spec.stray_share * seconds.sum():
        uncertain = True
    return SpeakerCount(n, uncertain, closest)


def turn_samples(found: TurnEmbeddings) -> tuple[np.ndarray, np.ndarray]:
    """The turns' own partials (a short turn's tiled audio left out) as voice samples, each
    standing for its share of its turn."""
    keep = found.partial_first >= 0
    emb = found.partial_emb[keep]
    owner = found.partial_owner[keep]
    per_turn = np.bincount(owner, minlength=len(found.turns))
    seconds = found.frames[owner] * FRAME_S / per_turn[owner]
    return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9), seconds


def two_or_more(
    found: TurnEmbeddings | None,
    speech: np.ndarray,
    wide: np.ndarray,
    encoder: Callable[[np.ndarray], np.ndarray],
    spec: CountSpec = DEFAULT_COUNT,
) -> SpeakerCount:
    """Two voices, unless the count over all the speech finds three or four with certainty; a
    count of more that is in doubt keeps two and says so (``uncertain``)."""
    two = SpeakerCount(2, False, None, "two-or-more")
    if found is None or count_speakers(*turn_samples(found), spec).n <= 2:
        return two  # the screen: the turns' partials hear no third voice
    full = count_speakers(*voice_samples(speech, wide, encoder), spec)
    if full.n <= 2:
        return two
    if full.uncertain:
        return replace(two, uncertain=True, closest_merge=full.closest_merge)
    return full
