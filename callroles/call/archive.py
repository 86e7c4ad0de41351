"""What an archive teaches about its agents, at once: ``callroles agents learn`` and ``discover``.

``learn``: every agent of a call table (its ``agent_id`` column), from the voice that recurs
across up to ``per_agent`` of their calls (the rule of :mod:`callroles.agents.recurrence`), into
the voiceprint store that ``analyze --agent-id`` and workers read. ``discover``: with no agent
ids, the voices that recur across an archive and talk with voices that do not are agents; each
gets an anonymous id (``voice-0001``...), the same one on every run, which a user may rename.
Both run the front end on each call (its speakers' voices), keep no audio and no customer voice:
only the prints they learn.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from callroles.agents.calltable import CallRow
from callroles.agents.recurrence import Voice, discover, recurring_voice
from callroles.agents.store import VoiceprintStore
from callroles.agents.voiceprints import Voiceprint
from callroles.base.errors import CallrolesError
from callroles.call.pipeline import Models, front_end
from callroles.call.voices import call_voices
from callroles.frontend.decode import decode
from callroles.models.embeddings import SAME_VOICE

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".gsm", ".mp3", ".flac", ".ogg", ".opus", ".sln")
DISCOVERED = re.compile(r"^voice-(\d{4,})$")
Progress = Callable[[str], None]
T = TypeVar("T")


@dataclass
class AgentOutcome:
    """What learning found for one agent: the calls used and the print, or why not."""

    agent_id: str
    calls: int
    learnt: bool
    reason: str
    taught_by: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def _spread(items: Sequence[T], most: int) -> list[T]:
    """At most ``most`` items, spread evenly over the sequence (its first and last kept)."""
    if len(items) <= most:
        return list(items)
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, most).round()]


def _voices_of(path: Path, call_id: str, models: Models) -> list[Voice]:
    """The voices of one mono call; the speakers of a stereo call are its channels."""
    audio = decode(path, models.limits)
    front = front_end(audio, models)
    heard = call_voices(front, audio, models.encoder)
    return [Voice(call_id, spk, vec, speech) for spk, (vec, speech) in heard.items()]


def learn_agents(
    archive: Path,
    rows: Sequence[CallRow],
    models: Models,
    store: VoiceprintStore,
    *,
    tenant: str = "",
    per_agent: int = 8,
    progress: Progress | None = None,
) -> list[AgentOutcome]:
    """Each agent's print from the voice recurring across their calls; agents already
    enrolled keep their print (a learnt voice that contradicts it is reported, not stored)."""
    by_agent: dict[str, list[CallRow]] = {}
    for row in rows:
        by_agent.setdefault(row.agent_id, []).append(row)
    out = []
    for agent_id, calls in sorted(by_agent.items()):
        if not agent_id:
            out.append(AgentOutcome("", len(calls), False, "calls without an agent_id"))
            continue
        used = _spread(calls, per_agent)
        voices, unreadable = [], []
        for row in used:
            if progress is not None:
                progress(f"{agent_id} {row.call_id}")
            try:
                voices += _voices_of(archive / row.file, row.call_id, models)
            except (CallrolesError, OSError) as exc:
                log.warning("call %s of agent %s not used: %s", row.call_id, agent_id, exc)
                unreadable.append(row.call_id)
        out.append(_keep(agent_id, tenant, len(used), voices, store, unreadable))
    return out


def _keep(
    agent_id: str,
    tenant: str,
    n_calls: int,
    voices: list[Voice],
    store: VoiceprintStore,
    unreadable: list[str],
) -> AgentOutcome:
    found = recurring_voice(voices)
    if found.vector is None:
        return AgentOutcome(agent_id, n_calls, False, found.reason, [], unreadable)
    current = store.get(agent_id, tenant)
    if current is not None and not current.usable():
        similarity = float(np.asarray(current.vector) @ found.vector)
        why = "already enrolled" if similarity >= SAME_VOICE else "contradicts the enrolled print"
        return AgentOutcome(
            agent_id, n_calls, False, f"{why} (similarity {similarity:.2f}); kept as it was",
            found.calls, unreadable,
        )  # fmt: skip
    store.put(
        Voiceprint.learnt(
            agent_id,
            tenant,
            found.vector,
            found.speech_s,
            found.calls,
            "recurring",
            found.cohesion or 0.0,
        )  # fmt: skip
    )
    return AgentOutcome(agent_id, n_calls, True, found.reason, found.calls, unreadable)


@dataclass
class DiscoveredVoice:
    """A recurring voice of the archive: its id (agents only), calls and the rule's verdict."""

    agent_id: str | None
    calls: list[str]
    agent: bool
    partners_recurring: float
    new: bool


def recordings(archive: Path) -> list[Path]:
    """The recordings of an archive folder (any depth), in name order."""
    return sorted(p for p in archive.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)


def discover_agents(
    files: Sequence[Path],
    models: Models,
    store: VoiceprintStore,
    *,
    tenant: str = "",
    most: int = 200,
    min_calls: int = 3,
    progress: Progress | None = None,
) -> list[DiscoveredVoice]:
    """Agents of an archive without agent ids: the recurring voices that talk with voices
    that do not recur; each stored under its id (a voice found before keeps its id)."""
    voices: list[Voice] = []
    for path in _spread(list(files), most):
        if progress is not None:
            progress(path.name)
        try:
            voices += _voices_of(path, str(path), models)
        except (CallrolesError, OSError) as exc:
            log.warning("%s not used: %s", path, exc)
    known = [p for p in store.list(tenant) if p.learnt_from == "discovered"]
    taken = [int(m.group(1)) for p in store.list(tenant) if (m := DISCOVERED.match(p.agent_id))]
    next_id = max(taken, default=0) + 1
    out = []
    for found in discover(voices, min_calls=min_calls):
        if not found.agent:
            out.append(DiscoveredVoice(None, found.calls, False, found.partners_recurring, False))
            continue
        match = max(known, key=lambda p: float(np.asarray(p.vector) @ found.vector), default=None)
        same = match is not None and float(np.asarray(match.vector) @ found.vector) >= SAME_VOICE
        agent_id = match.agent_id if same and match else f"voice-{next_id:04d}"
        next_id += 0 if same else 1
        sources = [Path(c).name for c in found.calls]
        store.put(
            Voiceprint.learnt(agent_id, tenant, found.vector, found.speech_s, sources, "discovered")
        )
        out.append(DiscoveredVoice(agent_id, found.calls, True, found.partners_recurring, not same))
    return out
