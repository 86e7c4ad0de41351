"""The ``relabel`` step (``callroles.frontend.relabel``): the local-speaker model on real voices.

Quick-turn calls of LibriSpeech readers through phone lines (the simulator's ``quick_turns``,
turns of 0.3-8 s and backchannels) come out of the front end with and without the step; with it,
the diarization error is lower and more backchannels are the right speaker's. The tie rule and
the count of voices are then checked on local speakers written by hand.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pyannote.core import Segment
from pyannote.metrics.diarization import DiarizationErrorRate

from callroles.base.settings import PROJECT_ROOT
from callroles.bench.evaluation import read_reference
from callroles.call.pipeline import Models, front_end
from callroles.frontend.relabel import relabel
from callroles.frontend.segmentation import SpeakerTrack
from callroles.lab.simulate.real_voices import generate_real_corpus
from callroles.models.local_speakers import LocalSpeakers

LIBRI = PROJECT_ROOT.parent / "shared" / "data" / "speakers" / "librispeech"
needs_voices = pytest.mark.skipif(
    not LIBRI.is_dir(), reason=f"the real voices are not here ({LIBRI}: only in the shared folder)"
)


def _der_and_backchannels(front: Any, folder: Path, stem: str) -> tuple[float, float, int]:
    """(errors s, scored s, backchannels at least half the right speaker's) against the truth."""
    ref = read_reference(folder / "audio" / f"{stem}.gsm", folder / "truth")
    assert ref is not None
    hyp = front.segmentation.to_annotation(stem)
    metric = DiarizationErrorRate(collar=0.0, skip_overlap=False)
    parts = metric(ref.speech, hyp, detailed=True)
    mapping = metric.optimal_mapping(ref.speech, hyp)
    right = 0
    for a, b, who in ref.backchannels:
        mine = [
            hyp.label_timeline(h).crop(Segment(a, b)).duration()
            for h, w in mapping.items()
            if w == who
        ]
        right += sum(mine) >= 0.5 * (b - a)
    errors = parts["missed detection"] + parts["false alarm"] + parts["confusion"]
    return errors, parts["total"], right


@needs_voices
def test_quick_turns_and_backchannels_of_real_readers_come_out_better(
    frontend: Models, tmp_path: Path
) -> None:
    """Generated quick-turn calls of real readers (a seed no bench uses): the relabelled result
    has a lower DER and more backchannels right than the same front end without the step."""
    generate_real_corpus(tmp_path, LIBRI, calls=4, seed=4711, quick_turns=True)
    plain = copy.copy(frontend)
    plain.local = None
    totals = {"relabel": np.zeros(3), "plain": np.zeros(3)}
    for audio in sorted((tmp_path / "audio").glob("*.gsm")):
        for name, models in (("relabel", frontend), ("plain", plain)):
            front = front_end(audio, models)
            assert ("relabel" in front.timings) == (name == "relabel")  # the step ran, or not
            totals[name] += _der_and_backchannels(front, tmp_path, audio.stem)
    der = {k: v[0] / v[1] for k, v in totals.items()}
    assert der["relabel"] < der["plain"], der
    assert totals["relabel"][2] > totals["plain"][2], totals


def _local(active: np.ndarray, starts_s: list[float]) -> LocalSpeakers:
    """Local speakers on the 10 ms frame grid, one chunk of ``active`` per start."""
    return LocalSpeakers(np.asarray(starts_s), active, 0.01, 0.0)


def _split_at(frame: int, n: int = 1000) -> list[SpeakerTrack]:
    """The split's talk: A up to ``frame``, B after it."""
    a = np.arange(n) < frame
    return [SpeakerTrack("A", None, 0, a, ""), SpeakerTrack("B", None, 0, ~a, "")]


def test_a_local_speaker_is_tied_only_where_one_call_speaker_owns_it() -> None:
    n = 1000
    talk = _split_at(600, n)
    active = np.zeros((1, n, 3), bool)
    active[0, :500, 0] = True  # mostly A's: tied to A
    active[0, 500:580, 1] = True  # inside A's talk, a second local speaker: B's? no evidence
    active[0, 580:n, 2] = True  # B's, and 20 frames of A's end: tied to B
    out = relabel(talk, _local(active, [0.0]))
    assert out[0].active[:500].all() and out[1].active[600:].all()
    # local speaker 1 overlaps only A, as much as local speaker 0 does: the assignment gives A to
    # local speaker 0, so speaker 1 ties to B only if B owns it, which it does not: A keeps it
    assert out[0].active[500:580].all() and not out[1].active[500:580].any()
    assert out[1].active[580:600].all()  # B's local speaker takes the 0.2 s A's split held


def test_two_local_speakers_at_once_count_for_both() -> None:
    n = 1000
    talk = _split_at(500, n)
    active = np.zeros((1, n, 3), bool)
    active[0, :500, 0] = True
    active[0, 500:, 1] = True
    active[0, 450:500, 1] = True  # B's voice over A's last 0.5 s: 5% of the speech
    out = relabel(talk, _local(active, [0.0]))
    assert out[0].active[450:500].all() and out[1].active[450:500].all()
    assert sum(t.active.sum() for t in out) == n + 50  # the overlap counts for both
    active[0, 200:500, 1] = True  # B's local speaker over 300 frames of A's: tied to neither
    out = relabel(talk, _local(active, [0.0]))
    assert out[0].active[:500].all() and not out[1].active[:500].any()
