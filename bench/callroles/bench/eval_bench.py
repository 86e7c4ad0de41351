"""``callroles bench eval``: the front end on real audio and on synthetic calls, in one run.

Runs ``callroles eval diarization``'s measurement on: the real calls with manual annotation
(``../shared/data/real-calls/callytics``), the real multi-speaker recordings
(``../shared/data/diarization/pyaudioanalysis``), inaSpeechSegmenter's own reference files
(``tests/data/reference``: music, noise, speech), the synthetic test corpus (seed 1234,
small preset), held-out MBROLA calls with Debian's hold music and prompts, and generated calls
of real LibriSpeech voices (alone, on hold with Debian's five music-on-hold tracks, and in
quick-turn conversations with interruptions and backchannels, a development and a held-out
seed). Writes
``bench/results/eval-diarization.json``. The real data lives in the project's shared folder,
not in a user's clone: a set that is absent is reported as absent.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

from callroles.base.settings import SHARED_DATA, Settings, get_settings
from callroles.bench.evaluation import evaluate_dir, format_report
from callroles.bench.paths import REFERENCE_DIR, RESULTS_DIR
from callroles.call.pipeline import Models
from callroles.lab.simulate import generate_corpus, generator_fingerprint
from callroles.lab.simulate.real_voices import generate_real_corpus

RESULTS = RESULTS_DIR / "eval-diarization.json"
SHARED = SHARED_DATA


def real_voice_corpus(settings: Settings) -> Path | None:
    """The 12 mono calls of real LibriSpeech voices (seed 7), generated once and cached; None
    when the voices are absent (they are in ../shared, not in a user's clone)."""
    voices = SHARED / "speakers" / "librispeech"
    if not voices.is_dir():
        return None
    real = settings.home / "bench-cache" / f"eval-real-voices-12-seed7-{generator_fingerprint()}"
    if not (real / "calls.csv").is_file():
        generate_real_corpus(real, voices, calls=12, seed=7, stereo_fraction=0.0)
    return real


#: the first house numbers that between them play each of Debian's five hold-music tracks
HOLD_HOUSES = (1, 2, 3, 4, 8)
REAL_VOICES_HOLD = (
    "real voices on hold (LibriSpeech readers; Debian's five hold-music tracks and an English "
    "prompt, one call centre per track; varied lines; the calls are generated, seeds 81-88)"
)


def real_voice_hold_corpus(settings: Settings, calls_per_house: int = 6) -> Path | None:
    """Real voices next to real hold music: for each of Debian's five music-on-hold tracks, one
    call centre's calls (``simulate --real-voices --sounds debian --house-sounds H``), in one
    folder as ``h<H>-callNNNNN``; None when the voices are absent."""
    voices = SHARED / "speakers" / "librispeech"
    if not voices.is_dir():
        return None
    out = settings.home / "bench-cache" / f"eval-real-voices-hold-{generator_fingerprint()}"
    if (out / "complete").is_file():
        return out
    for sub in ("audio", "truth"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for house in HOLD_HOUSES:
        part = out / "parts" / f"house{house}"
        if not (part / "calls.csv").is_file():
            shutil.rmtree(part, ignore_errors=True)
            generate_real_corpus(
                part, voices, calls=calls_per_house, seed=80 + house, varied_lines=True,
                house_sounds=house,
            )  # fmt: skip
        for sub in ("audio", "truth"):
            for f in sorted((part / sub).iterdir()):
                shutil.copyfile(f, out / sub / f"h{house}-{f.name}")
    (out / "complete").write_text("")
    return out


HELD_OUT_SOURCES = (
    "held-out voices (MBROLA: diphones of real people; varied codecs; Debian music and "
    "announcements; random paths; SYNTHETIC, seed 4343)"
)


def held_out_sources_corpus(settings: Settings, calls: int = 20, seed: int = 4343) -> Path:
    """Generated calls in voices no model of ours is trained on (MBROLA, whose licence keeps it
    out of training: docs/simulate.md), with varied codecs and faults, real hold music and
    announcements, and random paths."""
    corpus = (
        settings.home
        / "bench-cache"
        / f"heldout-sources-{calls}-seed{seed}-{generator_fingerprint()}"
    )
    if not (corpus / "calls.csv").is_file():
        generate_corpus(
            corpus, calls=calls, seed=seed, engines=("mbrola",), lines="varied",
            sounds="debian", random_paths=True,
        )  # fmt: skip
    return corpus


#: quick-turn conversations of real readers: decisions look at the development seed only; the
#: held-out seed is reported beside it and never tuned on
QUICK_SEEDS = {"development": 3601, "held-out": 3602}


def quick_turn_corpus(settings: Settings, seed: int, calls: int = 16) -> Path | None:
    """Real LibriSpeech readers in quick-turn conversations (``simulate --real-voices
    --quick-turns``), generated once and cached; None when the voices are absent."""
    voices = SHARED / "speakers" / "librispeech"
    if not voices.is_dir():
        return None
    name = f"quick-turns-{calls}-seed{seed}-{generator_fingerprint()}"
    out = settings.home / "bench-cache" / name
    if not (out / "calls.csv").is_file():
        shutil.rmtree(out, ignore_errors=True)
        generate_real_corpus(out, voices, calls=calls, seed=seed, quick_turns=True)
    return out


def eval_sets(settings: Settings) -> list[tuple[str, Path, Path | None, str]]:
    """(name, audio folder, reference folder or None, what kind of data) for every set."""
    corpus = settings.home / "bench-cache" / f"eval-small-seed1234-{generator_fingerprint()}"
    if not (corpus / "calls.csv").is_file():
        generate_corpus(corpus, calls=5, seed=1234, preset="small")
    sets = [
        ("real calls (Callytics)", SHARED / "real-calls" / "callytics", None, "real"),
        ("real recordings (pyAudioAnalysis)", SHARED / "diarization" / "pyaudioanalysis", None,
         "real; contiguous reference turns, pauses included"),
        ("inaSpeechSegmenter reference", REFERENCE_DIR, None,
         "real (MUSAN music, noise, speech); reference is ina's own output"),
        ("test corpus (seed 1234)", corpus / "audio", corpus / "truth", "SYNTHETIC"),
    ]  # fmt: skip
    held = held_out_sources_corpus(settings)
    sets.append((HELD_OUT_SOURCES, held / "audio", held / "truth", "SYNTHETIC"))
    real = real_voice_corpus(settings)
    if real is not None:  # real voices, generated calls (simulate --real-voices), 12 calls
        sets.append(
            ("real voices in generated calls (LibriSpeech, seed 7)", real / "audio",
             real / "truth", "real voices (LibriSpeech readers); the calls are generated"),
        )  # fmt: skip
    hold = real_voice_hold_corpus(settings)
    if hold is not None:
        sets.append((REAL_VOICES_HOLD, hold / "audio", hold / "truth",
                     "real voices and real hold music; the calls are generated"))  # fmt: skip
    for part, seed in QUICK_SEEDS.items():
        quick = quick_turn_corpus(settings, seed)
        if quick is not None:
            sets.append(
                (f"quick turns of real readers ({part}, seed {seed})", quick / "audio",
                 quick / "truth", "real voices (LibriSpeech readers); the calls are generated"),
            )  # fmt: skip
    return sets


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="callroles bench eval")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument(
        "--speaker-count",
        choices=("two-or-more", "two", "auto"),
        default=None,
        help="two voices unless more are counted, always two, or count them (default: the "
        "setting); two and auto write eval-diarization-speakers-{two,auto}.json",
    )
    p.add_argument(
        "--known-sounds",
        default=None,
        metavar="FOLDERS",
        help="the call centre's own music and announcements (CALLROLES_KNOWN_SOUNDS); "
        "writes eval-diarization-known-sounds.json",
    )
    args = p.parse_args(argv)
    settings = get_settings()
    overrides = {"speaker_count": args.speaker_count, "known_sounds": args.known_sounds}
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v})
    name = "eval-diarization"
    if settings.speaker_count != "two-or-more":  # the default has the plain name
        name += f"-speakers-{settings.speaker_count}"
    name += "-known-sounds" if settings.known_sounds else ""
    out = args.out or RESULTS.with_name(name + ".json")
    models = Models(settings)
    report: dict[str, Any] = {
        "benchmark": "eval-diarization",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "speaker_count": settings.speaker_count,
        "known_sounds": settings.known_sounds,
        "activity_model": models.activity.version if models.activity is not None else None,
        "music_check": models.music.version if models.music is not None else None,
        "sets": {},
    }
    for name, folder, refs, kind in eval_sets(settings):
        if not folder.is_dir():
            print(f"{name}: absent ({folder}); skipped")
            report["sets"][name] = {"absent": str(folder)}
            continue
        result = evaluate_dir(folder, models, refs)
        result["data"] = kind
        report["sets"][name] = result
        print(f"== {name} [{kind}]\n{format_report(result)}", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")
    return 0
