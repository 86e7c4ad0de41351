"""`callroles dataset build`, `train`, `evaluate`, `compare` (heavy imports inside handlers)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from callroles.training.dataset import BuildOptions


def add_build_arguments(p: argparse.ArgumentParser) -> None:
    """The DBAS options ``dataset build`` and ``adapt`` share."""
    p.add_argument(
        "--calls",
        required=True,
        help="call table: a CSV file, or a database URL (sqlite:///calls.db)",
    )
    p.add_argument("--table", default="calls", help="table name when --calls is a database")
    p.add_argument("--validation-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="processes (each loads the models)")
    p.add_argument("--min-duration", type=float, default=60.0)
    p.add_argument("--max-duration", type=float, default=600.0)
    p.add_argument("--limit", type=int, default=None, help="use the first N calls only")
    p.add_argument("--no-progress", action="store_true")


def build_options(args: argparse.Namespace, work: Path | None) -> BuildOptions:
    """BuildOptions from the arguments :func:`add_build_arguments` added."""
    from callroles.training.dataset import BuildOptions  # noqa: PLC0415 (CLI handler: loaded on use)

    return BuildOptions(
        table=args.table,
        validation_fraction=args.validation_fraction,
        seed=args.seed,
        workers=args.workers,
        min_duration_s=args.min_duration,
        max_duration_s=args.max_duration,
        limit=args.limit,
        progress=not args.no_progress,
        work=work,
    )


def _dataset_build(args: argparse.Namespace) -> int:
    from callroles.training.dataset import build_dataset  # noqa: PLC0415 (CLI handler: loaded on use)

    opts = build_options(args, Path(args.work) if args.work else None)
    result = build_dataset(Path(args.archive), args.calls, Path(args.out), opts)
    print(result.format())
    return 0


def _train(args: argparse.Namespace) -> int:
    from callroles.training.augment import Augment  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.training.train import DEBUG_CONFIG, TrainConfig, train  # noqa: PLC0415 (CLI handler: loaded on use)

    base = DEBUG_CONFIG if args.debug else TrainConfig()
    cfg = TrainConfig(
        n_classes=args.classes,
        rnn=args.rnn,
        epochs=args.epochs or base.epochs,
        batch_size=args.batch_size or base.batch_size,
        learning_rate=args.learning_rate,
        patience=args.patience or base.patience,
        seed=args.seed,
        max_per_speaker=args.max_per_speaker,
        augment=Augment() if args.augment else None,
    )
    name = args.name or f"{args.rnn}{args.classes}"
    run = train(Path(args.data), Path(args.runs) / name, cfg)
    _print_report(run / "report.json")
    print(f"run folder: {run}")
    return 0


def _print_report(path: Path) -> None:

    rep: dict[str, Any] = json.loads(path.read_text())
    w, s = rep["window"], rep["speaker"]
    print(f"window accuracy {w['accuracy']:.4f} on {w['windows']} windows ({rep['data']['dir']})")
    for name, v in w["per_class"].items():
        print(f"  {name:16s} P {v['precision']:.4f} R {v['recall']:.4f} F1 {v['f1']:.4f}")
    print(
        f"speaker accuracy (Eq. 4, 5) {s['accuracy']:.4f} on {s['speakers']} speakers; "
        f"role {s['role_accuracy']:.4f}"
    )


def _evaluate(args: argparse.Namespace) -> int:
    from callroles.training.evaluate import evaluate_run  # noqa: PLC0415 (CLI handler: loaded on use)

    run = Path(args.run)
    evaluate_run(run, Path(args.data) if args.data else None, split=args.split, name=args.name)
    _print_report(run / ("report.json" if not args.name else f"eval-{args.name}.json"))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from callroles.training.compare import compare_rows, find_runs, format_table  # noqa: PLC0415 (CLI handler: loaded on use)

    runs = find_runs([Path(p) for p in args.runs])
    if not runs:
        print("no run folders found (a run folder holds meta.json)")
        return 1
    print(format_table(compare_rows(runs)))
    return 0


def register(sub: Any) -> None:
    """Add the dataset, train, evaluate and compare commands."""
    from callroles.base.settings import get_settings  # noqa: PLC0415 (CLI handler: loaded on use)

    runs_default = str(get_settings().home / "runs")
    ds = sub.add_parser("dataset", help="build a training set from a call archive (DBAS)")
    ds_sub = ds.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    b = ds_sub.add_parser("build", help="the paper's database-based annotation scheme")
    b.add_argument("--archive", required=True, help="folder the call table's file paths are in")
    b.add_argument("--out", required=True, help="output tree <train|validation>/...")
    add_build_arguments(b)
    b.add_argument(
        "--work",
        default=None,
        help="per-call cache folder (default <out>/.work); share it between builds",
    )
    b.set_defaults(func=_dataset_build)

    t = sub.add_parser("train", help="train the paper's CRNN on a dataset tree")
    t.add_argument("--data", required=True)
    t.add_argument("--classes", type=int, choices=(2, 4), default=2)
    t.add_argument("--rnn", choices=("gru", "lstm"), default="gru")
    t.add_argument("--runs", default=runs_default, help="folder of run folders")
    t.add_argument("--name", default=None, help="run folder name (default <rnn><classes>)")
    t.add_argument("--epochs", type=int, default=None)
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--learning-rate", type=float, default=1e-3)
    t.add_argument("--patience", type=int, default=None)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--max-per-speaker", type=int, default=None)
    t.add_argument(
        "--augment",
        action="store_true",
        help="perturb training windows (mel warp, gain, SpecAugment masks; training/README.md)",
    )
    t.add_argument("--debug", action="store_true", help="tiny configuration: 2 epochs")
    t.set_defaults(func=_train)

    e = sub.add_parser("evaluate", help="evaluate a run folder (report JSON and figures)")
    e.add_argument("run", help="run folder")
    e.add_argument("--data", default=None, help="dataset tree (default: the training one)")
    e.add_argument("--split", default="validation")
    e.add_argument("--name", default=None, help="name of this evaluation (eval-<name>.json)")
    e.set_defaults(func=_evaluate)

    c = sub.add_parser("compare", help="Table 4 of the paper next to our runs")
    c.add_argument("runs", nargs="*", default=[runs_default], help="run folders or their parent")
    c.set_defaults(func=_compare)
