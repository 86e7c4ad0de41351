"""``callroles calibrate``: make the role decision's confidence mean a rate, on held-out calls.

A two-party call's roles are one decision (:func:`callroles.call.roles.pair_confidence`): the margin
m = logit P(agent) of the chosen agent - logit P(agent) of the other, confidence sigmoid(m / T).
The CRNN's raw margins are huge (it is 0.9997 sure of roles it gets wrong on real calls), so T
is fitted by maximum likelihood on generated calls held out of training, best with random
acoustic paths (``callroles simulate --random-paths``), where the channel no longer gives the
roles away, as on real calls, and with real voices (``--real-voices``). The model's accuracy on
those calls is written too, as the ``ceiling`` of its confidence: on voices and channels it
never heard, the model alone never claims more than it achieved there. The fit is written
beside the model as
``<stem>.calibration.json``, tied to the model's version; the scorer reads it at load time.
Real recordings are never fitted on: they are for evaluation (``callroles bench roles``).

With ``--voiceprints STORE`` (the corpora's agents enrolled) the same fit makes the voiceprint
decision's confidence a rate: margin = similarity of the true agent's speaker minus the
other's, confidence sigmoid(margin / scale) with a ceiling; written to the shipped
``voiceprint.calibration.json``, tied to the embedding model (``callroles bench vpconfidence``
evaluates it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from callroles.call.roles import capped_sigmoid

TEMPERATURES = np.exp(np.linspace(np.log(0.1), np.log(200.0), 400))
SCALES = np.exp(np.linspace(np.log(0.002), np.log(2.0), 400))  # for similarity margins
BINS = 10


@dataclass(frozen=True)
class PairScore:
    """One mono two-party call: the margin for the true assignment (> 0: the rule is right)."""

    call_id: str
    margin: float
    same_gender: bool
    paths: str


def true_agent(event: dict[str, Any], agent_spans: list[tuple[float, float]]) -> str | None:
    """The result's speaker who overlaps the true agent's speech most (None: nobody does)."""

    def overlap(speaker: dict[str, Any]) -> float:
        return sum(
            max(0.0, min(b, d) - max(a, c)) for a, b in speaker["segments"] for c, d in agent_spans
        )

    best = max(event["speakers"], key=overlap, default=None)
    return best["speaker"] if best is not None and overlap(best) > 0 else None


def _logit_agent(speaker: dict[str, Any]) -> float:
    p = sum(v for k, v in speaker["probabilities"].items() if k.endswith("agent"))
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def margin_of(event: dict[str, Any], agent: str | None) -> float | None:
    """The true assignment's margin, or None when the call is not two scored speakers."""
    scored = [s for s in event["speakers"] if s["probabilities"]]
    if len(scored) != 2 or agent not in {s["speaker"] for s in scored}:
        return None
    a = next(s for s in scored if s["speaker"] == agent)
    c = next(s for s in scored if s["speaker"] != agent)
    return _logit_agent(a) - _logit_agent(c)


def score_corpus(
    corpus: Path, models: Any, limit: int | None = None, voiceprints: Any = None
) -> Iterator[PairScore]:
    """Each mono call of a generated corpus through ``run_call``: the CRNN's pair margin, or
    with a voiceprint store (its agents enrolled) the voiceprint's similarity margin."""
    from callroles.call.pipeline import run_call  # noqa: PLC0415 (CLI handler: loaded on use)

    truths = sorted((corpus / "truth").glob("*.json"))[:limit]
    for path in truths:
        truth = json.loads(path.read_text())
        if truth["channels"] != 1:
            continue
        audio = next((corpus / "audio").glob(f"{truth['call_id']}.*"))
        agent_id = next(k for k, v in truth["speakers"].items() if v["role"] == "agent")
        event = {"call_id": truth["call_id"], "agent_id": agent_id}
        out = run_call(audio, event, models, voiceprints=voiceprints, learn=False)
        if not isinstance(out, dict):
            continue
        spans = [(s["start"], s["end"]) for s in truth["segments"] if s["speaker"] == agent_id]
        agent = true_agent(out, spans)
        m = voiceprint_margin(out, agent) if voiceprints else margin_of(out, agent)
        if m is not None:
            paths = truth.get("paths", {"agent": "headset", "customer": "phone"})
            yield PairScore(
                truth["call_id"], m, truth["same_gender"], f"{paths['agent']}/{paths['customer']}"
            )


def nll(margins: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of the true assignments at ``temperature``."""
    return float(np.mean(np.logaddexp(0.0, -margins / temperature)))


def fit_temperature(margins: np.ndarray, grid: np.ndarray = TEMPERATURES) -> float:
    return float(min(grid, key=lambda t: nll(margins, t)))


def voiceprint_margin(event: dict[str, Any], agent: str | None) -> float | None:
    """Similarity of the true agent's speaker minus the other's, when the voiceprint decided
    a two-speaker call (> 0: the voiceprint is right); else None."""
    scored = [s for s in event["speakers"] if s.get("role_source") == "voiceprint"]
    if len(scored) != 2 or agent not in {s["speaker"] for s in scored}:
        return None
    a = next(s for s in scored if s["speaker"] == agent)
    c = next(s for s in scored if s["speaker"] != agent)
    return float(a["voiceprint_similarity"] - c["voiceprint_similarity"])


def confidence(margins: np.ndarray, temperature: float, ceiling: float = 1.0) -> np.ndarray:
    """The pair decision's confidence for each margin
    (:func:`callroles.call.roles.pair_confidence`)."""
    return np.asarray(capped_sigmoid(np.abs(margins), temperature, ceiling))


def ceiling_of(margins: np.ndarray) -> float:
    """The most the model alone may claim: its accuracy on the calibration calls, rounded down
    to 0.01 (at least 0.5). Those calls hold voices and channels it never heard."""
    return max(0.5, float(np.floor(np.mean(margins > 0) * 100) / 100))


def ece(margins: np.ndarray, temperature: float, ceiling: float = 1.0) -> float:
    """Expected calibration error of the pair decision (confidence in [0.5, 1], 10 bins)."""
    if len(margins) == 0:
        return float("nan")
    return binned_ece(confidence(margins, temperature, ceiling), margins > 0)


def ece_floor(
    margins: np.ndarray, temperature: float, ceiling: float = 1.0, draws: int = 1000
) -> dict[str, float] | None:
    """The ECE a *perfectly* calibrated model would show on these calls: each call right with
    exactly its stated confidence, drawn ``draws`` times (fixed seed). Binned ECE on a few
    dozen calls is mostly sampling noise (a bin of 5 calls at 0.8 misses by 0.14 on average),
    so a measured ECE means little unless it stands clear of this floor."""
    if len(margins) == 0:
        return None
    conf = confidence(margins, temperature, ceiling)
    rng = np.random.default_rng(0)
    null = [binned_ece(conf, rng.random(len(conf)) < conf) for _ in range(draws)]
    return {
        "median": round(float(np.median(null)), 4),
        "p90": round(float(np.percentile(null, 90)), 4),
    }


def binned_ece(conf: np.ndarray, right: np.ndarray) -> float:
    """Expected calibration error of confidences in [0.5, 1] (``BINS`` equal-width bins)."""
    edges = np.linspace(0.5, 1.0, BINS + 1)
    idx = np.clip(np.digitize(conf, edges) - 1, 0, BINS - 1)
    return float(
        sum(
            abs(right[idx == b].mean() - conf[idx == b].mean()) * np.mean(idx == b)
            for b in range(BINS)
            if np.any(idx == b)
        )
    )


def summary(scores: list[PairScore], temperature: float, ceiling: float = 1.0) -> dict[str, Any]:
    m = np.array([s.margin for s in scores])
    return {
        "calls": len(m),
        "accuracy": round(float(np.mean(m > 0)), 4) if len(m) else None,
        "ece_uncalibrated": round(ece(m, 1.0), 4),
        "ece": round(ece(m, temperature, ceiling), 4),
        "ece_if_calibrated": ece_floor(m, temperature, ceiling),
        "temperature": round(temperature, 4),
        "ceiling": ceiling,
        "wrong_at_0_9_or_more": int(np.sum((m < 0) & (confidence(m, temperature, ceiling) >= 0.9))),
    }


def _describe(corpus: Path) -> dict[str, Any]:
    """What a corpus was generated with (its corpus.json), so a fit can be reproduced."""
    meta = corpus / "corpus.json"
    described: dict[str, Any] = json.loads(meta.read_text()) if meta.is_file() else {}
    keep = ("generator", "seed", "calls", "preset", "stereo_fraction", "random_paths")
    return {"folder": corpus.name, **{k: described[k] for k in keep if k in described}}


def _run(args: argparse.Namespace) -> int:
    from callroles.agents.store import open_store  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.agents.voiceprints import EMBEDDING_MODEL  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.base.settings import get_settings  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.call.pipeline import load_models  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.call.roles import VOICEPRINT_CALIBRATION  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.models.crnn import calibration_path  # noqa: PLC0415 (CLI handler: loaded on use)

    settings = get_settings()
    if args.model:
        settings = settings.model_copy(update={"model_path": args.model})
    store = None
    if args.voiceprints:
        store = open_store(settings.model_copy(update={"voiceprint_store": args.voiceprints}))
    models = load_models(settings)
    scores: list[PairScore] = []
    for corpus in args.corpus:
        for s in score_corpus(corpus, models, args.limit, store):
            scores.append(s)
            print(f"[calibrate] {corpus.name} {s.call_id} {s.paths} margin {s.margin:+.3f}")
    margins = np.array([s.margin for s in scores])
    if len(margins) < 10:
        print(f"[calibrate] {len(margins)} usable calls: too few to fit a temperature")
        return 1
    t = fit_temperature(margins, SCALES if store else TEMPERATURES)
    ceiling = 1.0 if args.no_ceiling else ceiling_of(margins)
    what: dict[str, Any] = (
        {"embedding_model": EMBEDDING_MODEL, "scale": round(t, 5)}
        if store
        else {"model_name": models.role_model.model_name, "model_version": models.model_version}
    )
    report = {
        **what,
        "temperature": round(t, 5),
        "ceiling": ceiling,
        "fitted_on": [_describe(c) for c in args.corpus],
        "data": "generated calls held out of training (SYNTHETIC calls; TTS or real voices)",
        "nll_uncalibrated": round(nll(margins, 1.0), 4),
        "nll": round(nll(margins, t), 4),
        **{
            k: v
            for k, v in summary(scores, t, ceiling).items()
            if k not in ("temperature", "ceiling")
        },
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "calls_scored": [asdict(s) for s in scores],
    }
    print(json.dumps({k: v for k, v in report.items() if k != "calls_scored"}, indent=1))
    if args.write:
        dst = VOICEPRINT_CALIBRATION if store else calibration_path(models.role_model.path)
        dst.write_text(json.dumps(report, indent=1) + "\n")
        print(f"[calibrate] wrote {dst}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("calibrate", help="fit the role confidence's temperature on held-out calls")
    p.add_argument("corpus", type=Path, nargs="+", help="generated corpora (truth/ beside audio/)")
    p.add_argument("--model", type=Path, help="the .onnx model (default: the shipped one)")
    p.add_argument("--limit", type=int, default=None, help="at most N calls per corpus")
    p.add_argument(
        "--write",
        action="store_true",
        help="write <stem>.calibration.json beside the model (with --voiceprints: the shipped "
        "voiceprint.calibration.json)",
    )
    p.add_argument(
        "--voiceprints",
        help="a voiceprint store (file or redis://) with the corpora's agents enrolled: fit the "
        "voiceprint decision's confidence instead of the model's",
    )
    p.add_argument(
        "--no-ceiling",
        action="store_true",
        help="no confidence ceiling (default: the model's accuracy on these calls)",
    )
    p.set_defaults(func=_run)
