"""Speaker accuracy of an evaluation, broken down by whether training had heard the voice.

A synthetic corpus reuses TTS voices (espeak variant, pitch, speed) across speakers and across
languages, so splitting by speaker id, as the paper does, is not splitting by voice. This
groups each evaluated speaker by what training held of its voice: the same voice in the same
role, the same voice only in the *other* role (the hard case: a memorised voice would give the
wrong role), or never. Generated corpora only (it reads the simulator's truth files).

    python -m callroles.bench.voice_split CORPUS TRAIN_TREE EVAL_JSON [EVAL_JSON ...]
    python -m callroles.bench.voice_split EVAL_CORPUS:TRAIN_CORPUS TRAIN_TREE EVAL_JSON ...

(the second form when the evaluated calls come from another generated corpus).

Writes ``bench/results/voice_split-<TRAIN_TREE folder name>.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from callroles.bench.paths import RESULTS_DIR
from callroles.lab.simulate.voices import catalog

_CATALOG = {v.name: v for v in catalog()}
GROUPS = ("same voice, same role", "same voice, other role only", "voice never heard")


def voice_core(name: str) -> tuple[str, str, int, float]:
    """The voice without its language: engine, base voice, pitch and speed (from the catalogue)."""
    v = _CATALOG[name]
    return (v.engine, v.base, v.pitch, v.speed)


def voices_of(corpus: Path) -> dict[str, str]:
    """Speaker id -> voice name, from the corpus' truth files."""
    out: dict[str, str] = {}
    for path in sorted((corpus / "truth").glob("*.json")):
        for spk, info in json.loads(path.read_text())["speakers"].items():
            out[spk] = info["voice"]
    return out


def breakdown(
    corpus: Path, train_tree: Path, eval_json: Path, train_corpus: Path | None = None
) -> dict[str, Any]:
    """Right/total speakers per group for one evaluation report (report.json or eval-*.json)."""
    voices = voices_of(corpus)
    train_voices = voices_of(train_corpus) if train_corpus else voices
    heard: dict[tuple[str, str, int, float], set[str]] = {}
    for spk_dir in (train_tree / "train").glob("*/*/*"):
        role = spk_dir.parent.parent.name
        heard.setdefault(voice_core(train_voices[spk_dir.name]), set()).add(role)
    counts = {g: [0, 0] for g in GROUPS}
    for row in json.loads(eval_json.read_text())["speaker"]["per_speaker"]:
        roles = heard.get(voice_core(voices[row["speaker"]]), set())
        same = row["true"].rsplit("_", 1)[-1] in roles  # "female_agent" -> "agent"
        group = GROUPS[2] if not roles else GROUPS[0] if same else GROUPS[1]
        counts[group][0] += int(row["correct"])
        counts[group][1] += 1
    groups = {g: {"right": r, "of": n} for g, (r, n) in counts.items()}
    return {"eval": str(eval_json), "groups": groups}


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__)
        return 2
    eval_c, _, train_c = argv[0].partition(":")
    corpus, tree = Path(eval_c), Path(argv[1])
    train_corpus = Path(train_c) if train_c else None
    rows = [breakdown(corpus, tree, Path(p), train_corpus) for p in argv[2:]]
    for row in rows:
        parts = [f"{g}: {v['right']}/{v['of']}" for g, v in row["groups"].items()]
        print(f"{row['eval']}: " + "; ".join(parts))
    out = RESULTS_DIR / f"voice_split-{tree.name}.json"
    out.write_text(json.dumps({"corpus": str(corpus), "train": str(tree), "rows": rows}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
