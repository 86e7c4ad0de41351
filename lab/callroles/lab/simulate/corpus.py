"""Generate a corpus folder (layout in docs/simulate.md ("The corpus folder")): audio, metadata
table, ground truth.

Everything is written into a hidden sibling folder and renamed into place at the end, so a failed
or interrupted run leaves nothing half-written under the requested name.
"""

from __future__ import annotations

import csv
import hashlib
import json
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
from pyannote.core import Annotation, Segment
from tqdm import tqdm

from callroles.lab.simulate.agents import write_agent_samples
from callroles.lab.simulate.channel import LINE_KINDS, Line, draw_line, write_audio
from callroles.lab.simulate.dialogue import CallPlan, render
from callroles.lab.simulate.errors import SimulateInputError
from callroles.lab.simulate.plan import PRESETS, draw_plan
from callroles.lab.simulate.sounds import REAL_SOUNDS, SOUND_KINDS, game_music_files, music_files
from callroles.lab.simulate.summary import CorpusSummary
from callroles.lab.simulate.voices import catalog, check_languages

GENERATOR_VERSION = "sim-1"
FORMATS = ("gsm", "wav")
CSV_FIELDS = (
    "call_id",
    "file",
    "started_at",
    "duration_s",
    "agent_id",
    "agent_gender",
    "customer_id",
    "language",
    "channels",
)
_SQL_TABLE = (
    "CREATE TABLE IF NOT EXISTS calls (\n  call_id TEXT PRIMARY KEY,\n  file TEXT NOT NULL,\n"
    "  started_at TEXT NOT NULL,\n  duration_s REAL NOT NULL,\n  agent_id TEXT NOT NULL,\n"
    "  agent_gender TEXT NOT NULL,\n  customer_id TEXT NOT NULL,\n  language TEXT NOT NULL,\n"
    "  channels INTEGER NOT NULL\n);\n"
)


def generator_fingerprint() -> str:
    """Version plus a hash of this package's code: caches of generated corpora key on it."""
    digest = hashlib.sha1(GENERATOR_VERSION.encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return f"{GENERATOR_VERSION}-{digest.hexdigest()[:10]}"


def line_of(line: Line) -> dict:
    """A phone line's codec and faults as the truth JSON records them."""
    return {"codec": line.codec, "loss": line.loss, "level_steps": line.level_steps}


def truth_of(plan: CallPlan, segments: list[dict], events: list[dict], duration_s: float) -> dict:
    """The truth JSON of one call (talk time summed from the segments)."""
    speakers = {}
    for party in (plan.agent, plan.customer):
        talk = sum(s["end"] - s["start"] for s in segments if s["speaker"] == party.speaker_id)
        speakers[party.speaker_id] = {
            "role": party.role,
            "gender": party.gender,
            "talk_time_s": round(talk, 3),
            "voice": party.voice.name,
        }
    return {
        "call_id": plan.call_id,
        "duration_s": round(duration_s, 3),
        "channels": plan.channels,
        "language": plan.language,
        "same_gender": plan.agent.gender == plan.customer.gender,
        "paths": {"agent": plan.paths[0], "customer": plan.paths[1]},
        "lines": {"agent": line_of(plan.lines[0]), "customer": line_of(plan.lines[1])},
        "sounds": plan.sounds,
        "speakers": speakers,
        "segments": segments,
        "events": events,
    }


def rttm_of(call_id: str, segments: list[dict]) -> str:
    """The truth's speaker turns as RTTM (written by pyannote.core)."""
    truth = Annotation(uri=call_id)
    for i, s in enumerate(segments):
        truth[Segment(s["start"], s["end"]), i] = s["speaker"]
    return str(truth.to_rttm())


def _render_one(plan: CallPlan, folder: str, audio_format: str) -> tuple[dict, dict]:
    """Render and write one call; runs in a worker process."""
    call = render(plan)
    ext = "wav" if plan.channels == 2 else audio_format
    rel = f"audio/{plan.call_id}.{ext}"
    write_audio(Path(folder) / rel, call.audio)
    truth = truth_of(plan, call.segments, call.events, call.duration_s)
    (Path(folder) / "truth" / f"{plan.call_id}.json").write_text(json.dumps(truth, indent=1))
    (Path(folder) / "truth" / f"{plan.call_id}.rttm").write_text(
        rttm_of(plan.call_id, call.segments)
    )
    row = {
        "call_id": plan.call_id,
        "file": rel,
        "started_at": plan.started_at,
        "duration_s": f"{call.duration_s:.3f}",
        "agent_id": plan.agent.speaker_id,
        "agent_gender": plan.agent.gender,
        "customer_id": plan.customer.speaker_id,
        "language": plan.language,
        "channels": plan.channels,
    }
    return row, truth


def _sql_value(v: object) -> str:
    if isinstance(v, int | float):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def _write_tables(folder: Path, rows: list[dict]) -> None:
    with (folder / "calls.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    lines = [_SQL_TABLE]
    for r in rows:
        vals = ", ".join(_sql_value(float(r[k]) if k == "duration_s" else r[k]) for k in CSV_FIELDS)
        lines.append(f"INSERT INTO calls ({', '.join(CSV_FIELDS)}) VALUES ({vals});\n")
    (folder / "calls.sql").write_text("".join(lines))


def check_options(
    out: Path, calls: int, preset: str, audio_format: str, stereo_fraction: float
) -> None:
    """Refuse bad options before any work starts."""
    if not isinstance(calls, int) or calls <= 0:
        raise SimulateInputError(
            f"--calls must be a positive integer, got {calls!r}", code="bad_call_count"
        )
    if preset not in PRESETS:
        raise SimulateInputError(
            f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}", code="unknown_preset"
        )
    if audio_format not in FORMATS:
        raise SimulateInputError(
            f"unknown format {audio_format!r}; choose gsm or wav", code="unknown_format"
        )
    if not 0.0 <= stereo_fraction <= 1.0:
        raise SimulateInputError(
            f"--stereo-fraction must be in [0, 1], got {stereo_fraction}",
            code="bad_stereo_fraction",
        )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SimulateInputError(
            f"output folder {out} exists and is not empty; choose a new folder or remove it",
            code="output_not_empty",
        )


def _check_kinds(lines: str, sounds: str) -> None:
    if lines not in LINE_KINDS:
        raise SimulateInputError(
            f"unknown line kind {lines!r}; choose from {', '.join(LINE_KINDS)}",
            code="unknown_lines",
        )
    if sounds not in SOUND_KINDS:
        raise SimulateInputError(
            f"unknown sounds {sounds!r}; choose from {', '.join(SOUND_KINDS)}",
            code="unknown_sounds",
        )
    if sounds == "debian":
        music_files()  # missing packages fail here, before any call is rendered
    if sounds == "training":
        game_music_files()


def generate_corpus(
    out: Path,
    *,
    calls: int,
    seed: int,
    preset: str = "default",
    audio_format: str = "gsm",
    stereo_fraction: float = 0.0,
    languages: tuple[str, ...] | None = None,
    progress: bool = False,
    engines: tuple[str, ...] | None = None,
    workers: int | None = None,
    agent_samples: bool = False,
    random_paths: bool = False,
    lines: str = "classic",
    sounds: str = "synthetic",
    house_sounds: int | None = None,
) -> CorpusSummary:
    """Write a synthetic call-center corpus to ``out``; same seed and options, same files.

    ``agent_samples`` also writes ``agents/<agent_id>.wav``, each agent alone (for enrolment;
    callroles.lab.simulate.agents); the calls are the same either way. ``random_paths`` draws each
    party's acoustic path (headset or phone line) at random, per call, so the channel no longer
    tells the roles apart (the voices, scripts and timing are the same as without it).
    ``lines="varied"`` gives each phone line a codec, lost packets and level changes drawn per call
    (callroles.lab.simulate.codecs); ``sounds="debian"`` uses real hold music and recorded
    announcements (callroles.lab.simulate.sounds); ``house_sounds`` (an id) makes the corpus one
    call centre that plays the same recordings in every call (``callroles sounds learn`` finds
    them). The defaults reproduce older corpora exactly.
    """
    out = Path(out)
    check_options(out, calls, preset, audio_format, stereo_fraction)
    _check_kinds(lines, sounds)
    if house_sounds is not None and sounds not in REAL_SOUNDS:
        raise SimulateInputError(
            "--house-sounds needs recorded sounds: add --sounds debian or --sounds training",
            code="unknown_sounds",
        )
    langs = check_languages(languages)
    voices = catalog(langs, engines)
    plans = draw_plan(
        calls=calls,
        seed=seed,
        preset=preset,
        voices=voices,
        languages=langs,
        stereo_fraction=stereo_fraction,
    )
    if random_paths:
        draw = np.random.default_rng([seed, 11])
        kinds = ("headset", "phone")
        plans = [
            replace(p, paths=(kinds[int(draw.integers(2))], kinds[int(draw.integers(2))]))
            for p in plans
        ]
    if lines == "varied":
        draw = np.random.default_rng([seed, 13])
        plans = [replace(p, lines=(draw_line(draw), draw_line(draw))) for p in plans]
    if sounds != "synthetic":
        plans = [replace(p, sounds=sounds, house=house_sounds) for p in plans]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "audio").mkdir(parents=True)
    (tmp / "truth").mkdir()
    summary = CorpusSummary(out=out)
    start = time.perf_counter()
    try:
        results = _render_all(plans, tmp, audio_format, progress, workers)
        rows = [r for r, _ in results]
        _write_tables(tmp, rows)
        if agent_samples:
            write_agent_samples(plans, tmp / "agents")
        for _, truth in results:
            summary.add_call(truth)
        (tmp / "corpus.json").write_text(
            json.dumps(
                {
                    "generator": GENERATOR_VERSION,
                    "seed": seed,
                    "preset": preset,
                    "calls": calls,
                    "audio_format": audio_format,
                    "stereo_fraction": stereo_fraction,
                    "random_paths": random_paths,
                    "lines": lines,
                    "sounds": sounds,
                    **({"house_sounds": house_sounds} if house_sounds is not None else {}),
                    "languages": list(langs),
                    "engines": list(engines or ()),
                },
                indent=1,
            )
        )
        check_options(out, calls, preset, audio_format, stereo_fraction)  # still free?
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    summary.wall_s = time.perf_counter() - start
    return summary


def _render_all(
    plans: list[CallPlan], tmp: Path, audio_format: str, progress: bool, workers: int | None
) -> list[tuple[dict, dict]]:
    n_workers = workers or min(2, os.cpu_count() or 1, len(plans))
    bar = tqdm(total=len(plans), unit="call", disable=not progress, desc="simulate")
    results: list[tuple[dict, dict]] = []
    try:
        if n_workers <= 1:
            for plan in plans:
                results.append(_render_one(plan, str(tmp), audio_format))
                bar.update(1)
        else:
            ctx = multiprocessing.get_context("spawn")  # safe even when TensorFlow is loaded
            pool = ProcessPoolExecutor(n_workers, mp_context=ctx)
            try:
                futures = [pool.submit(_render_one, p, str(tmp), audio_format) for p in plans]
                for fut in futures:
                    results.append(fut.result())
                    bar.update(1)
            finally:  # on a failure, do not wait for the calls still queued
                pool.shutdown(wait=True, cancel_futures=True)
    finally:
        bar.close()
    return results
