"""Eq. 4/5, the role decision and the result event, from a hand-made front-end result."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from callroles import schemas
from callroles.call.result import build_result, conversation_figures
from callroles.call.roles import decide_roles, eq4, role_of
from callroles.call.scoring import SpeakerScore
from callroles.frontend.decode import AudioFacts
from callroles.frontend.segmentation import Segment, Segmentation
from callroles.frontend.speakers import FrontEndResult, SpeakerStream
from callroles.schemas import ModelInfo


def _stream(speaker: str, gender: str, talk: float, n: int, spans: list[tuple[float, float]]):
    segs = [Segment(a, b, "speech", speaker, gender) for a, b in spans]
    audio = np.zeros(8000 * (9 + n), np.float32)  # n windows of 10 s, 1 s apart
    return SpeakerStream(speaker, gender, talk, audio, segs)


#: the scores behind _front()'s speakers: 3 and 2 windows
SCORES = {
    "S0": SpeakerScore("S0", np.full((3, 2), 0.5), np.array([0.5, 0.5]), False),
    "S1": SpeakerScore("S1", np.full((2, 2), 0.5), np.array([0.5, 0.5]), False),
}


def _front() -> FrontEndResult:
    facts = AudioFacts("wav", "pcm_s16le", 8000, 1, 14.0, 224_000)
    return FrontEndResult(
        segmentation=Segmentation(14.0, []),
        speakers=[
            _stream("S0", "female", 6.0, 3, [(0, 2), (5, 9)]),
            _stream("S1", "male", 3.0, 2, [(2.2, 5.2)]),
        ],
        budget={"silence_s": 1.5, "music_s": 4.0, "noise_s": 0.2, "overlap_s": 0.0},
        strategy="gender",
        facts=facts,
        timings={"segment": 3.2, "features": 0.4},
    )


MODEL: ModelInfo = {"name": "crnn", "version": "v1", "classes": ["customer", "agent"]}


def _result(probs: dict[str, np.ndarray], model: ModelInfo = MODEL, **kw: Any) -> dict[str, Any]:
    """Eq. 4/5 on one 'window' per speaker (the mean is the window itself), then the event."""
    front = _front()
    roles = decide_roles(dict(probs), model["classes"], ["S0", "S1"])
    return build_result("c-1", front, SCORES, roles, model, kw.pop("latencies", {}), **kw)


def test_eq4_mean_and_eq5_argmax() -> None:
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]])
    mean = eq4(probs)
    assert mean == pytest.approx([0.5, 0.5])
    tie = decide_roles({"S0": mean}, ["customer", "agent"], ["S0"])[0]
    assert tie.label == "customer"  # Eq. 5: ties go to the first class, as numpy's argmax does
    mean = eq4([[0.3, 0.7], [0.1, 0.9]])
    assert mean == pytest.approx([0.2, 0.8])
    assert decide_roles({"S0": mean}, ["customer", "agent"], ["S0"])[0].label == "agent"
    with pytest.raises(ValueError):
        eq4(np.zeros((0, 2)))


def test_roles_from_two_and_four_classes() -> None:
    assert role_of("agent") == "agent" and role_of("female_customer") == "customer"
    assert role_of("male_agent") == "agent" and role_of("other") == "unknown"


def test_turns_and_interruptions() -> None:
    spans = {"A": [(0.0, 2.0), (2.5, 4.0), (9.0, 10.0)], "C": [(3.5, 6.0), (6.5, 8.0)]}
    figures, turns, interruptions = conversation_figures(spans)
    assert turns == 3
    assert figures["A"] == (2, 4.0)
    assert figures["C"] == (1, 4.5)
    assert interruptions == 1  # C starts at 3.5 while A speaks until 4.0


def test_build_result_is_valid_and_consistent() -> None:
    probs = {"S0": np.array([0.2, 0.8]), "S1": np.array([0.7, 0.3])}
    event = schemas.example("call_finished")
    result = _result(probs, event=event, latencies={"score": 0.1})
    schemas.validate("call_result", result)
    assert result["agent_speaker"] == "S0" and result["customer_speaker"] == "S1"
    assert result["call"]["agent_talk_time_s"] == 6.0
    assert result["call"]["customer_talk_time_s"] == 3.0
    assert result["call"]["talk_to_listen_ratio"] == 2.0
    assert result["call"]["music_s"] == 4.0 and result["duration_s"] == 14.0
    assert result["call"]["turn_count"] == 3
    s0 = result["speakers"][0]
    assert s0["probabilities"] == {"customer": 0.2, "agent": 0.8}
    # the pair's confidence: 0.8 * 0.7 / (0.8 * 0.7 + 0.2 * 0.3), for both speakers
    assert s0["confidence"] == pytest.approx(0.56 / 0.62, abs=1e-6) and s0["windows"] == 3
    assert result["speakers"][1]["confidence"] == s0["confidence"]
    assert s0["turns"] == 2 and s0["longest_turn_s"] == 4.0
    assert result["latency_s"] == {"segment": 3.2, "features": 0.4, "score": 0.1}
    assert result["metadata"] == event["metadata"] and result["tenant"] == "acme"


def test_four_class_model_and_speaker_without_windows() -> None:
    classes = ["female_customer", "male_customer", "female_agent", "male_agent"]
    model: ModelInfo = {"name": "crnn4", "version": "v2", "classes": classes}
    result = _result({"S0": np.array([0.1, 0.1, 0.5, 0.3])}, model)
    s0, s1 = result["speakers"]
    assert s0["role"] == "agent" and s0["label"] == "female_agent"
    assert s0["confidence"] == pytest.approx(0.8)
    assert s1["role"] == "unknown" and s1["probabilities"] == {}
    assert result["customer_speaker"] is None
    assert result["call"]["talk_to_listen_ratio"] is None


def test_two_speakers_with_the_same_eq5_role_get_one_agent_and_one_customer() -> None:
    result = _result({"S0": np.array([0.16, 0.84]), "S1": np.array([0.01, 0.99])})
    roles = {s["speaker"]: (s["role"], s["label"], s["confidence"]) for s in result["speakers"]}
    pair = pytest.approx(0.99 * 0.16 / (0.99 * 0.16 + 0.01 * 0.84), abs=1e-6)
    assert roles["S1"] == ("agent", "agent", pair)
    assert roles["S0"] == ("customer", "agent", pair)  # label keeps Eq. 5
    assert result["agent_speaker"] == "S1" and result["customer_speaker"] == "S0"
    schemas.validate("call_result", result)


def test_flags_say_where_the_result_doubts_itself() -> None:
    clear = _result({"S0": np.array([0.2, 0.8]), "S1": np.array([0.7, 0.3])})
    assert clear["flags"] == []
    paired = _result({"S0": np.array([0.16, 0.84]), "S1": np.array([0.01, 0.99])})
    assert paired["flags"] == ["roles_by_pair_rule"]  # Eq. 5 said agent for both
    front = _front()
    for stream in front.speakers:
        stream.talk_time_s = 0.0
    roles = decide_roles({}, MODEL["classes"], ["S0", "S1"])
    silent = build_result("c-3", front, SCORES, roles, MODEL, {})
    assert silent["flags"] == ["no_speech"]
    schemas.validate("call_result", silent)
    counted = _front()
    counted.budget["speaker_count"] = {"n": 2, "method": "counted", "uncertain": True}
    roles = decide_roles(
        {"S0": np.array([0.2, 0.8]), "S1": np.array([0.7, 0.3])}, MODEL["classes"], ["S0", "S1"]
    )
    doubtful = build_result("c-4", counted, SCORES, roles, MODEL, {})
    assert doubtful["flags"] == ["speaker_count_uncertain"]
    schemas.validate("call_result", doubtful)


def test_a_near_tie_is_a_coin_toss_not_a_certainty() -> None:
    """Both speakers at P(agent) 0.9997 / 0.9996 (what the model gave real calls): the pair is
    about 0.57, and the result says so."""
    result = _result({"S0": np.array([0.0003, 0.9997]), "S1": np.array([0.0004, 0.9996])})
    s0, s1 = result["speakers"]
    assert (s0["role"], s1["role"]) == ("agent", "customer")
    assert 0.5 < s0["confidence"] == s1["confidence"] < 0.6
    assert "roles_uncertain" in result["flags"]


def test_a_stereo_layout_decides_roles_over_the_model() -> None:
    probs = {"S0": np.array([0.1, 0.9]), "S1": np.array([0.8, 0.2])}
    roles = decide_roles(
        probs, MODEL["classes"], ["S0", "S1"], None, {"S0": "customer", "S1": "agent"}
    )
    assert [(r.role, r.source, r.confidence) for r in roles] == [
        ("customer", "channel", 1.0),
        ("agent", "channel", 1.0),
    ]
    result = build_result("c-4", _front(), SCORES, roles, MODEL, {})
    assert "model_disagrees_with_channel" in result["flags"]
    assert [s["role_source"] for s in result["speakers"]] == ["channel", "channel"]
