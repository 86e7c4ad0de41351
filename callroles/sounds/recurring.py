"""Recurring sounds: the call centre's own recordings, learnt from its archive.

Known sounds (``callroles.frontend.known``) keep hold music and recorded prompts out of talk time,
but only when the user gives us the very files, which many cannot get out of their telephone
system. Their archive holds them many times over: the same greeting, the same prompt, the same
music-on-hold track, played identically (then coded) in call after call. Nobody says a sentence
twice the same way, so a stretch whose landmark fingerprint recurs at one time offset in several
calls is a recording, not a speaker.

``learn`` puts every call's landmarks (the fingerprint of ``known.py``) in one table, counts the
landmarks two calls share per time offset, keeps the stretches that recur in at least
``min_calls`` calls, and (where the archive names each call's agent) under at least two agents:
a call centre plays its recordings to every agent's callers, while a voice that repeats itself
word for word (a generated voice, an agent's soundboard) stays with one agent; and what plays
more than twice in the median call, between turns, is a voice too. ``write_library`` cuts each
sound's longest plays (four at most, one per call) into ``music/`` or ``announcements/``
(silero-vad's decision on the clip), a folder that ``CALLROLES_KNOWN_SOUNDS`` then uses.
Figures: ``callroles bench recurring``.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from callroles.base.errors import CallrolesError, ConfigError
from callroles.base.settings import Settings
from callroles.frontend.decode import decode
from callroles.frontend.known import (
    AUDIO_SUFFIXES,
    DEFAULT_KNOWN,
    RATE,
    KnownSpec,
    hit_runs,
    landmarks,
)
from callroles.models.vad import SileroVad

log = logging.getLogger(__name__)

#: a landmark hash met more often than this many times per call is too common to tell a recording
MAX_SHARED_PER_CALL = 2
#: time offsets between two calls, in offset bins either way (far more than any call is long)
OFFSETS = 1 << 20
#: clips of one sound written to the library (the longest plays: they cover the shorter ones)
CLIPS_PER_SOUND = 4
#: silero-vad hears speech in 69-71% of a learnt greeting and 0-7% of coded hold music with a
#: prompt over it (synthetic archive, docs/frontend.md): the kind's line lies between. Both kinds
#: are never talk; the kind only names them in results.
ANNOUNCEMENT_SPEECH = 1 / 3


@dataclass(frozen=True)
class LearnSpec:
    max_calls: int = 100  # calls learnt from, spread over a larger archive (memory: docs)
    min_calls: int = 3  # a recording plays in many calls; two alike may be chance
    min_agents: int = 2  # where agents are known: a call centre's sounds reach every agent
    # a telephone system plays a recording once per event (the greeting, a hold), so in most
    # calls once or twice; what recurs many times in one call, between turns, is a voice
    # repeating itself (generated voices do). Missing a recording leaves talk time as it was;
    # taking a voice for one erases talk, hence the median over calls, not the most.
    max_plays: float = 2.0
    min_s: float = 1.5  # shorter stretches are beeps and tones, not worth keeping
    lead_s: float = 0.25  # clip margin before the first shared landmark
    tail_s: float = 0.8  # after the last: a landmark's pair reaches up to 0.77 s further
    known: KnownSpec = field(default_factory=lambda: DEFAULT_KNOWN)


@dataclass(frozen=True)
class Call:
    """One recording of the archive; ``agent`` is None when the archive does not say."""

    call_id: str
    path: Path
    agent: str | None = None


@dataclass
class Fingerprinted:
    """The landmarks of an archive's calls (the audio itself is not kept)."""

    calls: list[Call]
    tables: list[tuple[np.ndarray, np.ndarray]]  # (hash, frame) per call
    seconds: list[float]
    skipped: dict[str, str] = field(default_factory=dict)  # recording -> why it was not read

    def head(self, n: int) -> Fingerprinted:
        return Fingerprinted(self.calls[:n], self.tables[:n], self.seconds[:n], self.skipped)


@dataclass
class Sound:
    """One recording that recurs: where it plays in each call (seconds), and what it is."""

    plays: dict[str, list[tuple[float, float]]]  # call -> its stretches, in time order
    agents: set[str]
    kind: str = "announcement"

    @property
    def seconds(self) -> float:
        return max(b - a for spans in self.plays.values() for a, b in spans)

    def longest(self, n: int) -> list[tuple[str, float, float]]:
        """The ``n`` longest stretches, at most one per call."""
        best = [max(((c, a, b) for a, b in v), key=lambda p: p[2] - p[1])
                for c, v in self.plays.items()]  # fmt: skip
        return sorted(best, key=lambda p: p[1] - p[2])[:n]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "calls": len(self.plays),
            "agents": sorted(self.agents),
            "seconds": round(self.seconds, 2),
            "plays": {
                c: [[round(a, 2), round(b, 2)] for a, b in v] for c, v in sorted(self.plays.items())
            },  # fmt: skip
        }


def archive_calls(folder: Path) -> list[Call]:
    """The recordings of an archive folder. Its ``calls.csv`` (columns ``call_id``, ``file``,
    ``agent_id``, as ``callroles simulate`` writes) names each call's agent; without one every
    audio file under the folder is a call of an unknown agent."""
    if not folder.is_dir():
        raise ConfigError(f"archive: no folder {folder}", code="archive_missing")
    table = folder / "calls.csv"
    if table.is_file():
        with table.open(newline="") as f:
            rows = list(csv.DictReader(f))
        if rows and {"call_id", "file"} <= set(rows[0]):
            return [Call(r["call_id"], folder / r["file"], r.get("agent_id") or None) for r in rows]
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    calls = [Call(str(p.relative_to(folder).with_suffix("")), p) for p in files]
    if not calls:
        raise ConfigError(f"archive: no recordings in {folder}", code="archive_missing")
    return calls


def _shared_pairs(
    tables: list[tuple[np.ndarray, np.ndarray]], offset_bin: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every landmark hash two calls share: (key, frame in call i, frame in call j), sorted
    by key, where the key encodes (call i < call j, time offset in ``offset_bin`` frames)."""
    n = len(tables)
    h = np.concatenate([t[0] for t in tables])
    call = np.concatenate([np.full(len(t[0]), k, np.int64) for k, t in enumerate(tables)])
    at = np.concatenate([t[1] for t in tables]).astype(np.int64)
    order = np.argsort(h, kind="stable")
    h, call, at = h[order], call[order], at[order]
    starts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
    sizes = np.diff(np.r_[starts, len(h)])
    # a recording's hash meets each call that plays it once or a few times; a hash met far more
    # often than there are calls is common to all sound, and would cost pairs by the square
    most = MAX_SHARED_PER_CALL * n + 16
    keys, ti, tj = [], [], []
    for size in np.unique(sizes):
        if size < 2 or size > most:
            continue
        first = starts[sizes == size]
        a, b = np.triu_indices(int(size), 1)  # every pair inside each group of this size
        ia, ib = (first[:, None] + a[None, :]).ravel(), (first[:, None] + b[None, :]).ravel()
        keep = call[ia] != call[ib]
        ia, ib = ia[keep], ib[keep]
        swap = call[ia] > call[ib]
        ia, ib = np.where(swap, ib, ia), np.where(swap, ia, ib)
        offset = (at[ia] - at[ib]) // offset_bin + OFFSETS
        keys.append((call[ia] * n + call[ib]) * (2 * OFFSETS) + offset)
        ti.append(at[ia].astype(np.int32))
        tj.append(at[ib].astype(np.int32))
    if not keys:
        return np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32)
    key = np.concatenate(keys)
    o = np.argsort(key, kind="stable")
    return key[o], np.concatenate(ti)[o], np.concatenate(tj)[o]


def sample(calls: list[Call], n: int) -> list[Call]:
    """At most ``n`` calls, evenly spread over the archive (in its order: usually time)."""
    if len(calls) <= n:
        return calls
    return [calls[int(k)] for k in np.linspace(0, len(calls) - 1, n).round()]


def fingerprint_archive(
    calls: list[Call],
    spec: KnownSpec = DEFAULT_KNOWN,
    progress: Callable[[int, int], None] | None = None,
) -> Fingerprinted:
    """Every call's landmarks, one call in memory at a time. A recording that cannot be decoded
    is skipped and named, never the end of the run."""

    out = Fingerprinted([], [], [])
    for k, call in enumerate(calls):
        try:
            y = decode(call.path).channels.mean(axis=0)
        except (CallrolesError, OSError) as exc:
            log.warning("archive: %s skipped (%s)", call.path, exc)
            out.skipped[str(call.path)] = str(exc)
        else:
            out.calls.append(call)
            out.tables.append(landmarks(y, spec))
            out.seconds.append(len(y) / RATE)
        if progress:
            progress(k + 1, len(calls))
    return out


def find_recurring(prints: Fingerprinted, spec: LearnSpec | None = None) -> list[Sound]:
    """The stretches that recur across the calls, grouped into sounds."""
    spec = spec or LearnSpec()
    ks, frame, tables = spec.known, spec.known.hop / RATE, prints.tables
    if len(tables) < 2:
        return []
    key, ti, tj = _shared_pairs(tables, ks.offset_bin)
    if not len(key):
        return []
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], len(key)]
    spans: list[tuple[int, float, float]] = []  # (call, start s, end s) of each shared stretch
    links: list[tuple[int, int]] = []
    n = len(tables)
    for lo, hi in zip(starts, ends, strict=True):
        if hi - lo < ks.min_hits:
            continue
        i, j = divmod(int(key[lo]) // (2 * OFFSETS), n)
        shift = float(np.median(ti[lo:hi].astype(np.int64) - tj[lo:hi]))
        # as for a known sound (``hit_runs``); a play found through many pairs of calls is the
        # union of their runs, so chance hits just after it may carry it on by a second or two
        # (a company window of 0.5 s cut that, and 9% of the announcements: docs/frontend.md)
        for run in hit_runs(ti[lo:hi] * frame, ks):
            a, b = float(run[0]), float(run[-1])
            spans += [(i, a, b), (j, a - shift * frame, b - shift * frame)]
            links.append((len(spans) - 2, len(spans) - 1))
    return _group(prints, spans, links, spec)


def _group(
    prints: Fingerprinted,
    spans: list[tuple[int, float, float]],
    links: list[tuple[int, int]],
    spec: LearnSpec,
) -> list[Sound]:
    """Join shared stretches into sounds: linked across calls, or overlapping in one call."""
    parent = list(range(len(spans)))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for one, other in links:
        parent[root(one)] = root(other)
    by_call = sorted(range(len(spans)), key=lambda s: (spans[s][0], spans[s][1]))
    for k, cur in enumerate(by_call):  # one play found through several calls is one stretch
        c, a, b = spans[cur]
        for prev in reversed(by_call[max(0, k - 8) : k]):
            pc, pa, pb = spans[prev]
            if pc == c and min(b, pb) - max(a, pa) > 0.5 * min(b - a, pb - pa):
                parent[root(cur)] = root(prev)
    calls = prints.calls
    duration = {c.call_id: t for c, t in zip(calls, prints.seconds, strict=True)}
    known_agents = all(c.agent for c in calls)
    groups: dict[int, list[int]] = {}
    for s in range(len(spans)):
        groups.setdefault(root(s), []).append(s)
    sounds = []
    for members in groups.values():
        found: dict[str, list[tuple[float, float]]] = {}
        for s in members:
            c, a, b = spans[s]
            found.setdefault(calls[c].call_id, []).append((a, b))
        plays = {cid: _merged(v, spec, duration[cid]) for cid, v in found.items()}
        agents = {c.agent for c in calls if c.call_id in plays and c.agent}
        sound = Sound(plays, agents)
        if len(plays) < spec.min_calls or sound.seconds < spec.min_s:
            continue
        if known_agents and len(agents) < spec.min_agents:
            continue
        if float(np.median([len(v) for v in plays.values()])) > spec.max_plays:
            continue
        sounds.append(sound)
    return sorted(sounds, key=lambda s: (-len(s.plays), -s.seconds))


def _merged(
    spans: list[tuple[float, float]], spec: LearnSpec, duration: float
) -> list[tuple[float, float]]:
    """A call's shared stretches of one sound, with the clip margins, overlaps joined."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        a, b = max(a - spec.lead_s, 0.0), min(b + spec.tail_s, duration)
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def write_library(
    sounds: list[Sound],
    calls: list[Call],
    out: Path,
    kind_of: Callable[[np.ndarray], str],
) -> list[Path]:
    """Cut each sound's longest plays into ``out/music`` or ``out/announcements`` (the folder
    names ``KnownSounds`` reads the kind from) and describe them in ``out/learned.json``.

    The library is written beside ``out`` and swapped in whole, so a worker reading it never
    sees half of one; with no sound to write, ``out`` is left as it was (a library learnt
    before keeps serving), and a folder that is not a learnt library is never written over."""

    if out.is_dir() and any(out.iterdir()) and not (out / "learned.json").is_file():
        raise ConfigError(f"{out} is not empty and not a learnt library", code="output_not_empty")
    if not sounds:
        return []
    path = {c.call_id: c.path for c in calls}

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    written: list[Path] = []
    try:
        for n, sound in enumerate(sounds, 1):
            longest = sound.longest(CLIPS_PER_SOUND)
            clips = [
                (cid, decode(path[cid]).channels.mean(axis=0)[int(a * RATE) : int(b * RATE)])
                for cid, a, b in longest
            ]
            sound.kind = kind_of(clips[0][1])
            folder = tmp / ("music" if sound.kind == "music" else "announcements")
            folder.mkdir(parents=True, exist_ok=True)
            for cid, clip in clips:
                name = f"sound{n:02d}-{cid.replace('/', '_')}.wav"
                sf.write(folder / name, clip, RATE)
                written.append(out / folder.name / name)
        (tmp / "learned.json").write_text(
            json.dumps({"sounds": [s.to_dict() for s in sounds]}, indent=1) + "\n"
        )
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        if out.exists():
            out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return written


def silero_kind(settings: Settings) -> Callable[[np.ndarray], str]:
    """A clip's kind: an announcement where silero-vad hears speech in a third of it or more.
    inaSpeechSegmenter cannot say: it calls coded hold music "male" speech."""

    vad = SileroVad.load(settings)

    def kind(clip: np.ndarray) -> str:
        share = float((vad(clip, max(len(clip) // 80, 1)) > 0.5).mean()) if len(clip) else 0.0
        return "announcement" if share >= ANNOUNCEMENT_SPEECH else "music"

    return kind


@dataclass
class Learnt:
    sounds: list[Sound]
    calls: int
    skipped: dict[str, str]  # recording -> why it could not be read


def learn(
    archive: Path,
    out: Path,
    settings: Settings,
    spec: LearnSpec | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Learnt:
    """Learn an archive's recurring sounds (from ``spec.max_calls`` of its calls at most) into
    the library folder ``out``."""
    spec = spec or LearnSpec()
    calls = sample(archive_calls(archive), spec.max_calls)
    prints = fingerprint_archive(calls, spec.known, progress)
    sounds = find_recurring(prints, spec)
    write_library(sounds, prints.calls, out, silero_kind(settings))
    return Learnt(sounds, len(prints.calls), prints.skipped)
