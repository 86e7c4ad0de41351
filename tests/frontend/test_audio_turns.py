"""Turn clustering around a known voice (``callroles.frontend.turns``): plain functions, no audio.

Embeddings here are unit vectors near two voice directions, as GE2E partials of one speaker sit
near their mean; the real-audio case (CSR01 split in two by plain clustering) is in
tests/test_voiceprints.py.
"""

from __future__ import annotations

import numpy as np

from callroles.frontend.turns import TurnEmbeddings, anchored_turns, one_voice_split


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _turns(voices: list[np.ndarray], frames: list[int], seed: int = 0) -> TurnEmbeddings:
    rng = np.random.default_rng(seed)
    emb = _unit(np.stack(voices) + 0.12 * rng.standard_normal((len(voices), 256)) / 16**0.5)
    n = len(voices)
    return TurnEmbeddings(
        turns=[(200 * k, 200 * k + f) for k, f in enumerate(frames)],
        partial_emb=emb, partial_owner=np.arange(n), partial_first=np.full(n, -1),
        turn_emb=emb, frames=np.asarray(frames),
    )  # fmt: skip


def _voices(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    agent, other = _unit(rng.standard_normal((2, 256)))
    return agent, other


def test_one_voice_is_found_split_and_two_voices_are_not() -> None:
    agent, customer = _voices()
    alone = _turns([agent] * 8, [300] * 8)
    assert one_voice_split(alone)  # plain 2-clustering can only split the agent in two
    both = _turns([agent, customer] * 4, [300] * 8)
    assert not one_voice_split(both)


def test_anchored_turns_give_the_print_its_voice_and_the_short_speaker_the_rest() -> None:
    agent, customer = _voices()
    voices = [agent, agent, customer, agent, agent, agent]  # the customer: one 1.6 s turn
    found = _turns(voices, [500, 400, 160, 600, 450, 300])
    noisy_print = _unit(agent + 0.5 * _unit(np.random.default_rng(3).standard_normal(256)))
    labels = anchored_turns(found.turn_emb, found.frames, noisy_print)
    assert labels.tolist() == [0, 0, 1, 0, 0, 0]
