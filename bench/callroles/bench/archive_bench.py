"""``callroles bench archive``: roles over an archive where agents recur, with automatic enrolment.

With ``--stereo-fraction 0`` the archive is mono only, as most call centres' are: agents are
then learnt from where their voice recurs (``auto_enrol`` ``recurring``); ``--repeat-customers``
adds customers who call several agents; ``--discover`` also finds the agents with no ids
(:func:`callroles.agents.recurrence.discover` on the calls' voices) and scores that.

A generated archive (default 60 calls, seed 5150; SYNTHETIC: our TTS voices and channels; or, with
``--real-voices DIR``, real LibriSpeech readers in generated calls) with recurring agents, about a
third same-gender and a share in stereo with the agent on the left, is processed in time order as a
worker would: each call with its ``agent_id`` (and the stereo layout where there is one), one
voiceprint store for the whole run, automatic enrolment on (``callroles.agents.enrolment``: only
stereo calls teach). Per call it records who is the agent against the ground truth, what decided
(channel, voiceprint, model), how many calls the agent's print had learnt from before it, and what
the model alone (the pair rule on Eq. 4) would have said. Reports role accuracy on mono calls whose
agent's print had learnt from at least two calls, beside the model alone on the same calls. Writes
``bench/results/archive.json`` (or ``archive-real-voices.json``, ``archive-tts-rp.json`` with
``--random-paths``).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from callroles.agents.recurrence import Voice, discover
from callroles.agents.store import FileStore
from callroles.base.settings import get_settings
from callroles.bench.paths import RESULTS_DIR
from callroles.call.pipeline import Artefacts, CallFailure, front_end, load_models, run_call
from callroles.call.voices import call_voices
from callroles.export.calibrate import true_agent
from callroles.lab.simulate import generate_corpus, generator_fingerprint
from callroles.lab.simulate.real_voices import generate_real_corpus

RESULTS = RESULTS_DIR / "archive.json"


def _model_agent(event: dict[str, Any]) -> str | None:
    scored = [s for s in event["speakers"] if s["probabilities"]]
    p = lambda s: sum(v for k, v in s["probabilities"].items() if k.endswith("agent"))  # noqa: E731
    return max(scored, key=p)["speaker"] if scored else None


def _accuracy(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    right = sum(r[key] for r in rows)
    return {
        "calls": len(rows),
        "right": right,
        "accuracy": round(right / len(rows), 4) if rows else None,
    }


def _talk_errors(result: dict[str, Any], truth: dict[str, Any], agent_id: str) -> dict[str, Any]:
    """Relative talk-time error of the result's agent and customer against the truth's."""
    talk = {s["speaker"]: s["talk_time_s"] for s in result["speakers"]}
    out: dict[str, Any] = {}
    for role, who in (
        ("agent", result.get("agent_speaker")),
        ("customer", result.get("customer_speaker")),
    ):
        true = [
            v["talk_time_s"]
            for k, v in truth["speakers"].items()
            if (k == agent_id) == (role == "agent")
        ]
        if not true or not true[0]:
            out[role] = None
            continue
        out[role] = round((talk.get(who, 0.0) - true[0]) / true[0], 4)
    return out


def _split_errors(front: Any, truth: dict[str, Any], agent_id: str) -> dict[str, Any]:
    """Talk-time errors of a front end's split, its speakers named by overlap with the truth
    (the split's quality, whoever the role decision picked)."""
    event: dict[str, Any] = {"speakers": [
        {"speaker": s.speaker, "segments": [(g.start, g.end) for g in s.segments],
         "talk_time_s": s.talk_time_s} for s in front.speakers
    ]}  # fmt: skip
    agent_spans = [(g["start"], g["end"]) for g in truth["segments"] if g["speaker"] == agent_id]
    other_spans = [(g["start"], g["end"]) for g in truth["segments"] if g["speaker"] != agent_id]
    event["agent_speaker"] = true_agent(event, agent_spans)
    rest = [s for s in event["speakers"] if s["speaker"] != event["agent_speaker"]]
    event["customer_speaker"] = true_agent({"speakers": rest}, other_spans)
    return _talk_errors(event, truth, agent_id)


def _talk_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    errs = [r["talk_error"] for r in rows if r.get("talk_error")]
    both = [e for e in errs if e["agent"] is not None and e["customer"] is not None]
    return {
        "calls": len(both),
        "both_within_5pct": sum(
            abs(e["agent"]) <= 0.05 and abs(e["customer"]) <= 0.05 for e in both
        ),
        "median_abs_error_agent": round(float(np.median([abs(e["agent"]) for e in both])), 4)
        if both
        else None,
        "median_abs_error_customer": round(float(np.median([abs(e["customer"]) for e in both])), 4)
        if both
        else None,
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Role accuracy on mono calls by how many certain calls the agent's print had learnt
    from before the call, beside the model alone on the same calls."""
    done = [r for r in rows if "error" not in r]
    mono = [r for r in done if not r["stereo"]]

    def block(calls: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "with_voiceprints": _accuracy(calls, "right"),
            "model_alone": _accuracy(calls, "model_right"),
            "talk_time": _talk_summary(calls),
            "same_gender_with_voiceprints": _accuracy(
                [r for r in calls if r["same_gender"]], "right"
            ),
        }

    return {
        "agents": len({r["agent_id"] for r in done}),
        "same_gender_calls": sum(r["same_gender"] for r in done),
        "errors": len(rows) - len(done),
        "mono_agent_not_enrolled": block([r for r in mono if r["samples_before"] == 0]),
        "mono_after_one_enrolment": block([r for r in mono if r["samples_before"] >= 1]),
        "mono_after_two_enrolments": block([r for r in mono if r["samples_before"] >= 2]),
        # the reading: every mono call after its agent's first two calls in the archive,
        # whether or not those two were certain enough to teach the print
        "mono_after_agents_first_two_calls": block([r for r in mono if r["agent_call"] > 2]),
        "mono_after_agents_first_three_calls": block([r for r in mono if r["agent_call"] > 3]),
        "learnt_from_recurrence": {
            r["agent_id"]: {"at_agent_call": r["agent_call"], "from_calls": r["taught_by"]}
            for r in done
            if r.get("taught_by")
        },
        "split_around_voiceprint": {
            "calls": sum("talk_error_plain" in r for r in done),
            "right": sum(r["right"] for r in done if "talk_error_plain" in r),
            "talk_time_plain": _talk_summary(
                [{"talk_error": r["talk_error_plain"]} for r in done if "talk_error_plain" in r]
            ),
            "talk_time_split": _talk_summary(
                [{"talk_error": r["talk_error_split"]} for r in done if "talk_error_plain" in r]
            ),
        },
        "stereo_by_channel": _accuracy([r for r in done if r["stereo"]], "right"),
        "wrong_at_confidence_0_9_or_more": sum(
            not r["right"] and (r.get("confidence") or 0) >= 0.9 for r in done
        ),
    }


def score_discovery(heard: dict[str, tuple[list[Voice], str | None, str]]) -> dict[str, Any]:
    """Agents found with no ids, scored against the truth: per mono call, the voice closest to
    a discovered agent is taken for the agent; customers who call again must not be agents."""
    found = discover([v for voices, _, _ in heard.values() for v in voices])
    agents = [f for f in found if f.agent]
    repeat = {c for _, _, c in heard.values()}
    repeat = {c for c in repeat if sum(cust == c for _, _, cust in heard.values()) > 1}
    right = decided = 0
    for voices, truth_agent, _ in heard.values():
        if not agents or not voices:
            continue
        best = max(voices, key=lambda v: max(float(v.vector @ a.vector) for a in agents))
        decided += 1
        right += best.speaker == truth_agent
    taken = 0  # discovered "agents" whose voice is mostly a customer's who called again
    for f in agents:
        customer_calls = [c for c, spk in f.speakers.items() if spk != heard[c][1]]
        if len(customer_calls) > len(f.calls) / 2 and all(
            heard[c][2] in repeat for c in customer_calls
        ):
            taken += 1
    return {
        "recurring_voices": len(found),
        "agents": len(agents),
        "not_agents": [len(f.calls) for f in found if not f.agent],
        "calls": len(heard),
        "right": right,
        "accuracy": round(right / decided, 4) if decided else None,
        "repeat_customers_taken_for_agents": taken,
        "repeat_customers_found_and_left": sum(
            all(heard[c][2] in repeat and spk != heard[c][1] for c, spk in f.speakers.items())
            for f in found
            if not f.agent
        ),
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="callroles bench archive")
    p.add_argument("--calls", type=int, default=60)
    p.add_argument("--seed", type=int, default=5150)
    p.add_argument("--stereo-fraction", type=float, default=0.4)
    p.add_argument(
        "--real-voices",
        type=Path,
        help="build the archive from the real voices in this LibriSpeech-style folder "
        "(simulate --real-voices) instead of TTS",
    )
    p.add_argument(
        "--random-paths",
        action="store_true",
        help="draw each party's acoustic path at random (simulate --random-paths)",
    )
    p.add_argument("--auto-enrol", default="stereo,recurring", help="CALLROLES_AUTO_ENROL")
    p.add_argument("--repeat-customers", type=int, default=0, help="readers who call 5 times")
    p.add_argument("--discover", action="store_true", help="also find the agents with no ids")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument(
        "--keep-prints",
        type=Path,
        default=None,
        help="keep the run's voiceprint store in this file (default: a temporary one, deleted)",
    )
    args = p.parse_args(argv)
    settings = get_settings().model_copy(update={"auto_enrol": args.auto_enrol})
    kind = ("real-voices" if args.real_voices else "tts") + ("-rp" if args.random_paths else "")
    kind += "-mono" if args.stereo_fraction == 0 else ""
    kind += f"-rc{args.repeat_customers}" if args.repeat_customers else ""
    name = f"archive-{kind}-{args.calls}-seed{args.seed}-st{args.stereo_fraction}-"
    corpus = settings.home / "bench-cache" / (name + generator_fingerprint())
    if not (corpus / "calls.csv").is_file():
        if args.real_voices:
            generate_real_corpus(
                corpus, args.real_voices, calls=args.calls, seed=args.seed,
                stereo_fraction=args.stereo_fraction, random_paths=args.random_paths,
                repeat_customers=args.repeat_customers,
            )  # fmt: skip
        else:
            generate_corpus(
                corpus, calls=args.calls, seed=args.seed, stereo_fraction=args.stereo_fraction,
                random_paths=args.random_paths,
            )  # fmt: skip
    suffix = f"-seed{args.seed}" if args.seed != 5150 else ""
    results = RESULTS.with_name(f"archive-{kind}{suffix}.json") if kind != "tts" else RESULTS
    dst = args.out or results
    with (corpus / "calls.csv").open(newline="") as fh:
        calls = sorted(csv.DictReader(fh), key=lambda r: r["started_at"])
    models = load_models(settings)
    rows = []
    heard: dict[str, tuple[list[Voice], str | None, str]] = {}  # for --discover
    with tempfile.TemporaryDirectory() as tmp:
        store = FileStore(args.keep_prints or Path(tmp) / "voiceprints.json")
        seen: dict[str, int] = {}
        for i, row in enumerate(calls, 1):
            seen[row["agent_id"]] = seen.get(row["agent_id"], 0) + 1
            truth = json.loads((corpus / "truth" / f"{row['call_id']}.json").read_text())
            before = store.get(row["agent_id"])
            stereo = row["channels"] == "2"
            event = {"call_id": row["call_id"], "agent_id": row["agent_id"]}
            if stereo:
                event["layout"] = "stereo-agent-left"
            stages = Artefacts()
            result = run_call(corpus / row["file"], event, models, voiceprints=store, hook=stages)
            if isinstance(result, CallFailure):
                rows.append({"call_id": row["call_id"], "error": str(result.error)})
                continue
            agent_id = row["agent_id"]
            spans = [(g["start"], g["end"]) for g in truth["segments"] if g["speaker"] == agent_id]
            agent = true_agent(result, spans)
            sources = sorted({s["role_source"] for s in result["speakers"]})
            rows.append({
                "call_id": row["call_id"], "agent_id": row["agent_id"], "stereo": stereo,
                "same_gender": truth["same_gender"],
                "samples_before": before.auto_samples if before else 0,
                "agent_call": seen[row["agent_id"]],
                "decided_by": "+".join(sources), "right": result["agent_speaker"] == agent,
                "model_right": _model_agent(result) == agent,
                "confidence": min(
                    (s["confidence"] for s in result["speakers"]
                     if s["role"] in ("agent", "customer")), default=None,
                ),
                "enrolment": result.get("enrolment", {}).get("action"),
                "taught_by": result.get("enrolment", {}).get("calls"),
                "customer_id": row["customer_id"],
                "strategy": result["separation_strategy"],
                "talk_error": _talk_errors(result, truth, agent_id),
            })  # fmt: skip
            r = rows[-1]
            if args.discover and not stereo:
                found = call_voices(stages["separate"], stages["decode"], models.encoder)
                voices = [Voice(row["call_id"], k, v, t) for k, (v, t) in found.items()]
                heard[row["call_id"]] = (voices, agent, row["customer_id"])
            if result["separation_strategy"] == "voiceprint":  # A/B: the split without the print
                plain = front_end(corpus / row["file"], models=models)
                r["talk_error_plain"] = _split_errors(plain, truth, agent_id)
                r["talk_error_split"] = _split_errors(stages["separate"], truth, agent_id)
            print(f"[archive] {i}/{len(calls)} {row['call_id']} {row['agent_id']} "
                  f"{'stereo' if stereo else 'mono'} prints-before {r['samples_before']} "
                  f"{r['decided_by']} right={r['right']} model={r['model_right']} "
                  f"enrol={r['enrolment']}", flush=True)  # fmt: skip
        prints = {
            p.agent_id: {"auto_samples": p.auto_samples, "refused": p.refused} for p in store.list()
        }
    report = {
        "benchmark": "archive",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "data": (
            f"real voices (LibriSpeech readers from {args.real_voices}) in generated calls"
            if args.real_voices
            else "SYNTHETIC (TTS voices)"
        )
        + f": {args.calls} calls, seed {args.seed}, stereo share {args.stereo_fraction}"
        + (", random acoustic paths" if args.random_paths else ""),
        **summarise(rows),
        **({"discovery": score_discovery(heard)} if args.discover else {}),
        "prints": prints,
        "calls": rows,
    }
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "calls"}, indent=1))
    print(f"wrote {dst}")
    return 0
