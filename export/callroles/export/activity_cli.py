"""``callroles activity train`` (train, export, ship) and ``callroles activity talk-time``.

It sits in ``export`` because it ends in an ONNX export; the training itself is
``callroles.training.activity``. Handlers import TensorFlow, so ``callroles --help`` does not.
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any


def _train(args: argparse.Namespace) -> int:
    from callroles.export.activity_export import export_activity  # noqa: PLC0415 (TensorFlow: in the handler)
    from callroles.training import activity as A  # noqa: PLC0415 (CLI handler: loaded on use)

    out = Path(args.out)
    config = A.DEBUG if args.debug else A.ActivityConfig()
    if args.epochs is not None:
        config = A.ActivityConfig(**{**asdict(config), "epochs": args.epochs})
    cache = Path(args.cache) if args.cache else out / "features"
    train_data: list[Any] = []
    for corpus in args.corpus:
        c = Path(corpus)
        train_data += A.load_corpus(c, cache / c.parent.name / c.name, args.skip, args.limit)
    val_data: list[Any] = []
    for corpus in args.val_corpus:
        v = Path(corpus)
        val_data += A.load_corpus(v, cache / v.parent.name / v.name, 0, args.val_limit)
    print(f"[activity] {len(train_data)} training calls, {len(val_data)} validation calls")
    report = A.train(train_data, val_data, out, config)
    report |= {
        "train_corpora": args.corpus,
        "skip": args.skip,
        "validation_corpus": args.val_corpus,
        "train_calls": len(train_data),
        "validation_calls": len(val_data),
        "synthetic": True,
    }
    history = json.loads((out / "history.json").read_text())
    A.curves(history, out / "training_curves.png")
    probe = A.crops(val_data, 1, 1200, seed=3)[0]
    report["model_version"] = export_activity(
        out / "model.keras", out / "activity.onnx", report, probe
    )
    (out / "report.json").write_text(json.dumps(report, indent=1))
    print(f"[activity] best epoch {report['best']['epoch']}: {json.dumps(report['best'])}")
    print(f"[activity] wrote {out / 'activity.onnx'} (version {report['model_version']})")
    if args.ship:
        from callroles.models.activity import default_activity_model  # noqa: PLC0415 (CLI handler: loaded on use)

        dst = default_activity_model()
        shutil.copyfile(out / "activity.onnx", dst)
        shutil.copyfile(out / "report.json", dst.with_suffix(".json"))
        print(f"[activity] shipped as {dst}")
    return 0


def _talk_time(args: argparse.Namespace) -> int:
    from callroles.base.settings import get_settings  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.call.pipeline import Models  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.training.talktime import evaluate_corpus, plot_errors  # noqa: PLC0415 (CLI handler: loaded on use)

    settings = get_settings()
    if args.activity_model:
        settings = settings.model_copy(update={"activity_model_path": Path(args.activity_model)})
    modes = ["activity", "energy"] if args.compare else ["energy" if args.energy else "activity"]
    reports = {}
    for mode in modes:
        frontend = Models(settings.model_copy(update={"talk_time": mode}))
        reports[mode] = evaluate_corpus(frontend, Path(args.corpus), args.skip, args.limit)
        summary = {"summary": reports[mode]["summary"], "by_kind": reports[mode]["by_kind"]}
        print(f"[talk-time] {mode}: {json.dumps(summary)}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(reports, indent=1))
        print(f"[talk-time] wrote {args.out}")
    if args.figure:
        title = f"{Path(args.corpus).name} (synthetic calls), per speaker"
        plot_errors(reports, Path(args.figure), title)
        print(f"[talk-time] wrote {args.figure}")
    return 0


def register(sub: Any) -> None:
    """Add ``activity train`` and ``activity talk-time``."""
    a = sub.add_parser("activity", help="the speaker-count model behind talk time")
    a_sub = a.add_subparsers(dest="activity_command", metavar="ACTION", required=True)
    t = a_sub.add_parser("train", help="train it on generated calls (callroles simulate)")
    t.add_argument("--corpus", action="append", required=True, help="simulated corpus folder")
    t.add_argument("--skip", type=int, default=0, help="leave the first N calls out (held out)")
    t.add_argument("--limit", type=int, default=None, help="at most N calls per corpus")
    t.add_argument(
        "--val-corpus", action="append", required=True,
        help="another corpus, to stop early on (repeat for several)",
    )  # fmt: skip
    t.add_argument("--val-limit", type=int, default=None)
    t.add_argument("--out", required=True, help="run folder")
    t.add_argument("--cache", default=None, help="feature cache (default <out>/features)")
    t.add_argument("--epochs", type=int, default=None)
    t.add_argument("--debug", action="store_true", help="tiny configuration: 2 short epochs")
    t.add_argument("--ship", action="store_true", help="copy it over the shipped model")
    t.set_defaults(func=_train)
    e = a_sub.add_parser("talk-time", help="per-speaker talk time against a corpus' truth")
    e.add_argument("corpus", help="simulated corpus folder (has truth/)")
    e.add_argument("--skip", type=int, default=0)
    e.add_argument("--limit", type=int, default=None)
    e.add_argument("--energy", action="store_true", help="the energy trim instead of the model")
    e.add_argument("--activity-model", default=None, help="an activity.onnx other than shipped")
    e.add_argument("--compare", action="store_true", help="both methods, side by side")
    e.add_argument("--out", default=None, help="write the per-call JSON here")
    e.add_argument("--figure", default=None, help="draw the errors into this PNG")
    e.set_defaults(func=_talk_time)
