"""Recurring sounds: the call centre's own recordings, learnt from its archive.

Known sounds (``callroles.audio.known``) keep hold music and recorded prompts out of talk time,
but only when the user gives us the very files, which many cannot get out of their telephone
system. Their archive holds them many times over: the same greeting, the same prompt, the same
music-on-hold track, played identically (then coded) in call after call. Nobody says a sentence
twice the same way, so a stretch whose landmark fingerprint recurs at one time offset in several
calls is a recording, not a speaker.

``learn`` puts every call's landmarks (the fingerprint of ``known.py``) in one table, counts the
landmarks two calls share per time offset, keeps the stretches that recur in at least
``min_calls`` calls, and (where the archive names each call's agent) under at least two agents:
a call centre plays its recordings to every agent's callers, while a voice that repeats itself
word for word (a generated voice, an agent's soundboard) stays with one agent. ``write_library``
cuts one clip per call of each sound into ``music/`` or ``announcements/`` (inaSpeechSegmenter's
decision on the clip), a folder that ``CALLROLES_KNOWN_SOUNDS`` then uses. Figures:
``callroles bench recurring``.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from callroles.audio.known import AUDIO_SUFFIXES, DEFAULT_KNOWN, RATE, KnownSpec, landmarks
from callroles.errors import CallrolesError, ConfigError
from callroles.settings import Settings

log = logging.getLogger(__name__)

#: a landmark hash met more often than this in the archive is too common to tell a recording
MAX_SHARED = 64
#: clips of one sound written to the library (the longest plays: they cover the shorter ones)
CLIPS_PER_SOUND = 4
#: silero-vad hears speech in 69-71% of a learnt greeting and 0-7% of coded hold music with a
#: prompt over it (synthetic archive, docs/frontend.md): the kind's line lies between. Both kinds
#: are never talk; the kind only names them in results.
ANNOUNCEMENT_SPEECH = 1 / 3


@dataclass(frozen=True)
class LearnSpec:
    min_calls: int = 3  # a recording plays in many calls; two alike may be chance
    min_agents: int = 2  # where agents are known: a call centre's sounds reach every agent
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


def _shared_pairs(tables: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """(call i, call j, frame in i, frame in j), i < j, for every landmark hash two calls share."""
    h = np.concatenate([t[0] for t in tables])
    call = np.concatenate([np.full(len(t[0]), k, np.int64) for k, t in enumerate(tables)])
    at = np.concatenate([t[1] for t in tables])
    order = np.argsort(h, kind="stable")
    h, call, at = h[order], call[order], at[order]
    starts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
    sizes = np.diff(np.r_[starts, len(h)])
    out = []
    for size in np.unique(sizes):
        if size < 2 or size > MAX_SHARED:
            continue
        first = starts[sizes == size]
        a, b = np.triu_indices(int(size), 1)  # every pair inside each group of this size
        ia, ib = (first[:, None] + a[None, :]).ravel(), (first[:, None] + b[None, :]).ravel()
        keep = call[ia] != call[ib]
        ia, ib = ia[keep], ib[keep]
        swap = call[ia] > call[ib]
        ia, ib = np.where(swap, ib, ia), np.where(swap, ia, ib)
        out.append(np.stack([call[ia], call[ib], at[ia], at[ib]], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 4), np.int64)


def _stretches(times: np.ndarray, spec: KnownSpec) -> Iterator[np.ndarray]:
    """The runs of shared landmark times (frames) that are a recording, not chance: the same
    company and gap rules as ``KnownSounds.find``."""
    times = np.sort(times)
    per_s = RATE / spec.hop
    company = np.searchsorted(times, times + 1.5 * per_s) - np.searchsorted(
        times, times - 1.5 * per_s
    )
    times = times[company > spec.company]
    for run in np.split(times, np.flatnonzero(np.diff(times) > spec.gap_s * per_s) + 1):
        if len(run) >= spec.min_hits:
            yield run


def find_recurring(
    calls: list[Call],
    signals: list[np.ndarray],
    spec: LearnSpec | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Sound]:
    """The stretches that recur across the calls' 8 kHz signals, grouped into sounds."""
    spec = spec or LearnSpec()
    ks, frame = spec.known, spec.known.hop / RATE
    tables = []
    for k, y in enumerate(signals):
        tables.append(landmarks(y, ks))
        if progress:
            progress(k + 1, len(signals))
    pairs = _shared_pairs(tables)
    if not len(pairs):
        return []
    offset = (pairs[:, 2] - pairs[:, 3]) // ks.offset_bin
    keys, which, votes = np.unique(
        np.stack([pairs[:, 0], pairs[:, 1], offset], axis=1),
        axis=0,
        return_inverse=True,
        return_counts=True,
    )
    which = which.ravel()
    spans: list[tuple[int, float, float]] = []  # (call, start s, end s) of each shared stretch
    links: list[tuple[int, int]] = []
    for k in np.flatnonzero(votes >= ks.min_hits):
        i, j = int(keys[k, 0]), int(keys[k, 1])
        rows = pairs[which == k]
        shift = float(np.median(rows[:, 2] - rows[:, 3]))
        for run in _stretches(rows[:, 2], ks):
            a, b = float(run[0]) * frame, float(run[-1]) * frame
            spans += [(i, a, b), (j, a - shift * frame, b - shift * frame)]
            links.append((len(spans) - 2, len(spans) - 1))
    return _group(calls, signals, spans, links, spec)


def _group(
    calls: list[Call],
    signals: list[np.ndarray],
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
    duration = {c.call_id: len(y) / RATE for c, y in zip(calls, signals, strict=True)}
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
    signals: list[np.ndarray],
    out: Path,
    kind_of: Callable[[np.ndarray], str],
) -> list[Path]:
    """Cut each sound's longest plays into ``out/music`` or ``out/announcements`` (the folder
    names ``KnownSounds`` reads the kind from) and describe them in ``out/learned.json``."""
    import shutil

    import soundfile as sf

    if out.is_dir() and any(out.iterdir()):
        if not (out / "learned.json").is_file():  # never write over a folder we did not make
            raise ConfigError(
                f"{out} is not empty and not a learnt library", code="output_not_empty"
            )
        for old in ("music", "announcements"):
            shutil.rmtree(out / old, ignore_errors=True)
    signal = {c.call_id: y for c, y in zip(calls, signals, strict=True)}
    written: list[Path] = []
    for n, sound in enumerate(sounds, 1):
        longest = sound.longest(CLIPS_PER_SOUND)
        cid, a, b = longest[0]
        sound.kind = kind_of(signal[cid][int(a * RATE) : int(b * RATE)])
        folder = out / ("music" if sound.kind == "music" else "announcements")
        folder.mkdir(parents=True, exist_ok=True)
        for cid, a, b in longest:
            path = folder / f"sound{n:02d}-{cid.replace('/', '_')}.wav"
            sf.write(path, signal[cid][int(a * RATE) : int(b * RATE)], RATE)
            written.append(path)
    out.mkdir(parents=True, exist_ok=True)
    (out / "learned.json").write_text(
        json.dumps({"sounds": [s.to_dict() for s in sounds]}, indent=1) + "\n"
    )
    return written


def silero_kind(settings: Settings) -> Callable[[np.ndarray], str]:
    """A clip's kind: an announcement where silero-vad hears speech in a third of it or more.
    inaSpeechSegmenter cannot say: it calls coded hold music "male" speech."""
    from callroles.runtime.vad import SileroVad

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
    """Learn an archive's recurring sounds into the library folder ``out``. A recording that
    cannot be decoded is skipped and named, never the end of the run."""
    from callroles.audio.decode import decode

    calls, signals, skipped = [], [], {}
    for call in archive_calls(archive):
        try:
            signals.append(decode(call.path).channels.mean(axis=0))
            calls.append(call)
        except (CallrolesError, OSError) as exc:
            log.warning("archive: %s skipped (%s)", call.path, exc)
            skipped[str(call.path)] = str(exc)
    sounds = find_recurring(calls, signals, spec, progress)
    write_library(sounds, calls, signals, out, silero_kind(settings))
    return Learnt(sounds, len(calls), skipped)
