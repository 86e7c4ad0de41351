"""``callroles bench recurring``: the call centre's recordings learnt from its archive
(``callroles sounds learn``, ``callroles.sounds.recurring``), with no file given.

Data (SYNTHETIC calls of real voices): two corpora of one call centre (``simulate
--real-voices --sounds debian --house-sounds 1``: LibriSpeech readers, who never repeat a turn
across agents, with the same greeting, hold prompt and music-on-hold track in every call): an
archive (seed 7201, 60 calls) to learn from and held-out calls (seed 7202, 20 calls) to measure
on. Per library (none, learnt, and Debian's whole library given as known sounds):
- fingerprint level (``known_bench.measure``): seconds of music and announcements found,
  seconds of a speaker's speech taken for a sound;
- the whole front end (``eval_diarization``): DER, talk time within 5%, background as talk.
Guards: what the learnt library finds in the real recordings (none of them hold its sounds), and
what learning finds when the real recordings themselves are the archive (nothing recurs there).
Also bench eval's held-out set as an archive (no call centre's own recordings: nothing to
learn), and a TTS archive of the same call centre (MBROLA voices, seed 7101, 40 calls), where the
simulator's voices repeat sentences bit for bit under several agents, which people do not.
Writes ``bench/results/recurring.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from callroles.base.settings import Settings, get_settings
from callroles.bench.eval_bench import SHARED, held_out_sources_corpus
from callroles.bench.evaluation import evaluate_dir
from callroles.bench.known_bench import LIBRARY, measure, real_false_alarms
from callroles.bench.paths import REFERENCE_DIR, RESULTS_DIR
from callroles.call.pipeline import Models
from callroles.frontend.known import KnownSounds
from callroles.lab.simulate import generate_corpus, generator_fingerprint
from callroles.lab.simulate.real_voices import generate_real_corpus
from callroles.sounds.recurring import (
    Learnt,
    archive_calls,
    find_recurring,
    fingerprint_archive,
    learn,
    silero_kind,
    write_library,
)

RESULTS = RESULTS_DIR / "recurring.json"
VOICES = SHARED / "speakers" / "librispeech"
HOUSE = 1
ARCHIVE_SIZES = (5, 10, 20, 40)


def _corpus(settings: Settings, kind: str, seed: int, calls: int) -> Path:
    """A cached corpus of call centre ``HOUSE``: real voices, or MBROLA voices ("tts")."""
    out = settings.home / "bench-cache" / f"house{HOUSE}-{kind}-{calls}-seed{seed}-"
    out = out.with_name(out.name + generator_fingerprint())
    if not (out / "calls.csv").is_file():
        if kind == "rv":
            generate_real_corpus(
                out, VOICES, calls=calls, seed=seed, random_paths=True, varied_lines=True,
                house_sounds=HOUSE,
            )  # fmt: skip
        else:
            generate_corpus(
                out, calls=calls, seed=seed, engines=("mbrola",), lines="varied",
                sounds="debian", random_paths=True, house_sounds=HOUSE,
            )  # fmt: skip
    return out


def _learnt(got: Learnt, seconds: float) -> dict[str, Any]:
    return {
        "calls": got.calls,
        "learn_s": round(seconds, 1),
        "sounds": [{k: v for k, v in s.to_dict().items() if k != "plays"} for s in got.sounds],
    }


def _front_end(settings: Settings, corpus: Path, known: str | None) -> dict[str, Any]:
    front = Models(settings.model_copy(update={"known_sounds": known}))
    total = evaluate_dir(corpus / "audio", front, corpus / "truth")["total"]
    keep = ("der", "talk_time_within_5pct", "talk_time_error_median", "background_as_talk_s",
            "background_by_kind")  # fmt: skip
    return {k: total.get(k) for k in keep}


def _archive_sizes(settings: Settings, archive: Path, held: Path) -> list[dict[str, Any]]:
    """How many calls an archive needs: learn from its first n calls, measure on the held-out."""
    prints = fingerprint_archive(archive_calls(archive))
    kind = silero_kind(settings)
    rows = []
    for n in ARCHIVE_SIZES:
        if n > len(prints.calls):
            break
        part = prints.head(n)
        sounds = find_recurring(part)
        row: dict[str, Any] = {"calls": n, "sounds": len(sounds)}
        if sounds:
            with tempfile.TemporaryDirectory() as tmp:
                write_library(sounds, part.calls, Path(tmp) / "lib", kind)
                index = KnownSounds.build([Path(tmp) / "lib"])
                got = measure(index, held, [index.spec])[0]
            row |= {k: got[k] for k in ("recall", "false_on_speech_s")}
        rows.append(row)
    return rows


def _real_archive(settings: Settings, out: Path) -> dict[str, Any]:
    """Learn from the real recordings as if they were one archive: nothing recurs in them."""
    files = [p for folder in (SHARED / "real-calls" / "callytics",
                              SHARED / "diarization" / "pyaudioanalysis",
                              REFERENCE_DIR)
             if folder.is_dir() for p in sorted(folder.iterdir())
             if p.suffix in (".wav", ".mp3")]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for p in files:
            os.symlink(p, Path(tmp) / f"{p.parent.name}-{p.name}")
        got = learn(Path(tmp), out, settings)
    return {"files": [p.name for p in files], "sounds": len(got.sounds)}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="callroles bench recurring")
    p.add_argument("--archive-calls", type=int, default=60)
    p.add_argument("--calls", type=int, default=20, help="held-out calls measured on")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if not VOICES.is_dir() or not all(f.is_dir() for f in LIBRARY):
        print(f"needs the real voices ({VOICES}, ../shared/: not in a user's clone) and the "
              f"Debian sounds ({LIBRARY}: make setup); skipped")  # fmt: skip
        return 2
    settings = get_settings()
    cache = settings.home / "bench-cache"
    archive = _corpus(settings, "rv", 7201, args.archive_calls)
    held = _corpus(settings, "rv", 7202, args.calls)
    library = cache / f"house{HOUSE}-learnt-{archive.name}"
    t0 = time.perf_counter()
    got = learn(archive, library, settings)
    learn_s = time.perf_counter() - t0
    learnt = KnownSounds.build([library])
    debian = KnownSounds.load(os.pathsep.join(map(str, LIBRARY)), cache.parent / "cache")
    report: dict[str, Any] = {
        "benchmark": "recurring",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "data": "SYNTHETIC calls of real voices (LibriSpeech) with one call centre's Debian "
        f"recordings: archive seed 7201 ({args.archive_calls} calls), held out seed 7202 "
        f"({args.calls} calls)",
        "learnt": _learnt(got, learn_s),
        "fingerprint_held_out": {
            "learnt": measure(learnt, held, [learnt.spec])[0],
            "debian_library_given": measure(debian, held, [debian.spec])[0],
        },
        "real_recordings_found_s": real_false_alarms(learnt),
    }
    print(json.dumps(report, indent=1, default=float), flush=True)
    report["archive_sizes"] = _archive_sizes(settings, archive, held)
    print(json.dumps(report["archive_sizes"], indent=1, default=float), flush=True)
    report["real_recordings_as_archive"] = _real_archive(settings, cache / "recurring-real-lib")
    mixed = held_out_sources_corpus(settings)  # bench eval's held-out set: no call centre's own
    got_mixed = learn(mixed, cache / "recurring-heldout-lib", settings)
    report["held_out_set_as_archive"] = {
        "data": "SYNTHETIC: bench eval's held-out set (MBROLA, seed 4343, 20 calls): each call "
        "draws its own prompt (of 358) and a hold-music track at a random offset",
        **_learnt(got_mixed, 0.0),
    }
    report["front_end_held_out"] = {
        "none": _front_end(settings, held, None),
        "learnt": _front_end(settings, held, str(library)),
        "debian_library_given": _front_end(settings, held, os.pathsep.join(map(str, LIBRARY))),
    }
    tts_archive = _corpus(settings, "tts", 7101, 40)
    tts_held = _corpus(settings, "tts", 7102, args.calls)
    tts_library = cache / f"house{HOUSE}-learnt-{tts_archive.name}"
    t0 = time.perf_counter()
    tts_got = learn(tts_archive, tts_library, settings)
    report["tts"] = {
        "data": "SYNTHETIC TTS calls (MBROLA) of the same call centre: archive seed 7101 (40 "
        f"calls), held out seed 7102 ({args.calls} calls); its customers' voices and sentences "
        "repeat bit for bit across calls and agents",
        "learnt": _learnt(tts_got, time.perf_counter() - t0),
        "fingerprint_held_out": measure(KnownSounds.build([tts_library]), tts_held, [learnt.spec])[
            0
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=float) + "\n")
    keys = ("real_recordings_as_archive", "front_end_held_out", "tts")
    print(json.dumps({k: report[k] for k in keys}, indent=1, default=float))
    print(f"wrote {args.out}")
    return 0
