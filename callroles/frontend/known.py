"""Known sounds: the call centre's own hold music and recorded announcements, found by fingerprint.

A recorded announcement is speech to every detector (inaSpeechSegmenter, silero-vad, our
activity model): on generated calls with real Asterisk prompts 96% of the announcements became
a speaker's talk, and codec-mangled hold music 12% (docs/frontend.md). Yet a call centre knows
these sounds: they are files on its telephone system. Given them (``CALLROLES_KNOWN_SOUNDS``:
folders), every call is searched for them with landmark fingerprints (Wang 2003, the Shazam
method; D. Ellis's audfprint is the reference implementation, whose PyPI package needs a NumPy
our TensorFlow pin excludes): spectral peaks of the 8 kHz signal, pairs of peaks hashed as
(frequency, frequency step, time step), and a sound is found where enough pairs agree on one
time offset. What is found is never talk: the frames become ``music`` (files under a folder
named ``moh`` or ``music``) or ``announcement`` (every other file).

Only those very recordings are found, through codecs and level changes; an announcement the
library lacks is still counted as talk. Figures: ``callroles bench known``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import librosa
import numpy as np
from scipy.ndimage import maximum_filter

from callroles.base.errors import ConfigError
from callroles.frontend.segmentation import FRAME_S

log = logging.getLogger(__name__)

RATE = 8000
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".gsm", ".sln", ".au")
MUSIC_FOLDERS = ("moh", "music")


@dataclass(frozen=True)
class KnownSpec:
    n_fft: int = 256  # 32 ms at 8 kHz
    hop: int = 128  # 16 ms
    neighbourhood: tuple[int, int] = (9, 15)  # a peak is the maximum of (bins, frames) around it
    floor_db: float = 10.0  # above its frequency band's median level
    fan_out: int = 5  # pairs per anchor peak
    max_dt: int = 48  # frames (0.77 s) to the paired peak
    max_df: int = 31  # bins to the paired peak
    min_hits: int = 32  # pairs agreeing on one sound and offset (bench known)
    freq_bin: int = 2  # bins merged in the hash: codecs move a peak by a bin or two
    offset_bin: int = 3  # frames merged in the vote: lost packets and codecs jitter peaks
    company: int = 2  # a hit with no more hits than this within 1.5 s is chance, not the sound
    gap_s: float = 4.0  # hits further apart are two plays of the sound
    margin_s: float = 0.5  # around the first and last hit (a prompt cut short ends early)


DEFAULT_KNOWN = KnownSpec()


@dataclass(frozen=True)
class KnownMatch:
    """One play of a known sound in a call."""

    name: str
    kind: str  # music | announcement
    start: float
    end: float
    hits: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "start": round(float(self.start), 2),
                "end": round(float(self.end), 2), "hits": self.hits}  # fmt: skip


def landmarks(y: np.ndarray, spec: KnownSpec = DEFAULT_KNOWN) -> tuple[np.ndarray, np.ndarray]:
    """(hash, anchor frame) of every peak pair of an 8 kHz signal, in anchor order."""

    if len(y) < spec.n_fft:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    mag = np.abs(librosa.stft(np.asarray(y, np.float32), n_fft=spec.n_fft, hop_length=spec.hop))
    level = 20 * np.log10(mag + 1e-6)
    level -= np.median(level, axis=1, keepdims=True)
    peak = (level == maximum_filter(level, size=spec.neighbourhood)) & (level > spec.floor_db)
    f, t = np.nonzero(peak)
    order = np.argsort(t, kind="stable")
    f, t = f[order].astype(np.int64) // spec.freq_bin, t[order].astype(np.int64)
    hashes, anchors = [], []
    for step in range(1, spec.fan_out * 4):  # later peaks, nearest first, up to fan_out each
        if step >= len(t):
            break
        dt, df = t[step:] - t[:-step], f[step:] - f[:-step]
        ok = (dt > 0) & (dt <= spec.max_dt) & (np.abs(df) <= spec.max_df)
        hashes.append((f[:-step] << 12 | (df + 32) << 6 | dt)[ok])
        anchors.append(np.flatnonzero(ok))
    if not hashes:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    h, a = np.concatenate(hashes), np.concatenate(anchors)
    rank = np.zeros(len(a), np.int64)  # keep each anchor's first fan_out pairs
    o = np.argsort(a, kind="stable")
    _, first = np.unique(a[o], return_index=True)
    rank[o] = np.arange(len(a)) - np.repeat(first, np.diff(np.r_[first, len(a)]))
    keep = rank < spec.fan_out
    return h[keep], t[a[keep]]


class KnownSounds:
    """A fingerprint index of the known sounds, searched in every call."""

    def __init__(self, names: list[str], kinds: list[str], seconds: list[float],
                 table: np.ndarray, spec: KnownSpec = DEFAULT_KNOWN) -> None:  # fmt: skip
        self.names, self.kinds, self.seconds, self.spec = names, kinds, seconds, spec
        self.table = table[np.argsort(table[:, 0], kind="stable")]  # (hash, sound, frame)

    @classmethod
    def build(cls, folders: list[Path], spec: KnownSpec = DEFAULT_KNOWN) -> KnownSounds:
        """Index every audio file under ``folders``; a folder that is absent is a ConfigError."""

        names: list[str] = []
        kinds: list[str] = []
        seconds: list[float] = []
        parts: list[np.ndarray] = []
        for folder in folders:
            if not folder.is_dir():
                raise ConfigError(f"known sounds: no folder {folder}", code="known_sounds_missing")
            for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
                try:
                    y, _ = librosa.load(path, sr=RATE, mono=True)
                except Exception as exc:  # one unreadable file must not hide the others
                    log.warning("known sounds: %s skipped (%s)", path, exc)
                    continue
                h, t = landmarks(y, spec)
                parts.append(np.stack([h, np.full(len(h), len(names)), t], axis=1))
                music = any(p.lower() in MUSIC_FOLDERS for p in path.relative_to(folder).parts)
                music = music or folder.name.lower() in MUSIC_FOLDERS
                names.append(str(path.relative_to(folder.parent)))
                kinds.append("music" if music else "announcement")
                seconds.append(len(y) / RATE)
        if not names:
            raise ConfigError(
                f"known sounds: no audio files in {', '.join(map(str, folders))}",
                code="known_sounds_missing",
            )
        table = np.concatenate(parts) if parts else np.zeros((0, 3), np.int64)
        log.info("known sounds: %d files, %d landmarks", len(names), len(table))
        return cls(names, kinds, seconds, table, spec)

    @classmethod
    def load(cls, setting: str, cache_dir: Path) -> KnownSounds:
        """The index for ``CALLROLES_KNOWN_SOUNDS`` (folders joined by ``os.pathsep``), built
        once and cached by the files' names, sizes and times."""
        folders = _folders(setting)
        cache = cache_dir / f"known-sounds-{library_key(setting)}.npz"
        if cache.is_file():
            z = np.load(cache, allow_pickle=False)
            names, kinds = [str(x) for x in z["names"]], [str(x) for x in z["kinds"]]
            return cls(names, kinds, [float(x) for x in z["seconds"]], z["table"])
        index = cls.build(folders)
        cache_dir.mkdir(parents=True, exist_ok=True)
        part = cache.with_name(f".{cache.stem}-{os.getpid()}-{threading.get_ident()}.npz")
        np.savez(part, names=np.array(index.names), kinds=np.array(index.kinds),
                 seconds=np.array(index.seconds), table=index.table)  # fmt: skip
        os.replace(part, cache)  # workers sharing the cache never read half a file
        return index

    def find(self, y: np.ndarray) -> list[KnownMatch]:
        """Every play of a known sound in an 8 kHz signal."""
        spec, frame = self.spec, self.spec.hop / RATE
        h, t = landmarks(y, spec)
        keys = self.table[:, 0]
        lo, hi = np.searchsorted(keys, h, "left"), np.searchsorted(keys, h, "right")
        n = hi - lo
        if not n.sum():
            return []
        query = np.repeat(np.arange(len(h)), n)
        rows = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True) if b > a])
        sound, at = self.table[rows, 1], t[query]
        offset = (at - self.table[rows, 2]) // spec.offset_bin
        pairs, which, votes = np.unique(
            np.stack([sound, offset], axis=1), axis=0, return_inverse=True, return_counts=True
        )
        out = []
        for k in np.flatnonzero(votes >= spec.min_hits):
            sid, off = int(pairs[k, 0]), float(pairs[k, 1]) * frame * spec.offset_bin
            for run in hit_runs(at[which.ravel() == k] * frame, spec):
                start = max(off, run[0] - spec.margin_s, 0.0)
                end = min(off + self.seconds[sid], run[-1] + spec.margin_s, len(y) / RATE)
                out.append(
                    KnownMatch(self.names[sid], self.kinds[sid], float(start), float(end), len(run))
                )
        return sorted(out, key=lambda m: m.start)


def hit_runs(times: np.ndarray, spec: KnownSpec = DEFAULT_KNOWN) -> list[np.ndarray]:
    """The plays in the times (s) of the hits agreeing on one offset: a chance hit is alone,
    so a hit needs more than ``spec.company`` others within a second and a half; hits further
    apart than ``spec.gap_s`` are two plays; a play needs ``spec.min_hits`` hits."""
    times = np.sort(times)
    company = np.searchsorted(times, times + 1.5) - np.searchsorted(times, times - 1.5)
    times = times[company > spec.company]
    runs = np.split(times, np.flatnonzero(np.diff(times) > spec.gap_s) + 1)
    return [run for run in runs if len(run) >= spec.min_hits]


def _folders(setting: str) -> list[Path]:
    return [Path(p).expanduser() for p in setting.split(os.pathsep) if p]


def library_key(setting: str) -> str:
    """What the library's index depends on: the spec and every audio file's name, size, time."""
    key = hashlib.sha256(repr(DEFAULT_KNOWN).encode())
    for folder in _folders(setting):
        if folder.is_dir():
            for p in sorted(folder.rglob("*")):
                if p.suffix.lower() in AUDIO_SUFFIXES:
                    st = p.stat()
                    key.update(f"{p}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return key.hexdigest()[:16]


class LiveKnownSounds:
    """The known sounds of a long-running worker: the index, loaded again when the folders'
    files change (a library learnt again at night by ``callroles sounds learn``), checked at
    most every ``recheck_s``. A library that no longer loads keeps the last one, with a
    warning: a worker never stops for it."""

    def __init__(self, setting: str, cache_dir: Path, recheck_s: float = 60.0) -> None:
        self.setting, self.cache_dir, self.recheck_s = setting, cache_dir, recheck_s
        self.key = library_key(setting)
        self.index = KnownSounds.load(setting, cache_dir)  # at start, a bad library is an error
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    def current(self) -> KnownSounds:
        """The index to search; one thread looks again while the others use the last one."""
        if time.monotonic() - self._checked < self.recheck_s or not self._lock.acquire(False):
            return self.index
        try:
            self._checked = time.monotonic()
            key = library_key(self.setting)
            if key != self.key:
                self.index = KnownSounds.load(self.setting, self.cache_dir)
                self.key = key
                log.info("known sounds: reloaded, %d files", len(self.index.names))
        except Exception as exc:  # a library being rewritten or broken: keep serving the last
            log.warning("known sounds: kept the loaded library (%s)", exc)
        finally:
            self._lock.release()
        return self.index


def relabel(grid: np.ndarray, matches: list[KnownMatch]) -> np.ndarray:
    """The frame grid with known sounds' frames labelled as their kind (music first, then
    announcements over it: a prompt played over hold music is an announcement)."""
    out = grid.copy()
    for kind in ("music", "announcement"):
        for m in matches:
            if m.kind == kind:
                out[int(m.start / FRAME_S) : int(np.ceil(m.end / FRAME_S))] = kind
    return out
