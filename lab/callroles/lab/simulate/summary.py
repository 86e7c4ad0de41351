"""What a generated corpus holds, as numbers and as the table printed at the end of a run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class CorpusSummary:
    """Counts over the calls of one corpus, and how fast it was generated."""

    out: Path
    calls: int = 0
    audio_s: float = 0.0
    wall_s: float = 0.0
    stereo_calls: int = 0
    same_gender_calls: int = 0
    outside_60_600: int = 0
    calls_by_language: Counter[str] = field(default_factory=Counter)
    hours_by_language: dict[str, float] = field(default_factory=dict)
    speakers: dict[str, set[str]] = field(default_factory=dict)  # "agent/female" -> ids
    voices: set[str] = field(default_factory=set)

    @property
    def hours(self) -> float:
        return self.audio_s / 3600.0

    @property
    def speed(self) -> float:
        """Audio seconds generated per wall-clock second."""
        return self.audio_s / self.wall_s if self.wall_s > 0 else 0.0

    def add_call(self, truth: dict) -> None:
        self.calls += 1
        dur = float(truth["duration_s"])
        self.audio_s += dur
        lang = truth["language"]
        self.calls_by_language[lang] += 1
        self.hours_by_language[lang] = self.hours_by_language.get(lang, 0.0) + dur / 3600.0
        self.stereo_calls += int(truth["channels"] == 2)
        self.same_gender_calls += int(truth["same_gender"])
        self.outside_60_600 += int(not 60.0 <= dur <= 600.0)
        for sid, spk in truth["speakers"].items():
            self.speakers.setdefault(f"{spk['role']}/{spk['gender']}", set()).add(sid)
            self.voices.add(spk["voice"])

    def count(self, role: str, gender: str | None = None) -> int:
        keys = [
            k
            for k in self.speakers
            if k.startswith(role + "/") and (gender is None or k.endswith("/" + gender))
        ]
        return len(set().union(*(self.speakers[k] for k in keys))) if keys else 0

    def to_dict(self) -> dict:
        return {
            "out": str(self.out),
            "calls": self.calls,
            "audio_s": round(self.audio_s, 1),
            "hours": round(self.hours, 3),
            "wall_s": round(self.wall_s, 2),
            "speed_x_realtime": round(self.speed, 1),
            "stereo_calls": self.stereo_calls,
            "same_gender_calls": self.same_gender_calls,
            "outside_60_600": self.outside_60_600,
            "calls_by_language": dict(self.calls_by_language),
            "speakers": {k: len(v) for k, v in sorted(self.speakers.items())},
            "distinct_voices": len(self.voices),
        }

    def table(self) -> str:
        """A plain-text table for the terminal."""
        rows = [
            ("calls", str(self.calls)),
            ("audio", f"{self.hours:.2f} h ({self.audio_s:.0f} s)"),
            ("generated in", f"{self.wall_s:.1f} s ({self.speed:.1f}x real time)"),
            ("stereo calls", str(self.stereo_calls)),
            ("same-gender calls", str(self.same_gender_calls)),
            ("outside 60-600 s", str(self.outside_60_600)),
        ]
        for lang in sorted(self.calls_by_language):
            rows.append(
                (
                    f"language {lang}",
                    f"{self.calls_by_language[lang]} calls, {self.hours_by_language[lang]:.2f} h",
                )
            )
        for role in ("agent", "customer"):
            rows.append(
                (
                    f"{role}s",
                    f"{self.count(role)} ({self.count(role, 'female')} female, "
                    f"{self.count(role, 'male')} male)",
                )
            )
        rows.append(("distinct voices", str(len(self.voices))))
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)
