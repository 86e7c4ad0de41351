"""Diarization error rate on a 10 ms grid, no collar, optimal one-to-one speaker mapping.

Plain NIST-style DER: (missed speech + false alarm + speaker confusion) / reference speech.
Overlapping reference speech counts once per speaker, as in md-eval.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy.optimize import linear_sum_assignment

FRAME_S = 0.01
Turn = tuple[float, float, str]  # start, end, speaker


def read_rttm(text: str) -> list[Turn]:
    """Speaker turns of the ``SPEAKER`` lines of an RTTM text."""
    turns = []
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 8 and f[0] == "SPEAKER":
            turns.append((float(f[3]), float(f[3]) + float(f[4]), f[7]))
    return turns


def _matrix(turns: Iterable[Turn], n: int) -> tuple[np.ndarray, list[str]]:
    turns = list(turns)
    names = sorted({t[2] for t in turns})
    m = np.zeros((len(names), n), bool)
    for start, end, who in turns:
        m[names.index(who), int(round(start / FRAME_S)) : int(round(end / FRAME_S))] = True
    return m, names


def der(reference: Iterable[Turn], hypothesis: Iterable[Turn]) -> dict[str, float]:
    """DER and its parts (seconds) of a hypothesis against a reference."""
    reference, hypothesis = list(reference), list(hypothesis)
    end = max([t[1] for t in reference + hypothesis], default=0.0)
    n = int(round(end / FRAME_S)) + 1
    ref, _ = _matrix(reference, n)
    hyp, _ = _matrix(hypothesis, n)
    n_ref, n_hyp = ref.sum(0), hyp.sum(0)
    total = float(n_ref.sum())
    miss = float(np.maximum(n_ref - n_hyp, 0).sum())
    fa = float(np.maximum(n_hyp - n_ref, 0).sum())
    overlap = (ref[:, None, :] & hyp[None, :, :]).sum(-1) if len(ref) and len(hyp) else None
    matched = 0.0
    if overlap is not None:
        rows, cols = linear_sum_assignment(-overlap)
        matched = float(overlap[rows, cols].sum())
    conf = float(np.minimum(n_ref, n_hyp).sum()) - matched
    rate = (miss + fa + conf) / total if total else 0.0
    return {
        "der": rate,
        "missed_s": miss * FRAME_S,
        "false_alarm_s": fa * FRAME_S,
        "confusion_s": conf * FRAME_S,
        "reference_s": total * FRAME_S,
    }
