"""One call mixed from given recordings: an agent's recording and a customer's, turn by turn.

For evaluating on real voices beside real calls: a third call of the real Callytics agent
(her 11.8 s voiceprint sample, cut into turns) with a LibriSpeech reader as a new customer on a
phone line, so that one voice recurs across three calls and another does not. The truth RTTM
names speakers as the Callytics references do (``agent_<id>``, ``customer_<id>``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from callroles.lab.simulate import channel
from callroles.lab.simulate.corpus import rttm_of
from callroles.lab.simulate.real_voices import _load, _render, _turns


def mixed_call(
    out: Path, agent: Path, customer: list[Path], *, agent_id: str, customer_id: str, seed: int
) -> Path:
    """Write ``out`` (8 kHz WAV) and ``out``'s ``.rttm``: ``agent``'s recording and the
    ``customer`` utterances in alternating turns, the customer through a phone line."""
    rng = np.random.default_rng([seed, 41])
    agent_turns = _turns(_load(agent), rng)
    cust_turns = [t for f in customer for t in _turns(_load(f), rng)]
    stems, spans = _render(agent_turns, cust_turns, rng)
    line = channel.phone_line(stems["customer"], rng, -3.0, -50.0, channel.Line())
    audio = stems["agent"] + line
    audio = (audio * min(1.0, 0.89 / (float(np.max(np.abs(audio))) or 1.0))).astype(np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    channel.write_audio(out, audio)
    who = {"agent": f"agent_{agent_id}", "customer": f"customer_{customer_id}"}
    segments = sorted(
        ({"start": round(a, 3), "end": round(b, 3), "speaker": who[role]}
         for role, pieces in spans.items() for a, b in pieces),
        key=lambda s: (s["start"], s["speaker"]),
    )  # fmt: skip
    out.with_suffix(".rttm").write_text(rttm_of(out.stem, segments))
    return out
