"""The recurrence rule on voices with known identities: who is learnt, and when nothing is.

Voices are unit vectors around a few identities (an agent, customers), with the spread GE2E
embeddings of one person show across calls; the rule must learn the agent, refuse ambiguity
(one customer in every call, two agents on one login) and never merge two voices.
"""

from __future__ import annotations

import numpy as np
import pytest

from callroles.agents.recurrence import MIN_VOICE_S, Voice, discover, recurring_voice

RNG = np.random.default_rng(7)
DIM = 256


def _identity() -> np.ndarray:
    v = RNG.normal(size=DIM)
    return v / np.linalg.norm(v)


def _heard(identity: np.ndarray, spread: float = 0.25) -> np.ndarray:
    """One call's embedding of a voice: the identity plus noise (cosine about 0.94)."""
    v = identity + spread * RNG.normal(size=DIM) / np.sqrt(DIM)
    return v / np.linalg.norm(v)


def _call(call_id: str, *people: np.ndarray, speech: float = 20.0) -> list[Voice]:
    return [Voice(call_id, f"S{i + 1}", _heard(p), speech) for i, p in enumerate(people)]


def test_one_call_teaches_nothing_two_calls_with_new_customers_teach_the_agent() -> None:
    agent = _identity()
    first = _call("c1", agent, _identity())
    assert not recurring_voice(first).learnt
    found = recurring_voice(first + _call("c2", _identity(), agent))
    assert found.learnt and found.calls == ["c1", "c2"]
    assert found.speakers == {"c1": "S1", "c2": "S2"}
    assert found.vector is not None and float(found.vector @ agent) > 0.95


def test_one_customer_in_every_call_is_ambiguous_until_the_agent_recurs_more() -> None:
    agent, customer = _identity(), _identity()
    two = _call("c1", agent, customer) + _call("c2", customer, agent)
    found = recurring_voice(two)
    assert not found.learnt and found.reason.startswith("ambiguous")
    # a third call of the agent with somebody new: the agent recurs in 3, the customer in 2
    third = recurring_voice(two + _call("c3", agent, _identity()))
    assert third.learnt and third.speakers["c3"] == "S1"
    assert third.vector is not None and float(third.vector @ agent) > 0.95


def test_two_agents_on_one_login_are_never_merged() -> None:
    a, b = _identity(), _identity()
    calls = [v for i in range(3) for v in _call(f"a{i}", a, _identity())]
    calls += [v for i in range(2) for v in _call(f"b{i}", b, _identity())]
    found = recurring_voice(calls)
    assert not found.learnt and found.reason.startswith("two voices recur apart")


def test_a_customer_who_calls_again_does_not_stop_learning() -> None:
    agent, regular = _identity(), _identity()
    calls = (
        _call("c1", agent, regular) + _call("c2", agent, regular) + _call("c3", agent, _identity())
    )
    found = recurring_voice(calls)
    assert found.learnt and found.calls == ["c1", "c2", "c3"]


def test_too_little_speech_is_no_voice() -> None:
    agent = _identity()
    short = MIN_VOICE_S - 0.5
    calls = _call("c1", agent, _identity(), speech=short) + _call(
        "c2", agent, _identity(), speech=short
    )
    found = recurring_voice(calls)
    assert not found.learnt


@pytest.mark.parametrize("repeat_calls", [3, 5])
def test_discovery_finds_agents_and_leaves_a_customer_who_calls_several_agents(
    repeat_calls: int,
) -> None:
    agents = [_identity() for _ in range(3)]
    regular = _identity()
    voices: list[Voice] = []
    for i in range(30):
        agent = agents[i % 3]
        customer = regular if i < repeat_calls else _identity()
        voices += _call(f"c{i}", agent, customer)
    found = discover(voices, min_calls=3)
    assert sorted(len(f.calls) for f in found if f.agent) == [10, 10, 10]
    customers = [f for f in found if not f.agent]
    assert len(customers) == 1 and len(customers[0].calls) == repeat_calls
    assert customers[0].partners_recurring == 1.0
    for f, who in ((f, max(agents, key=lambda a: float(a @ f.vector))) for f in found if f.agent):
        assert float(f.vector @ who) > 0.95
