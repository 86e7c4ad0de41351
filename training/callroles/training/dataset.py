"""The paper's database-based annotation scheme (DBAS): a call archive plus the agent database
become a speaker-disjoint tree of 10 s log-mel utterances.

Phase 1, per call (parallel, resumable: a ``done.json`` per call in ``<out>/.work``): duration
filter, front end (inaSpeechSegmenter labels, one stream per gender), opposite genders only,
agent = the stream of the agent's gender in the table, non-overlapping 10 s utterances.
Phase 2, global (cheap, rerun every time): drop speakers seen with two genders, split by speaker,
hard-link utterances into ``<train|validation>/<role>/<gender>/<speaker>/<n>.npy``, statistics.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import shutil
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from callroles.agents.calltable import CallRow, read_calls
from callroles.base.errors import InputError
from callroles.base.names import safe_name
from callroles.base.settings import get_settings
from callroles.call.pipeline import Models, front_end
from callroles.frontend.separate import GENDER_MIN_S, GENDER_MIN_SHARE
from callroles.models.features import stream_windows
from callroles.training.dbas_stats import (
    SpeakerInfo,
    format_summary,
    split_speakers,
    table_stats,
)

WORK = ".work"
OPPOSITE = {"female": "male", "male": "female"}


class DatasetError(InputError):
    """An archive from which no training set can be built."""

    code = "dataset"
    stage = "dataset"


@dataclass(frozen=True)
class BuildOptions:
    """Knobs of one build; the defaults are the paper's."""

    table: str = "calls"
    validation_fraction: float = 0.1
    seed: int = 0
    workers: int = 1
    min_duration_s: float = 60.0
    max_duration_s: float = 600.0
    limit: int | None = None
    progress: bool = True
    work: Path | None = None  # phase-1 cache; share it between builds of subsets of one archive


@dataclass
class BuildResult:
    out: Path
    calls: int
    kept_calls: int
    skipped: dict[str, str]
    dropped_speakers: dict[str, str]
    stats: dict[str, Any]

    def format(self) -> str:
        return format_summary(self)


def call_key(row: CallRow, opts: BuildOptions) -> str:
    """Cache folder of a call: its id plus a hash of what decides its outcome, so an edited
    table row is processed again while untouched calls are reused. The duration range enters
    only when the table has no duration (then the decoded duration decides, after the cache)."""
    rng = None if row.duration_s is not None else [opts.min_duration_s, opts.max_duration_s]
    blob = json.dumps([asdict(row), rng], sort_keys=True)
    return f"{safe_name(row.call_id)}-{hashlib.sha256(blob.encode()).hexdigest()[:10]}"


def precheck(row: CallRow, archive: Path, opts: BuildOptions) -> str | None:
    """Reason to skip a call before any audio work, or None."""
    if not row.call_id:
        return "no call_id"
    if not row.agent_id:
        return "unknown agent: empty agent_id"
    if row.agent_gender not in OPPOSITE:
        return f"unknown agent gender {row.agent_gender!r} for agent {row.agent_id}"
    if not row.customer_id:
        return "unknown customer: empty customer_id"
    if row.duration_s is not None and not (
        opts.min_duration_s <= row.duration_s <= opts.max_duration_s
    ):
        return (
            f"duration {row.duration_s:.1f} s outside "
            f"{opts.min_duration_s:g}-{opts.max_duration_s:g} s"
        )
    if not (archive / row.file).is_file():
        return f"audio file missing: {archive / row.file}"
    return None


_FRONTEND: Any = None


def _frontend() -> Any:
    global _FRONTEND
    if _FRONTEND is None:
        # DBAS needs ina's gender tracks only (the windows), not talk time: no activity model.
        # Each DBAS process builds its own front end: the settings are read here, at its entry.
        _FRONTEND = Models(get_settings(), frame_models=False)
    return _FRONTEND


def process_call(row: CallRow, archive: Path, work: Path, opts: BuildOptions) -> dict[str, Any]:
    """Phase 1 for one call; writes its utterances and ``done.json`` (the resume marker)."""
    outcome: dict[str, Any] = {"call_id": row.call_id, "status": "skipped", "speakers": []}
    reason = precheck(row, archive, opts)  # cheap table checks: never cached
    if reason is not None:
        return {**outcome, "reason": reason}
    cdir = work / call_key(row, opts)
    done = cdir / "done.json"
    if done.is_file():
        result: dict[str, Any] = json.loads(done.read_text())
        return result
    shutil.rmtree(cdir, ignore_errors=True)
    cdir.mkdir(parents=True)
    if reason is None:
        try:
            res = front_end(
                archive / row.file, layout="mono", strategy="gender", models=_frontend()
            )
        except InputError as exc:
            reason = f"unreadable audio [{exc.code}]: {exc}"
        else:
            duration = float(getattr(res.facts, "duration_s", 0.0) or 0.0)
            talk = {s.gender: s for s in res.speakers if s.gender in OPPOSITE}
            f = talk["female"].talk_time_s if "female" in talk else 0.0
            m = talk["male"].talk_time_s if "male" in talk else 0.0
            if (
                row.duration_s is None
                and duration
                and not (opts.min_duration_s <= duration <= opts.max_duration_s)
            ):
                reason = f"duration {duration:.1f} s outside the range"
            elif min(f, m) < GENDER_MIN_S or min(f, m) < GENDER_MIN_SHARE * (f + m):
                reason = f"not two opposite genders (female {f:.1f} s, male {m:.1f} s of speech)"
            else:
                outcome["speakers"] = _write_speakers(row, talk, cdir)
                if not any(s["utterances"] for s in outcome["speakers"]):
                    reason = "no speaker has 10 s of speech"
    if reason is None:
        outcome["status"] = "kept"
    else:
        outcome["reason"] = reason
    tmp = cdir / "done.json.tmp"
    tmp.write_text(json.dumps(outcome))
    tmp.replace(done)
    return outcome


def _write_speakers(row: CallRow, talk: dict[str, Any], cdir: Path) -> list[dict[str, Any]]:
    """Label the two gender streams agent/customer and save non-overlapping 10 s utterances."""
    out = []
    for gender, stream in sorted(talk.items()):
        role = "agent" if gender == row.agent_gender else "customer"
        speaker = row.agent_id if role == "agent" else row.customer_id
        step = 10  # windows slide by 1 s: every 10th is a disjoint 10 s utterance
        win = stream_windows(stream.audio)
        utts = win.windows[:0] if win.padded else win.windows[::step]
        for i, w in enumerate(utts):
            np.save(cdir / f"{role}-{i:04d}.npy", np.ascontiguousarray(w, dtype=np.float32))
        out.append(
            {
                "speaker": speaker,
                "role": role,
                "gender": gender,
                "talk_time_s": stream.talk_time_s,
                "utterances": len(utts),
            }
        )
    return out


def _run_phase1(
    rows: list[CallRow], archive: Path, work: Path, opts: BuildOptions
) -> list[dict[str, Any]]:
    bar = tqdm(total=len(rows), desc="calls", unit="call", disable=not opts.progress)
    outcomes: list[dict[str, Any]] = []
    if opts.workers <= 1:
        for row in rows:
            outcomes.append(process_call(row, archive, work, opts))
            bar.update()
    else:
        ctx = mp.get_context("spawn")
        with ctx.Pool(opts.workers) as pool:
            args = [(row, archive, work, opts) for row in rows]
            for oc in pool.imap_unordered(_star_process, args):
                outcomes.append(oc)
                bar.update()
    bar.close()
    order = {r.call_id: i for i, r in enumerate(rows)}
    return sorted(outcomes, key=lambda o: order[o["call_id"]])


def _star_process(args: tuple[CallRow, Path, Path, BuildOptions]) -> dict[str, Any]:
    return process_call(*args)


def _check_rows(rows: list[CallRow], source: str) -> None:
    if not rows:
        raise DatasetError(f"call table {source} has no rows")
    dupes = [c for c, n in Counter(r.call_id for r in rows).items() if n > 1 and c]
    if dupes:
        raise DatasetError(f"call table {source} repeats call_id(s): {', '.join(dupes[:5])}")


def build_dataset(
    archive: Path, calls: str | Path, out: Path, opts: BuildOptions = BuildOptions()
) -> BuildResult:
    """Run DBAS end to end; resumes from ``<out>/.work`` when interrupted."""
    if not Path(archive).is_dir():
        raise DatasetError(f"archive folder {archive} does not exist")
    rows = read_calls(calls, opts.table)
    _check_rows(rows, str(calls))
    rows = rows[: opts.limit] if opts.limit else rows
    work = opts.work or Path(out) / WORK
    work.mkdir(parents=True, exist_ok=True)
    outcomes = _run_phase1(rows, Path(archive), work, opts)
    keys = {r.call_id: call_key(r, opts) for r in rows}
    skipped = {o["call_id"]: o["reason"] for o in outcomes if o["status"] != "kept"}
    kept = [o for o in outcomes if o["status"] == "kept"]
    if not kept:
        reasons = Counter(r.split(":")[0].split(" (")[0] for r in skipped.values())
        raise DatasetError(
            f"no usable call among {len(rows)}: DBAS needs 60-600 s calls with one female and "
            f"one male speaker; skip reasons: {dict(reasons)}",
            code="no_usable_call",
        )
    speakers, dropped = _collect_speakers(kept)
    if not speakers:
        raise DatasetError(
            "every speaker was dropped for gender conflicts: "
            + "; ".join(f"{k}: {v}" for k, v in dropped.items())
        )
    split = split_speakers(speakers, opts.validation_fraction, opts.seed)
    _write_tree(Path(out), work, kept, speakers, split, keys)
    stats = table_stats(speakers, split)
    result = BuildResult(Path(out), len(rows), len(kept), skipped, dropped, stats)
    report = {
        "calls": len(rows),
        "kept_calls": len(kept),
        "skipped": skipped,
        "dropped_speakers": dropped,
        "stats": stats,
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(opts).items()},
    }
    (Path(out) / "dbas_report.json").write_text(json.dumps(report, indent=2) + "\n")
    return result


def _collect_speakers(kept: list[dict[str, Any]]) -> tuple[dict[str, SpeakerInfo], dict[str, str]]:
    """Speakers across calls; a speaker labelled with two genders (or two roles) is dropped."""
    info: dict[str, SpeakerInfo] = {}
    genders: dict[str, set[str]] = {}
    roles: dict[str, set[str]] = {}
    for o in kept:
        for s in o["speakers"]:
            key = s["speaker"]
            genders.setdefault(key, set()).add(s["gender"])
            roles.setdefault(key, set()).add(s["role"])
            si = info.setdefault(key, SpeakerInfo(key, s["role"], s["gender"], 0, []))
            si.utterances += s["utterances"]
            si.calls.append(o["call_id"])
    dropped: dict[str, str] = {}
    for key in list(info):
        if len(genders[key]) > 1:
            dropped[key] = (
                f"labelled {' and '.join(sorted(genders[key]))} across calls "
                f"{', '.join(info[key].calls)}"
            )
        elif len(roles[key]) > 1:
            dropped[key] = "appears as agent and customer"
        elif info[key].utterances == 0:
            dropped[key] = "no 10 s utterance (under 10 s of speech in every call)"
        if key in dropped:
            del info[key]
    return info, dropped


def _write_tree(
    out: Path,
    work: Path,
    kept: list[dict[str, Any]],
    speakers: dict[str, SpeakerInfo],
    split: dict[str, str],
    keys: dict[str, str],
) -> None:
    """Hard-link (or copy) every kept utterance into the tree; numbering follows call order."""
    for name in ("train", "validation"):
        shutil.rmtree(out / name, ignore_errors=True)
    counters: Counter[str] = Counter()
    for o in kept:
        cdir = work / keys[o["call_id"]]
        for s in o["speakers"]:
            si = speakers.get(s["speaker"])
            if si is None:
                continue
            dest = out / split[si.speaker] / si.role / si.gender / safe_name(si.speaker)
            dest.mkdir(parents=True, exist_ok=True)
            for i in range(s["utterances"]):
                src = cdir / f"{s['role']}-{i:04d}.npy"
                target = dest / f"{counters[si.speaker]}.npy"
                counters[si.speaker] += 1
                try:
                    os.link(src, target)
                except OSError:
                    shutil.copyfile(src, target)
