"""``callroles eval diarization``: the figures on hand-made results with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pyannote.core import Annotation
from pyannote.core import Segment as Turn

from callroles.bench.evaluation import Reference, read_reference, score_file
from callroles.frontend.decode import AudioFacts
from callroles.frontend.segmentation import Segment, Segmentation
from callroles.frontend.speakers import FrontEndResult, SpeakerStream


def _front(turns: list[tuple[float, float, str]], talk: dict[str, float]) -> FrontEndResult:
    segs = [Segment(a, b, "speech", who, "female") for a, b, who in turns]
    speakers = [
        SpeakerStream(who, "female", t, np.zeros(8000, np.float32),
                      [s for s in segs if s.speaker == who])
        for who, t in talk.items()
    ]  # fmt: skip
    facts = AudioFacts("wav", "pcm_s16le", 8000, 1, 20.0, 320_000)
    return FrontEndResult(Segmentation(20.0, segs), speakers, {}, "embedding", facts)


def _speech(turns: list[tuple[float, float, str]]) -> Annotation:
    out = Annotation(uri="c")
    for i, (a, b, who) in enumerate(turns):
        out[Turn(a, b), i] = who
    return out


def test_a_perfect_hypothesis_scores_zero_and_errors_are_counted(tmp_path: Path) -> None:
    ref = Reference(_speech([(0.0, 5.0, "agent_A"), (6.0, 10.0, "customer_C")]),
                    [(12.0, 16.0, "music")])  # fmt: skip
    perfect = score_file(
        tmp_path / "c.wav", ref, _front([(0, 5, "S1"), (6, 10, "S2")], {"S1": 5.0, "S2": 4.0})
    )
    assert perfect.der == 0.0 and perfect.jer == 0.0
    assert perfect.speakers_found == perfect.speakers_reference == 2
    assert perfect.talk_time_error == {"agent_A": 0.0, "customer_C": 0.0}
    assert perfect.nonspeech_as_talk_s == 0.0 and perfect.speech_agreement == 1.0
    # the hypothesis hears the music as S2's speech: 4 s of background counted as talk
    wrong = score_file(
        tmp_path / "c.wav",
        ref,
        _front([(0, 5, "S1"), (6, 10, "S2"), (12, 16, "S2")], {"S1": 5.0, "S2": 8.0}),
    )
    assert wrong.background_as_talk_s == pytest.approx(4.0)
    assert wrong.background_as_talk_by_kind == {"music": pytest.approx(4.0)}
    assert wrong.background_s == {"music": pytest.approx(4.0)}
    assert wrong.nonspeech_as_talk_s == pytest.approx(4.0)
    assert wrong.der == pytest.approx(4.0 / 9.0, abs=1e-3)  # false alarm over reference speech
    assert wrong.talk_time_error["customer_C"] == pytest.approx(1.0)


def test_references_are_read_from_rttm_or_ina_csv(reference_dir: Path, tmp_path: Path) -> None:
    ina = read_reference(reference_dir / "musanmix.wav")
    assert ina is not None and ina.kind == "ina"
    assert set(ina.speech.labels()) == {"male"} and {k for *_, k in ina.background} == {
        "music",
        "noise",
    }
    (tmp_path / "x.rttm").write_text("SPEAKER x 1 1.00 2.50 <NA> <NA> agent_A1 <NA> <NA>\n")
    ref = read_reference(tmp_path / "x.wav")
    assert ref is not None
    turns = [(s.start, s.end, w) for s, _, w in ref.speech.itertracks(yield_label=True)]
    assert turns == [(1.0, 3.5, "agent_A1")]
    assert read_reference(tmp_path / "none.wav") is None
    # a generated call's truth JSON beside its RTTM: music, noise and announcements are background
    (tmp_path / "x.json").write_text(
        '{"events": [{"start": 4.0, "end": 6.0, "kind": "announcement"},'
        ' {"start": 7.0, "end": 9.0, "kind": "silence"}]}'
    )
    ref = read_reference(tmp_path / "x.wav")
    assert ref is not None and ref.background == [(4.0, 6.0, "announcement")]


def test_backchannels_and_talk_beyond_the_reference_are_counted(tmp_path: Path) -> None:
    """A backchannel is right when the speaker mapped to its own is heard for half of it; talk
    beyond the reference's is summed talk over the reference's summed talk (overlap included)."""
    turns = [(0.0, 6.0, "agent_A"), (2.0, 2.5, "customer_C"), (6.2, 10.0, "customer_C"),
             (7.0, 7.6, "agent_A")]  # fmt: skip
    ref = Reference(_speech(turns), [], "rttm", [(2.0, 2.5, "customer_C"), (7.0, 7.6, "agent_A")])
    # S2's backchannel inside S1's turn is heard; S1's inside S2's is not (S2 owns it)
    hyp = [(0, 6, "S1"), (2.0, 2.5, "S2"), (6.2, 10, "S2")]
    got = score_file(tmp_path / "c.wav", ref, _front(hyp, {"S1": 6.0, "S2": 4.3}))
    assert (got.backchannels, got.backchannels_right) == (2, 1)
    assert got.talk_beyond_reference_s == pytest.approx(10.3 - 10.9, abs=0.02)
    assert got.der_collar_0_25 is not None and got.der_collar_0_25 <= got.der
    # talk counted twice where nobody overlaps: beyond the reference's
    over = score_file(tmp_path / "c.wav", ref, _front(hyp, {"S1": 9.0, "S2": 4.3}))
    assert over.talk_beyond_reference_s == pytest.approx(13.3 - 10.9, abs=0.02)
