"""Frame-level resegmentation: after the turns are clustered, every speech frame may move.

Turn clustering (:mod:`callroles.frontend.turns`) gives a whole turn one voice, and a turn shorter
than a 1.6 s partial gets an embedding of its own audio repeated: quick answers and the frames
around a change of speaker are where it errs. Here each speaker's single-voice frames, as the
clustering labelled them, train a small Gaussian mixture over MFCCs (the classic resegmentation
of broadcast diarization: LIUM, pyannote's first releases), and a two-state Viterbi over the
call's speech frames, with a fixed cost per change of speaker, relabels every 10 ms frame. A turn
of 0.5 s can then belong to the other speaker. Settings were chosen on the development seed of the
quick-turn conversations only (docs/decisions.md).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Any

import librosa
import numpy as np
from threadpoolctl import threadpool_limits

from callroles.frontend.segmentation import SpeakerTrack
from callroles.frontend.talk import nearest_owner
from callroles.models.features import power_frames

RATE = 8000
N_FFT = 256


@dataclass(frozen=True)
class ResegmentSpec:
    components: int = 8  # diagonal Gaussians per speaker
    switch_penalty: float = 20.0  # log-likelihood (nats) a change of speaker costs
    least_frames: int = 200  # a speaker needs 2 s of single-voice speech to get a model
    iterations: int = 50  # EM steps per mixture at most
    most_frames: int = 30_000  # a mixture learns from 5 min of a speaker at most, evenly spread


DEFAULT_RESEGMENT = ResegmentSpec()
#: below this gain (nats per frame) two voices explain a call no better than one: the midpoint
#: between the highest of one reader's calls (-0.41) and the next-lowest of two-party calls
#: (-0.15, its lowest -0.46 a failed split) on the quick-turn development seed (real voices)
ONE_VOICE_GAIN = -0.3


@dataclass(frozen=True)
class FrameEvidence:
    """What resegmentation reads of a mono call, per 10 ms frame."""

    features: np.ndarray  # (n, 38) MFCC 1-19 and their deltas, standardised over the call
    speech: np.ndarray  # (n,) somebody speaks (the ``speech`` stage)
    single: np.ndarray  # (n,) ... and the activity model hears one voice only


@functools.lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    return librosa.filters.mel(sr=RATE, n_fft=N_FFT, n_mels=40).astype(np.float32)


def mfcc_frames(signal: np.ndarray, n: int) -> np.ndarray:
    """(n, 38) standardised MFCCs (c0, the level, left out) and deltas on the 10 ms grid; the
    spectrum a minute at a time (a call of an hour stays small)."""
    chunks = [
        librosa.power_to_db(_mel_basis() @ power, top_db=None)
        for _, power in power_frames(signal, n_fft=N_FFT, hop_length=80, win_length=200)
    ]
    if sum(c.shape[1] for c in chunks) < 9:  # too short for deltas: no evidence worth a model
        return np.zeros((n, 38), np.float32)
    log_mel = np.hstack(chunks)
    log_mel = np.maximum(log_mel, log_mel.max() - 80.0)  # librosa's top_db, over the whole call
    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=20)[1:]
    feats = np.vstack([mfcc, librosa.feature.delta(mfcc)]).T[:n]
    if len(feats) < n:
        feats = np.vstack([feats, np.zeros((n - len(feats), feats.shape[1]), feats.dtype)])
    return (feats - feats.mean(0)) / (feats.std(0) + 1e-6)


def frame_evidence(signal: np.ndarray, speech: np.ndarray, overlap: np.ndarray) -> FrameEvidence:
    """The call's frame features and where one voice speaks."""
    n = len(speech)
    speech = np.asarray(speech, bool)
    return FrameEvidence(mfcc_frames(signal, n), speech, speech & ~np.asarray(overlap[:n], bool))


def viterbi(scores: np.ndarray, penalty: float) -> np.ndarray:
    """Best state path through (T, K) scores, ``penalty`` per change of state."""
    if scores.shape[1] == 2:
        return _viterbi_two(scores, penalty)
    t_len, k = scores.shape
    total = scores[0].copy()
    back = np.zeros((t_len, k), int)
    for t in range(1, t_len):
        moves = total[:, None] - penalty * (1 - np.eye(k))  # from i (rows) to j (cols)
        back[t] = moves.argmax(0)
        total = moves.max(0) + scores[t]
    path = np.zeros(t_len, int)
    path[-1] = int(total.argmax())
    for t in range(t_len - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _viterbi_two(scores: np.ndarray, penalty: float) -> np.ndarray:
    """:func:`viterbi` for two states in plain floats: a call's every speech frame goes through
    it, and numpy's per-frame overhead was most of its time. Ties go to the lower state."""
    a, b = (float(x) for x in scores[0])
    back = bytearray(2 * len(scores))  # per frame: where state 0, then state 1, came from
    for t, (sa, sb) in enumerate(scores[1:].tolist(), start=1):
        stay_a, move_a = a, b - penalty
        stay_b, move_b = b, a - penalty
        if move_a > stay_a:
            back[2 * t], na = 1, move_a + sa
        else:
            na = stay_a + sa
        if move_b >= stay_b:
            nb = move_b + sb  # back[2t+1] = 0: from state 0
        else:
            back[2 * t + 1], nb = 1, stay_b + sb
        a, b = na, nb
    path = np.zeros(len(scores), int)
    state = 0 if a >= b else 1
    for t in range(len(scores) - 1, 0, -1):
        path[t] = state
        state = back[2 * t + state]
    path[0] = state
    return path


@dataclass(frozen=True)
class Resegmented:
    """The relabelled owners, and how much better two voices explain the call than one."""

    owners: np.ndarray  # (2, n) as :func:`callroles.frontend.talk.nearest_owner` gives them
    #: mean log-likelihood per single-voice frame under its speaker's mixture (on the Viterbi
    #: path) minus under one mixture of as many Gaussians as both; None: not resegmented
    gain: float | None = None

    @property
    def one_voice(self) -> bool:
        """Two speakers' mixtures explain the speech no better than one: one voice split in two
        (or a split gone wrong)."""
        return self.gain is not None and self.gain < ONE_VOICE_GAIN


def _fit(features: np.ndarray, mask: np.ndarray, components: int, spec: ResegmentSpec) -> Any:
    """A diagonal mixture learnt from at most ``spec.most_frames`` evenly spread masked frames."""
    from sklearn.exceptions import ConvergenceWarning  # noqa: PLC0415 (scikit-learn, about 1 s: only calls separated by voice need it)
    from sklearn.mixture import GaussianMixture  # noqa: PLC0415 (as above)

    frames = np.flatnonzero(mask)
    step = int(np.ceil(len(frames) / spec.most_frames))  # an hour's call stays quick
    gmm = GaussianMixture(
        components, covariance_type="diag", max_iter=spec.iterations, random_state=0
    )
    with warnings.catch_warnings():  # a fixed budget of EM steps: unconverged is still a model
        warnings.simplefilter("ignore", ConvergenceWarning)
        with threadpool_limits(1):  # small mixtures: threads cost more than they save
            return gmm.fit(features[frames[::step]])


def resegment(
    owners: np.ndarray, evidence: FrameEvidence, spec: ResegmentSpec = DEFAULT_RESEGMENT
) -> Resegmented:
    """Frame owners of a two-speaker call, every speech frame relabelled by the Viterbi path
    through the speakers' mixtures, and the gain of two voices over one; ``owners`` unchanged
    (gain None) when a speaker has too little single-voice speech to model."""
    n = len(evidence.speech)
    labels = owners[0][:n]
    loglik = np.zeros((n, 2))
    for k in range(2):
        mine = evidence.single & (labels == k)
        if mine.sum() < spec.least_frames:
            return Resegmented(owners)
        loglik[:, k] = _fit(evidence.features, mine, spec.components, spec).score_samples(
            evidence.features
        )
    idx = np.flatnonzero(evidence.speech)
    relabelled = labels.copy()
    relabelled[idx] = viterbi(loglik[idx], spec.switch_penalty)
    marks = [SpeakerTrack("", None, 0, evidence.speech & (relabelled == k), "") for k in range(2)]
    return Resegmented(nearest_owner(marks, n), _gain(evidence, relabelled, spec))


def _gain(evidence: FrameEvidence, labels: np.ndarray, spec: ResegmentSpec) -> float | None:
    """Mean log-likelihood per single-voice frame under its speaker's mixture, learnt again from
    the resegmented frames, minus under one mixture of both speakers' Gaussians together."""
    feats, single = evidence.features, evidence.single
    own = np.zeros(len(labels))
    for k in range(2):
        mine = single & (labels == k)
        if mine.sum() < spec.least_frames:
            return None
        own[mine] = _fit(feats, mine, spec.components, spec).score_samples(feats[mine])
    one = _fit(feats, single, 2 * spec.components, spec).score_samples(feats[single])
    return round(float(own[single].mean() - one.mean()), 4)
