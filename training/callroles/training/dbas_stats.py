"""DBAS bookkeeping: speakers, the speaker split, and the paper's Table 1/2 statistics."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

PAPER_TABLES = {
    "train": {"speakers": 339, "utterances": 20296},
    "validation": {"speakers": 38, "utterances": 3012},
}


@dataclass
class SpeakerInfo:
    speaker: str
    role: str
    gender: str
    utterances: int
    calls: list[str] = field(default_factory=list)


def split_speakers(speakers: dict[str, SpeakerInfo], fraction: float, seed: int) -> dict[str, str]:
    """Speaker -> split. Per (role, gender) group, about ``fraction`` of the speakers (at least
    one when the group has two or more) go to validation; the same inputs give the same split."""
    rng = random.Random(seed)
    groups: dict[tuple[str, str], list[str]] = {}
    for s in sorted(speakers):
        groups.setdefault((speakers[s].role, speakers[s].gender), []).append(s)
    split: dict[str, str] = {}
    for key in sorted(groups):
        names = groups[key]
        rng.shuffle(names)
        if fraction >= 1:  # a held-out archive: every speaker is for evaluation
            n_val = len(names)
        elif len(names) >= 2 and fraction > 0:
            n_val = max(1, round(fraction * len(names)))
        else:
            n_val = 0
        for i, s in enumerate(names):
            split[s] = "validation" if i < n_val else "train"
    return split


def table_stats(speakers: dict[str, SpeakerInfo], split: dict[str, str]) -> dict[str, Any]:
    """Speakers and utterances per split, role and gender (the paper's Tables 1 and 2)."""
    stats: dict[str, Any] = {}
    for name in ("train", "validation"):
        sel = [s for s in speakers.values() if split[s.speaker] == name]
        row: dict[str, Any] = {"speakers": len(sel), "utterances": sum(s.utterances for s in sel)}
        for role in ("customer", "agent"):
            rs = [s for s in sel if s.role == role]
            row[role] = {"speakers": len(rs), "utterances": sum(s.utterances for s in rs)}
            for g in ("female", "male"):
                gs = [s for s in rs if s.gender == g]
                row[role][g] = {"speakers": len(gs), "utterances": sum(s.utterances for s in gs)}
        row["hours"] = round(row["utterances"] * 10 / 3600, 2)
        stats[name] = row
    return stats


def format_summary(result: Any) -> str:
    """Tables 1/2 of the built set next to the paper's, then every skipped call and why."""
    lines = [
        f"DBAS: {result.kept_calls} of {result.calls} calls kept; tree in {result.out}",
        "| set | total | customer | agent | customer F / M | agent F / M |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in result.stats.items():
        c, a = row["customer"], row["agent"]
        lines.append(
            f"| {name} | {row['speakers']} spk, {row['utterances']} utt | "
            f"{c['speakers']} spk, {c['utterances']} | {a['speakers']} spk, {a['utterances']} | "
            f"{c['female']['speakers']} spk {c['female']['utterances']} / "
            f"{c['male']['speakers']} spk {c['male']['utterances']} | "
            f"{a['female']['speakers']} spk {a['female']['utterances']} / "
            f"{a['male']['speakers']} spk {a['male']['utterances']} |"
        )
    lines.append("paper: train 339 spk, 20,296 utt; validation 38 spk, 3,012 utt")
    if result.skipped:
        lines.append(f"skipped calls ({len(result.skipped)}):")
        lines += [f"  {cid}: {why}" for cid, why in result.skipped.items()]
    if result.dropped_speakers:
        lines.append(f"dropped speakers ({len(result.dropped_speakers)}):")
        lines += [f"  {spk}: {why}" for spk, why in result.dropped_speakers.items()]
    return "\n".join(lines)
