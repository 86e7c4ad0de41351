"""``callroles bench badcalls``: calls a worker meets that are not two people talking, made from
real sources, and what the result says about each: one LibriSpeech reader alone, Debian's hold
music alone, one second of a reader, three readers taking turns, a call transferred to a second
agent (the customer stays), and a 60-minute call (the longest a worker takes,
``max_duration_s``) strung from the quick-turn conversations.

Each runs through ``run_call`` in a process of its own, with the models loaded first; the peak
resident memory of each stage is read from ``VmHWM`` and reset after it (``/proc/self/clear_refs``),
so the figure is the stage's own peak and not a sampler's guess. Writes
``bench/results/badcalls.json``. The sources live in ``../shared`` and Debian's
``asterisk-moh-opsound-wav``: a source that is absent is reported as absent.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from callroles.base.settings import SHARED_DATA, get_settings
from callroles.bench.eval_bench import QUICK_SEEDS, quick_turn_corpus
from callroles.bench.paths import RESULTS_DIR

RESULTS = RESULTS_DIR / "badcalls.json"
LIBRI = SHARED_DATA / "speakers" / "librispeech" / "test-other"
HOLD_MUSIC = Path("/usr/share/asterisk/moh/macroform-cold_day.wav")
GSM_BYTES_PER_S = 1650  # 50 frames of 33 bytes
LONG_S = 3590
#: the transfer call's turns (s), agent first, in each half
TRANSFER_TURNS_S = (4.0, 3.0, 6.0, 2.0, 3.0, 5.0, 2.5, 4.0, 5.0, 3.0)

# run in a child process: one call, each stage's peak RSS (MB) and the result's essentials
PROBE = """
import json, sys
from pathlib import Path
from callroles.base.settings import get_settings
from callroles.call.pipeline import Models, run_call
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) // 1024
def reset():
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
models = Models(get_settings()); models.encoder
peaks = {"models": hwm()}; reset()
def hook(stage, artefact):
    peaks[stage] = hwm(); reset()
r = run_call(Path(sys.argv[1]), {"call_id": "bad"}, models, hook=hook)
out = {"peak_rss_mb": peaks}
if isinstance(r, dict) and "speakers" in r:
    out |= {"flags": r["flags"], "duration_s": r["duration_s"],
            "speakers": [[s["speaker"], s["role"], s["talk_time_s"]] for s in r["speakers"]],
            "music_s": r["call"]["music_s"], "overlap_method": r["call"]["overlap_method"],
            "latency_s": r["latency_s"].get("total")}
else:
    out["error"] = getattr(r, "code", repr(r))
print(json.dumps(out))
"""


def _sox(*args: str) -> None:
    subprocess.run(
        ["sox", "-D", *args], check=True, capture_output=True
    )  # no dither: the same calls each run


def _transfer(readers: list[Path], out: Path) -> Path:
    """An agent and a customer take turns of 2-6 s for about 40 s, then a second agent takes the
    call and the same customer goes on for about 40 s more (readers: agent, customer, agent)."""
    whole = []
    for k, reader in enumerate(readers):  # each reader's first six utterances, end to end
        whole.append(out / f"reader{k}.wav")
        _sox(*map(str, sorted(reader.glob("*.flac"))[:6]), "-r", "8000", "-c", "1", str(whole[-1]))
    used = [0.0, 0.0, 0.0]
    parts: list[str] = []
    for half, agent in ((0, 0), (1, 2)):
        for n, turn_s in enumerate(TRANSFER_TURNS_S):
            who = agent if n % 2 == 0 else 1
            part = out / f"transfer{half}-{n}.wav"
            _sox(str(whole[who]), str(part), "trim", f"{used[who]:.2f}", f"{turn_s:.2f}", "pad",
                 "0", "0.4")  # fmt: skip
            used[who] += turn_s
            parts.append(str(part))
    _sox(*parts, str(out / "transfer.gsm"))
    return out / "transfer.gsm"


def make_calls(out: Path) -> dict[str, Path | None]:
    """The bad calls as GSM 6.10 files in ``out``; None for one whose source is absent."""
    calls: dict[str, Path | None] = dict.fromkeys(
        (
            "one_speaker",
            "hold_music_only",
            "one_second",
            "three_voices",
            "transfer",
            "sixty_minutes",
        )
    )
    readers = sorted(p for p in LIBRI.iterdir() if p.is_dir()) if LIBRI.is_dir() else []
    if len(readers) >= 3:
        first = sorted(readers[0].glob("*.flac"))
        _sox(*map(str, first[:4]), "-r", "8000", "-c", "1", str(out / "one_speaker.gsm"))
        calls["one_speaker"] = out / "one_speaker.gsm"
        one = str(out / "one_second.gsm")
        _sox(str(first[0]), "-r", "8000", "-c", "1", one, "trim", "0.3", "1")
        calls["one_second"] = out / "one_second.gsm"
        parts: list[str] = []
        for k in range(3):  # three readers, 4 s each, in turn, three rounds
            for who in readers[:3]:
                part = out / f"part{len(parts)}.wav"
                flac = sorted(who.glob("*.flac"))[k]
                _sox(str(flac), "-r", "8000", "-c", "1", str(part), "trim", "0", "4", "pad", "0",
                     "0.3")  # fmt: skip
                parts.append(str(part))
        _sox(*parts, str(out / "three_voices.gsm"))
        calls["three_voices"] = out / "three_voices.gsm"
        calls["transfer"] = _transfer(readers[:3], out)
    if HOLD_MUSIC.is_file():
        _sox(str(HOLD_MUSIC), "-r", "8000", "-c", "1", str(out / "hold.gsm"), "trim", "0", "60")
        calls["hold_music_only"] = out / "hold.gsm"
    quick = [quick_turn_corpus(get_settings(), seed) for seed in QUICK_SEEDS.values()]
    pieces = [f for q in quick if q is not None for f in sorted((q / "audio").glob("*.gsm"))]
    if pieces:  # raw GSM frames join end to end
        data = b""
        while len(data) < LONG_S * GSM_BYTES_PER_S:
            data += b"".join(p.read_bytes() for p in pieces)
        (out / "sixty.gsm").write_bytes(data[: LONG_S * GSM_BYTES_PER_S])
        calls["sixty_minutes"] = out / "sixty.gsm"
    return calls


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="callroles bench badcalls")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    report: dict[str, Any] = {
        "benchmark": "badcalls",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "data": "real sources (LibriSpeech readers, Debian's hold music); the calls are made here",
        "calls": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in make_calls(Path(tmp)).items():
            if path is None:
                report["calls"][name] = {"absent": "its source is not on this machine"}
                print(f"{name}: absent", flush=True)
                continue
            proc = subprocess.run(
                [sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True
            )
            got = (
                json.loads(proc.stdout.strip().splitlines()[-1])
                if proc.returncode == 0
                else {"crashed": proc.returncode, "stderr": proc.stderr[-2000:]}
            )
            report["calls"][name] = got
            print(f"{name}: {json.dumps(got)}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0
