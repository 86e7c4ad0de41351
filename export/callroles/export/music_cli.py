"""``callroles music train``: the music check, trained, exported to ONNX and (``--ship``) shipped.

It sits in ``export`` because it ends in an ONNX export; the training itself is
``callroles.training.music``. Handlers import TensorFlow, so ``callroles --help`` does not.
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from callroles.base.settings import SHARED_DATA

LIBRISPEECH = SHARED_DATA / "speakers" / "librispeech" / "train-clean-100"


def _train(args: argparse.Namespace) -> int:
    from callroles.export.music_export import export_music  # noqa: PLC0415 (TensorFlow: in the handler)
    from callroles.training import music as M  # noqa: PLC0415 (CLI handler: loaded on use)

    out = Path(args.out)
    config = M.DEBUG if args.debug else M.MusicConfig()
    given = {k: v for k, v in (("pairs", args.pairs), ("epochs", args.epochs)) if v}
    config = replace(config, **given)
    sources = M.Sources.find(Path(args.speech))
    print(
        f"[music] {len(sources.music)} music files, {len(sources.readers)} readers, "
        f"{len(sources.prompts)} prompts"
    )
    report = M.train(sources, out, config)
    probe = report.pop("probe")
    history = json.loads((out / "history.json").read_text())
    M.curves(history, out / "training_curves.png")
    report["synthetic"] = False  # real music and real voices; the phone lines are simulated
    report["model_version"] = export_music(out / "model.keras", out / "music.onnx", report, probe)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    print(f"[music] best epoch {report['best']['epoch']}: {json.dumps(report['best'])}")
    print(f"[music] wrote {out / 'music.onnx'} (version {report['model_version']})")
    if args.ship:
        from callroles.models.shipped import MUSIC_MODEL  # noqa: PLC0415 (CLI handler: loaded on use)

        shutil.copyfile(out / "music.onnx", MUSIC_MODEL)
        shutil.copyfile(out / "report.json", MUSIC_MODEL.with_suffix(".json"))
        print(f"[music] shipped as {MUSIC_MODEL}")
    return 0


def register(sub: Any) -> None:
    """Add ``music train``."""
    m = sub.add_parser("music", help="the music check that keeps hold music out of talk")
    m_sub = m.add_subparsers(dest="music_command", metavar="ACTION", required=True)
    t = m_sub.add_parser(
        "train", help="train it on real music and real voices (Debian, LibriSpeech)"
    )
    t.add_argument("--out", required=True, help="run folder")
    t.add_argument("--speech", default=str(LIBRISPEECH), help="LibriSpeech-style folder of readers")
    t.add_argument("--pairs", type=int, default=None, help="clips of music (and of voices)")
    t.add_argument("--epochs", type=int, default=None)
    t.add_argument("--debug", action="store_true", help="tiny configuration: a few clips, 2 epochs")
    t.add_argument("--ship", action="store_true", help="copy it over the shipped model")
    t.set_defaults(func=_train)
