"""Commands ``export`` and ``default-model`` (TensorFlow is imported inside the handlers)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="export a trained run (or .keras file) to ONNX")
    p.add_argument("model", type=Path, help="run folder (model.keras + meta.json) or a .keras file")
    p.add_argument("--out", type=Path, required=True, help="the .onnx file to write")
    p.add_argument(
        "--windows",
        type=Path,
        help="real windows for the parity check: .npy (N, 96, 1000) or an audio file "
        "(default: the run's dataset)",
    )
    p.add_argument(
        "--variants", default="", help="comma-separated reduced-precision variants: fp16,int8"
    )
    p.add_argument(
        "--rnn-export",
        choices=("native", "loop"),
        default="native",
        help="native ONNX GRU/LSTM ops (default) or tf2onnx's Loop conversion",
    )
    p.set_defaults(func=_export)

    d = sub.add_parser("default-model", help="the model shipped with callroles")
    dsub = d.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = dsub.add_parser("show", help="print the shipped model's metadata")
    show.set_defaults(func=_show)
    r = dsub.add_parser("rebuild", help="simulate -> dataset -> train -> export, from a seed")
    r.add_argument("--seed", type=int, required=True)
    r.add_argument("--calls", type=int, default=None, help="calls to simulate (default: recipe)")
    r.add_argument("--epochs", type=int, default=None, help="training epochs (default: recipe)")
    r.add_argument("--workers", type=int, default=None, help="DBAS processes (default: 2)")
    r.add_argument("--work", type=Path, help="working folder (default: <home>/default-model)")
    r.add_argument(
        "--out", type=Path, help="where to write model.onnx + report.json (default: the package)"
    )
    r.add_argument("--voices", default=None, help="simulate --voices (default: recipe)")
    r.add_argument("--lines", choices=("classic", "varied"), default=None)
    r.add_argument("--sounds", choices=("synthetic", "debian"), default=None)
    r.set_defaults(func=_rebuild)


def _export(args: argparse.Namespace) -> int:
    from callroles.export.runs import export_run  # noqa: PLC0415 (CLI handler: loaded on use)

    variants = tuple(v for v in args.variants.split(",") if v)
    report = export_run(
        args.model, args.out, windows=args.windows, variants=variants, rnn_export=args.rnn_export
    )
    print(
        f"wrote {report.path} ({report.size_bytes / 1024:.0f} KiB, {report.metadata['rnn']} "
        f"{len(report.metadata['classes'])} classes, version {report.metadata['model_version']}); "
        f"parity max abs diff {report.parity_max_abs_diff:.2g} on {report.parity_windows} windows"
    )
    for kind, v in report.variants.items():
        if kind == "stream":
            print(f"  trunk-once graph: {v['path']} ({v['frames_per_step']} frames per step)")
            continue
        extra = f", accuracy change {v['accuracy_change']:+.4f}" if "accuracy_change" in v else ""
        print(
            f"  {kind}: {v['path']} ({v['size_bytes'] / 1024:.0f} KiB), max abs diff vs fp32 "
            f"{v['max_abs_diff_vs_fp32']:.2g}, argmax agreement "
            f"{v['argmax_agreement_vs_fp32']:.3f}{extra}"
        )
    return 0


def _show(_args: argparse.Namespace) -> int:
    import onnx  # noqa: PLC0415 (CLI handler: loaded on use)

    from callroles.models.crnn import DEFAULT_MODEL, read_model  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.models.metadata import read_metadata  # noqa: PLC0415 (CLI handler: loaded on use)

    read_model(DEFAULT_MODEL)  # typed error when absent or damaged
    meta = read_metadata(onnx.load(str(DEFAULT_MODEL)), source=str(DEFAULT_MODEL))
    print(json.dumps({**meta.__dict__, "model_version": meta.model_version}, indent=2))
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    from callroles.base.settings import get_settings  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.export.rebuild import rebuild  # noqa: PLC0415 (CLI handler: loaded on use)

    work = args.work or get_settings().home / "default-model" / f"seed{args.seed}"
    report = rebuild(
        args.seed,
        work=work,
        out_dir=args.out,
        calls=args.calls,
        epochs=args.epochs,
        workers=args.workers,
        sources={
            "engines": tuple(args.voices.split(",")) if args.voices else None,
            "lines": args.lines,
            "sounds": args.sounds,
        },
    )
    print(f"default model rebuilt: {report.path} (version {report.metadata['model_version']})")
    return 0
