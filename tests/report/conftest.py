"""Fixtures for the report tests: result events and ground truth in the shapes of
schemas/examples and docs/simulate.md ("The corpus folder"), deterministic from a seed (real results
are used where the pipeline runs: see test_demo.py)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from callroles.schemas import example, validate

N_CALLS = 5


def truth_doc(
    call_id: str, seed: int, *, same_gender: bool = False, channels: int = 1
) -> dict[str, Any]:
    """Ground truth in the simulator's layout: alternating turns, one hold-music stretch."""
    rng = random.Random(seed)
    agent, customer = f"A{rng.randint(1, 40):03d}", f"+90532{rng.randint(1000000, 9999999)}"
    genders = ("female", "female") if same_gender else ("female", "male")
    t, segments, events = 0.3, [], []
    for turn in range(12):
        who = agent if turn % 2 == 0 else customer
        dur = rng.uniform(1.5, 6.0)
        segments.append(
            {
                "start": round(t, 2),
                "end": round(t + dur, 2),
                "speaker": who,
                "role": "agent" if who == agent else "customer",
                "gender": genders[0] if who == agent else genders[1],
            }
        )
        t += dur
        if turn == 5:
            events.append({"start": round(t, 2), "end": round(t + 8.0, 2), "kind": "music"})
            t += 8.0
        gap = rng.uniform(0.2, 1.2)
        events.append({"start": round(t, 2), "end": round(t + gap, 2), "kind": "silence"})
        t += gap
    talk = {
        spk: round(sum(s["end"] - s["start"] for s in segments if s["speaker"] == spk), 2)
        for spk in (agent, customer)
    }
    return {
        "call_id": call_id,
        "duration_s": round(t, 2),
        "channels": channels,
        "language": "en",
        "same_gender": same_gender,
        "speakers": {
            agent: {
                "role": "agent",
                "gender": genders[0],
                "talk_time_s": talk[agent],
                "voice": "en+f3",
            },
            customer: {
                "role": "customer",
                "gender": genders[1],
                "talk_time_s": talk[customer],
                "voice": "kal",
            },
        },
        "segments": segments,
        "events": events,
    }


def result_from_truth(truth: dict[str, Any], *, swap: bool = False) -> dict[str, Any]:
    """A valid call_result v1 whose segments follow the truth (roles swapped if ``swap``)."""
    res = example("call_result")
    res["call_id"] = truth["call_id"]
    res["duration_s"] = truth["duration_s"]
    agent = next(k for k, v in truth["speakers"].items() if v["role"] == "agent")
    res["agent_id"] = agent
    speakers = []
    for i, (spk, info) in enumerate(
        sorted(truth["speakers"].items(), key=lambda kv: kv[1]["role"] != "agent")
    ):
        role = info["role"]
        if swap:
            role = "customer" if role == "agent" else "agent"
        p_agent = 0.83 - 0.6 * i if not swap else 0.23 + 0.6 * i
        segs = [[s["start"], s["end"]] for s in truth["segments"] if s["speaker"] == spk]
        speakers.append(
            {
                "speaker": f"S{i}",
                "role": role,
                "label": role,
                "gender": info["gender"],
                "probabilities": {"customer": round(1 - p_agent, 3), "agent": round(p_agent, 3)},
                "confidence": round(max(p_agent, 1 - p_agent), 3),
                "talk_time_s": info["talk_time_s"],
                "turns": len(segs),
                "longest_turn_s": max(e - s for s, e in segs),
                "windows": 10,
                "padded": False,
                "segments": segs,
            }
        )
    res["speakers"] = speakers
    res["agent_speaker"] = next(s["speaker"] for s in speakers if s["role"] == "agent")
    res["customer_speaker"] = next(s["speaker"] for s in speakers if s["role"] == "customer")
    music = sum(e["end"] - e["start"] for e in truth["events"] if e["kind"] == "music")
    silence = sum(e["end"] - e["start"] for e in truth["events"] if e["kind"] == "silence")
    res["call"].update(
        {
            "agent_talk_time_s": next(s["talk_time_s"] for s in speakers if s["role"] == "agent"),
            "customer_talk_time_s": next(
                s["talk_time_s"] for s in speakers if s["role"] == "customer"
            ),
            "music_s": round(music, 2),
            "silence_s": round(silence, 2),
            "overlap_s": 0.0,
        }
    )
    res["separation_strategy"] = "stereo" if truth["channels"] == 2 else "gender"
    return validate("call_result", res)


@pytest.fixture(scope="session")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Path]:
    """Five result events (one with swapped roles, one same-gender, one stereo) and truth/."""
    truth_dir = tmp_path_factory.mktemp("truth")
    results = []
    for i in range(N_CALLS):
        call_id = f"call{i + 1:05d}"
        truth = truth_doc(call_id, seed=i, same_gender=(i == 3), channels=2 if i == 4 else 1)
        (truth_dir / f"{call_id}.json").write_text(json.dumps(truth), "utf-8")
        results.append(result_from_truth(truth, swap=(i == 3)))
    return results, truth_dir
