"""Behaviour unchanged across a refactor: what ``callroles analyze --json`` says about a fixed set
of recordings (roles, what decided them, talk times, confidences), snapshot and compared.

    python -m callroles.bench.unchanged snapshot OUT.json   # with the checkout's callroles
    python -m callroles.bench.unchanged compare BEFORE.json AFTER.json

The set: the demo corpus (seed 11) and the test corpus (seed 1234), each call alone and, for
the demo's agents, as its agent's call with the agent enrolled from their sample; the real
Callytics calls alone and with CSR01 enrolled; the two pyAudioAnalysis recordings. Through the
command line only, so a snapshot of any version of the code compares with any other. Same means
the same roles and sources, talk times within 0.01 s, confidences equal to 4 decimals.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from callroles.base.settings import SHARED_DATA, get_settings
from callroles.lab.simulate import generate_corpus, generator_fingerprint

CORPORA = {"demo-corpus": 11, "test-corpus": 1234}


def _analyze(path: Path, agent: str | None, env: dict[str, str]) -> dict[str, Any]:
    cmd = ["callroles", "analyze", str(path), "--json"] + (["--agent-id", agent] if agent else [])
    r = json.loads(subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout)
    return {
        "agent_speaker": r["agent_speaker"],
        "separation": r["separation_strategy"],
        "flags": r.get("flags", []),
        "speakers": {
            s["speaker"]: {
                "role": s["role"],
                "source": s.get("role_source"),
                "talk_time_s": s["talk_time_s"],
                "confidence": s["confidence"],
            }
            for s in r["speakers"]
        },
        "call": {
            k: r["call"][k]
            for k in ("agent_talk_time_s", "customer_talk_time_s", "overlap_s", "music_s")
        },
    }


def _corpus(name: str, seed: int) -> Path:
    out = get_settings().home / "bench-cache" / f"unchanged-{name}-{generator_fingerprint()}"
    if not (out / "calls.csv").is_file():
        generate_corpus(out, calls=5, seed=seed, preset="small", agent_samples=True)
    return out


def snapshot(out: Path) -> None:
    env = dict(os.environ)
    env["CALLROLES_VOICEPRINT_STORE"] = str(Path(tempfile.mkdtemp()) / "voiceprints.json")
    items: list[tuple[str, Path, str | None]] = []
    demo = _corpus("demo-corpus", CORPORA["demo-corpus"])
    for sample in sorted((demo / "agents").glob("*.wav")):
        enrol = ["callroles", "agents", "enroll", "--agent-id", sample.stem, str(sample)]
        subprocess.run(enrol, env=env, check=True, capture_output=True)
    for name, seed in CORPORA.items():
        corpus = _corpus(name, seed)
        rows = (corpus / "calls.csv").read_text().splitlines()[1:]
        for row in rows:
            call_id, rel, *_, agent = row.split(",")[:5]
            items.append((f"{name}/{Path(rel).name}", corpus / rel, None))
            if name == "demo-corpus":
                items.append((f"{name}/{Path(rel).name}@{agent}", corpus / rel, agent))
    callytics = SHARED_DATA / "real-calls" / "callytics"
    if callytics.is_dir():
        csr = ["callroles", "agents", "enroll", "--agent-id", "CSR01", str(callytics / "CSR01.wav")]
        subprocess.run(csr, env=env, check=True, capture_output=True)
        for call in ("Call01", "Call02"):
            items.append((f"real-calls/{call}.wav", callytics / f"{call}.wav", None))
            items.append((f"real-calls/{call}.wav@CSR01", callytics / f"{call}.wav", "CSR01"))
    else:
        print(f"real calls absent ({callytics}): not in the snapshot", file=sys.stderr)
    diarization = SHARED_DATA / "diarization" / "pyaudioanalysis"
    for wav in sorted(diarization.glob("*.wav")):
        items.append((f"diarization/{wav.name}", wav, None))
    snap = {}
    for key, path, agent_of in items:
        snap[key] = _analyze(path, agent_of, env)
        print(key, snap[key]["agent_speaker"], file=sys.stderr, flush=True)
    out.write_text(json.dumps(snap, indent=1, sort_keys=True) + "\n")


def _differences(x: dict[str, Any], y: dict[str, Any]) -> list[str]:
    problems = []
    for field in ("agent_speaker", "separation", "flags"):
        if x[field] != y[field]:
            problems.append(f"{field} {x[field]} vs {y[field]}")
    if set(x["speakers"]) != set(y["speakers"]):
        problems.append("speakers")
    for spk in set(x["speakers"]) & set(y["speakers"]):
        p, q = x["speakers"][spk], y["speakers"][spk]
        if (p["role"], p["source"]) != (q["role"], q["source"]):
            problems.append(f"{spk} role {p['role']}/{p['source']} vs {q['role']}/{q['source']}")
        if abs(p["talk_time_s"] - q["talk_time_s"]) > 0.01:
            problems.append(f"{spk} talk {p['talk_time_s']} vs {q['talk_time_s']}")
        if round(p["confidence"], 4) != round(q["confidence"], 4):
            problems.append(f"{spk} confidence {p['confidence']} vs {q['confidence']}")
    for k, v in x["call"].items():
        if abs(v - y["call"].get(k, float("nan"))) > 0.01 or k not in y["call"]:
            problems.append(f"{k} {v} vs {y['call'].get(k)}")
    return problems


def compare(before: Path, after: Path) -> int:
    a, b = json.loads(before.read_text()), json.loads(after.read_text())
    differ = 0
    for key in sorted(set(a) | set(b)):
        if key not in a or key not in b:
            print(f"MISSING {key}")
            differ += 1
            continue
        problems = _differences(a[key], b[key])
        print(("SAME " if not problems else "DIFF ") + key + "".join(f"; {p}" for p in problems))
        differ += bool(problems)
    print(f"{len(a)} results, {differ} differ")
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m callroles.bench.unchanged")
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("snapshot")
    s.add_argument("out", type=Path)
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = p.parse_args(argv)
    if args.what == "snapshot":
        snapshot(args.out)
        return 0
    return compare(args.before, args.after)


if __name__ == "__main__":
    raise SystemExit(main())
