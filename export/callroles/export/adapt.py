"""``callroles adapt``: the role model learns a user's own archive, the paper's way.

The paper trained on its company's archive with labels from its agent database (DBAS); our
shipped model heard only generated calls. ``adapt`` runs DBAS on the user's calls (agent ids and
genders from their table), adds the same-gender calls whose agent is enrolled and whose roles the
voiceprint decides with certainty (:mod:`callroles.training.voiceprint_labels`), fine-tunes the
CRNN from a base model (the shipped one's weights by default), exports it to ONNX with the parity
check, and measures base and adapted model on the archive's held-out speakers. The result is a
new model version in ``OUT/model.onnx`` that ``--model`` or ``CALLROLES_MODEL_PATH`` can name.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from callroles.base.errors import ModelError
from callroles.base.settings import Settings, get_settings
from callroles.models.embeddings import SAME_VOICE
from callroles.models.shipped import SHIPPED_DIR
from callroles.training.cli import add_build_arguments, build_options
from callroles.training.dataset import BuildOptions, build_dataset

log = logging.getLogger(__name__)

SHIPPED_KERAS = SHIPPED_DIR / "model.keras"  # the shipped model's Keras weights, when shipped


@dataclass(frozen=True)
class AdaptOptions:
    """Knobs of one adaptation; the defaults fine-tune gently from the shipped model."""

    base: Path | None = None  # run folder or .keras; None: the shipped weights (or from scratch)
    from_scratch: bool = False
    epochs: int = 10
    patience: int = 3
    learning_rate: float = 3e-4  # a tenth of the paper's Adam default: keep what the base knows
    batch_size: int = 32
    max_per_speaker: int | None = 12  # agents recur in many calls: cap their windows
    seed: int = 0
    voiceprints: bool = True
    same_voice: float = SAME_VOICE  # voiceprint labels: agent at least this, customer below
    tenant: str = ""
    debug: bool = False
    build: BuildOptions = field(default_factory=BuildOptions)


def base_keras(opts: AdaptOptions) -> Path | None:
    """The .keras file fine-tuning starts from, or None to train from scratch."""
    if opts.from_scratch:
        return None
    if opts.base is None:
        if SHIPPED_KERAS.is_file():
            return SHIPPED_KERAS
        log.warning("no shipped Keras weights (%s): training from scratch", SHIPPED_KERAS)
        return None
    path = Path(opts.base)
    path = path / "model.keras" if path.is_dir() else path
    if not path.is_file():
        raise ModelError(
            f"no base model at {path} (a run folder or a .keras file)", code="model_missing"
        )
    return path


def held_out_accuracy(model: Any, tree: Path) -> dict[str, Any]:
    """Window and speaker (Eq. 4/5) accuracy of a Keras model on the tree's validation split."""
    from callroles.training.data import scan_split  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.training.evaluate import predict_items, speaker_level, window_metrics  # noqa: PLC0415 (CLI handler: loaded on use)

    items = scan_split(tree, "validation")
    n_classes = int(model.outputs[0].shape[-1])
    probs = predict_items(model, items)
    y_true = np.array([it.label(n_classes) for it in items], dtype=np.int64)
    window = window_metrics(y_true, probs, n_classes)
    speaker = speaker_level(items, probs, n_classes)
    return {
        "windows": len(items),
        "window_accuracy": round(float(window["accuracy"]), 4),
        "speakers": int(speaker["speakers"]),
        "speaker_accuracy": round(float(speaker["accuracy"]), 4),
    }


def _voiceprint_pass(
    archive: Path,
    calls: str | Path,
    skipped: dict[str, str],
    tree: Path,
    opts: AdaptOptions,
    settings: Settings,
) -> dict[str, Any]:
    from callroles.agents.calltable import read_calls  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.agents.store import open_store  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.call.pipeline import load_models  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.training.voiceprint_labels import LabelRules, add_voiceprint_calls  # noqa: PLC0415 (CLI handler: loaded on use)

    rules = LabelRules(
        opts.same_voice, opts.build.validation_fraction, opts.build.seed, opts.tenant
    )
    rows = read_calls(calls, opts.build.table)
    labels = add_voiceprint_calls(
        archive,
        rows,
        skipped,
        tree,
        load_models(settings),
        open_store(settings),
        rules,
        progress=opts.build.progress,
    )
    return labels.to_dict()


def adapt(
    archive: Path,
    calls: str | Path,
    out: Path,
    opts: AdaptOptions,
    settings: Settings,
) -> dict[str, Any]:
    """DBAS (+ voiceprint-labelled calls) -> fine-tune -> export -> held-out check; the report.

    ``settings`` name the voiceprint store and the front end.
    """
    import keras  # noqa: PLC0415 (Keras: loaded only to train or export)

    from callroles.export.runs import export_run  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.training.train import DEBUG_CONFIG, TrainConfig, train  # noqa: PLC0415 (CLI handler: loaded on use)

    started = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tree = out / "dataset"
    built = build_dataset(Path(archive), calls, tree, opts.build)
    report: dict[str, Any] = {
        "what": "callroles adapt: the role model fine-tuned on a user's archive",
        "archive": str(Path(archive).resolve()),
        "dbas": {
            "calls": built.calls,
            "kept_calls": built.kept_calls,
            "skipped": len(built.skipped),
            "dropped_speakers": len(built.dropped_speakers),
        },
    }
    if opts.voiceprints:
        report["voiceprint_labels"] = _voiceprint_pass(
            archive, calls, built.skipped, tree, opts, settings
        )
    base = base_keras(opts)
    keras.config.disable_interactive_logging()
    recipe = DEBUG_CONFIG if opts.debug else TrainConfig()
    config = TrainConfig(
        n_classes=2,
        rnn="gru",
        epochs=recipe.epochs if opts.debug else opts.epochs,
        batch_size=recipe.batch_size if opts.debug else opts.batch_size,
        learning_rate=opts.learning_rate if base else 1e-3,
        patience=recipe.patience if opts.debug else opts.patience,
        seed=opts.seed,
        max_per_speaker=opts.max_per_speaker,
        init_from=str(base) if base else None,
    )
    run = train(tree, out / "run", config)
    adapted = keras.saving.load_model(str(run / "model.keras"), compile=False)
    check = {"adapted": held_out_accuracy(adapted, tree)}
    if base is not None:
        check["base"] = held_out_accuracy(keras.saving.load_model(str(base), compile=False), tree)
    exported = export_run(run, out / "model.onnx")
    verdict = _verdict(check)
    report.update(
        {
            "base": str(base) if base else None,
            "training": json.loads((run / "meta.json").read_text()).get("training", {}),
            "config": {k: v for k, v in asdict(config).items() if k != "augment"},
            "held_out": check,
            "verdict": verdict,
            "model": {
                "path": str(exported.path),
                "version": exported.metadata["model_version"],
                "parity_max_abs_diff": exported.parity_max_abs_diff,
            },
            "seconds": round(time.time() - started, 1),
            "note": "figures measured on this archive's held-out speakers (DBAS split by speaker)",
        }
    )
    (out / "adapt.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def _verdict(check: dict[str, Any]) -> str:
    """better, no worse or worse than the base on held-out speakers (speaker accuracy, then
    window accuracy); "no base" when trained from scratch."""
    if "base" not in check:
        return "no base"
    a, b = check["adapted"], check["base"]
    key_a = (a["speaker_accuracy"], a["window_accuracy"])
    key_b = (b["speaker_accuracy"], b["window_accuracy"])
    return "better" if key_a > key_b else "no worse" if key_a == key_b else "worse"


def register(sub: Any) -> None:
    p = sub.add_parser("adapt", help="fine-tune the role model on your own archive (DBAS)")
    p.add_argument("archive", type=Path, help="folder the call table's file paths are in")
    add_build_arguments(p)
    p.add_argument("--out", type=Path, required=True, help="folder of the new model version")
    p.add_argument("--base", type=Path, help="run folder or .keras (default: the shipped model)")
    p.add_argument("--from-scratch", action="store_true", help="no base: train anew")
    p.add_argument("--epochs", type=int, default=AdaptOptions.epochs)
    p.add_argument("--learning-rate", type=float, default=AdaptOptions.learning_rate)
    p.add_argument("--no-voiceprints", action="store_true", help="DBAS calls only")
    p.add_argument(
        "--same-voice",
        type=float,
        default=AdaptOptions.same_voice,
        help="voiceprint labels need the agent at this similarity or more, the customer below",
    )
    p.add_argument("--tenant", default="", help="whose voiceprints label same-gender calls")
    p.add_argument("--debug", action="store_true", help="tiny training: 2 epochs")
    p.set_defaults(func=_adapt)


def _adapt(args: argparse.Namespace) -> int:
    build = build_options(args, args.out / "dataset-work")
    opts = AdaptOptions(
        base=args.base,
        from_scratch=args.from_scratch,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        seed=args.seed,
        voiceprints=not args.no_voiceprints,
        same_voice=args.same_voice,
        tenant=args.tenant,
        debug=args.debug,
        build=build,
    )
    report = adapt(args.archive, args.calls, args.out, opts, get_settings())
    print(format_report(report))
    return 1 if report["verdict"] == "worse" else 0


def format_report(report: dict[str, Any]) -> str:
    """The lines a user reads after adapting: data used, held-out figures, where the model is."""
    d, held = report["dbas"], report["held_out"]
    lines = [f"DBAS: {d['kept_calls']} of {d['calls']} calls kept"]
    vp = report.get("voiceprint_labels")
    if vp:
        lines.append(
            f"voiceprints: {vp['labelled_calls']} of {vp['same_gender_calls']} same-gender calls "
            f"labelled ({vp['windows']}); not labelled: {vp['refused'] or 'none'}"
        )
    for name in ("base", "adapted"):
        if name in held:
            h = held[name]
            lines.append(
                f"{name:8s} on held-out speakers: speaker accuracy {h['speaker_accuracy']:.3f} "
                f"({h['speakers']}), window accuracy {h['window_accuracy']:.3f} ({h['windows']})"
            )
    m = report["model"]
    lines.append(f"verdict: {report['verdict']}; model {m['path']} (version {m['version']})")
    lines.append(f"use it: callroles analyze FILE --model {m['path']}, or CALLROLES_MODEL_PATH")
    return "\n".join(lines)
