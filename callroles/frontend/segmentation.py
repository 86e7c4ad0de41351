"""The call's time-aligned segmentation and time budget, derived from one 10 ms frame grid.

Every strategy (stereo, gender, embedding) produces the same thing: a non-speech label per
frame and a speech-activity mask per speaker. Segments, RTTM, CSV and the budget are all read
from that grid, so talk times and exported segments can never disagree.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field

import numpy as np
from pyannote.core import Annotation
from pyannote.core import Segment as PySegment

FRAME_S = 0.01
NONSPEECH = ("silence", "music", "noise", "announcement")


@dataclass(frozen=True)
class Segment:
    """``label``: speech, silence, music, noise or announcement (a known recording,
    ``audio.known``); speech has a speaker and usually a gender."""

    start: float
    end: float
    label: str
    speaker: str | None = None
    gender: str | None = None
    channel: int = 0

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class SpeakerTrack:
    """One speaker's activity on the frame grid and where their audio comes from."""

    speaker: str
    gender: str | None
    channel: int
    active: np.ndarray  # (T,) bool
    source: str  # e.g. "channel 0", "gender female", "cluster 1"
    role_hint: str | None = None  # from the declared stereo layout, if any


@dataclass
class Segmentation:
    """Segments of a call: speech (per speaker) and non-speech, both in start order."""

    duration_s: float
    segments: list[Segment] = field(default_factory=list)

    @property
    def speech(self) -> list[Segment]:
        return [s for s in self.segments if s.label == "speech"]

    def to_annotation(self, uri: str = "call") -> Annotation:
        """The speech segments as a pyannote.core ``Annotation`` (one track per segment)."""
        out = Annotation(uri=uri.replace(" ", "_") or "call")
        for i, s in enumerate(self.speech):
            out[PySegment(s.start, s.end), i] = s.speaker
        return out

    def to_rttm(self, uri: str = "call") -> str:
        """NIST RTTM ``SPEAKER`` lines of the speech segments (written by pyannote.core)."""
        return str(self.to_annotation(uri).to_rttm())

    def to_csv(self) -> str:
        """All segments as CSV: start,end,label,speaker,gender,channel."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["start", "end", "label", "speaker", "gender", "channel"])
        for s in self.segments:
            writer.writerow(
                [
                    f"{s.start:.3f}",
                    f"{s.end:.3f}",
                    s.label,
                    s.speaker or "",
                    s.gender or "",
                    s.channel,
                ]
            )
        return buf.getvalue()

    def to_dicts(self) -> list[dict]:
        return [asdict(s) for s in self.segments]


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[(start, stop)] frame runs where ``mask`` is true."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(m[1:] != m[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def drop_short_runs(mask: np.ndarray, shortest: int) -> np.ndarray:
    """``mask`` without its runs shorter than ``shortest`` frames (a copy)."""
    out = np.array(mask, dtype=bool)
    for a, b in runs(out) if shortest > 1 else []:
        if b - a < shortest:
            out[a:b] = False
    return out


def raw_to_grid(raw: list[tuple[str, float, float]], n_frames: int) -> np.ndarray:
    """ina's (label, start, stop) list to one label per 10 ms frame (noEnergy -> silence)."""
    grid = np.full(n_frames, "silence", dtype=object)
    for lab, start, stop in raw:
        a, b = int(round(start / FRAME_S)), min(n_frames, int(round(stop / FRAME_S)))
        grid[a:b] = "silence" if lab == "noEnergy" else lab
    return grid


def build(tracks: list[SpeakerTrack], background: np.ndarray) -> tuple[Segmentation, dict]:
    """Segments and time budget from speaker tracks and a per-frame non-speech label."""
    n = len(background)
    segments: list[Segment] = []
    for t in tracks:
        for a, b in runs(t.active):
            segments.append(
                Segment(
                    round(a * FRAME_S, 3),
                    round(b * FRAME_S, 3),
                    "speech",
                    t.speaker,
                    t.gender,
                    t.channel,
                )
            )
    count = np.sum([t.active for t in tracks], axis=0) if tracks else np.zeros(n, int)
    for label in NONSPEECH:
        for a, b in runs((count == 0) & (background == label)):
            segments.append(Segment(round(a * FRAME_S, 3), round(b * FRAME_S, 3), label))
    segments.sort(key=lambda s: (s.start, s.label != "speech", s.speaker or ""))
    budget = {
        "duration_s": round(n * FRAME_S, 3),
        "speech_s": round(float(np.sum(count > 0)) * FRAME_S, 3),
        "speech_per_speaker_s": {
            t.speaker: round(float(t.active.sum()) * FRAME_S, 3) for t in tracks
        },
        "overlap_s": round(float(np.sum(count > 1)) * FRAME_S, 3),
    }
    for label in NONSPEECH:
        budget[f"{label}_s"] = round(
            float(np.sum((count == 0) & (background == label))) * FRAME_S, 3
        )
    return Segmentation(duration_s=round(n * FRAME_S, 3), segments=segments), budget
