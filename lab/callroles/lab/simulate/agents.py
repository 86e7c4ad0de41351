"""A voice sample of every agent of a corpus: what a call centre records to enrol its agents.

Each agent of the corpus gets ``agents/<agent_id>.wav``: a few of their lines, alone, in their
language and voice, through the headset path, 8 kHz. It is drawn from its own random stream, so
the calls are the same with or without it, and it is never one of the calls: enrolling from it
(``callroles agents enroll``) and then scoring the calls is the deployment the README describes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from callroles.lab.simulate import channel, scripts
from callroles.lab.simulate.dialogue import CallPlan
from callroles.lab.simulate.tts import SR, synthesize

LINES = 5  # about 10-15 s of speech


def write_agent_samples(plans: list[CallPlan], folder: Path) -> list[Path]:
    """``folder/<agent_id>.wav`` for every agent of ``plans`` (the first call names the voice)."""
    first: dict[str, CallPlan] = {}
    for plan in plans:
        first.setdefault(plan.agent.speaker_id, plan)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for agent_id, plan in sorted(first.items()):
        salt = int(hashlib.sha256(agent_id.encode()).hexdigest()[:8], 16)
        rng = np.random.default_rng([plan.seed, salt, 11])
        lines = scripts.LINES[plan.language]
        pause = np.zeros(int(0.4 * SR), np.float32)
        parts: list[np.ndarray] = []
        for _ in range(LINES):
            text = scripts.fill(scripts.pick(lines.agent_turns, rng), plan.language, rng)
            parts += [synthesize(plan.agent.voice, text), pause]
        speech = channel.headset(np.concatenate(parts), rng, plan.agent.gain_db)
        path = folder / f"{agent_id}.wav"
        channel.write_audio(path, np.clip(speech, -1.0, 1.0))
        written.append(path)
    return written
