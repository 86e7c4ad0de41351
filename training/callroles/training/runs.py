"""A training run's folder: its ``meta.json``, written by training and read by evaluation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from callroles.base.errors import ModelError


def write_meta(run_dir: Path, meta: dict[str, Any]) -> None:
    """Write meta.json atomically enough for a reader in another process."""
    tmp = run_dir / "meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2) + "\n")
    tmp.replace(run_dir / "meta.json")


def read_meta(run_dir: Path) -> dict[str, Any]:
    """meta.json of a run folder, with a clear message when it is not a run folder."""
    path = Path(run_dir) / "meta.json"
    if not path.is_file():
        raise ModelError(f"{run_dir} is not a training run folder (no meta.json)", code="no_run")
    result: dict[str, Any] = json.loads(path.read_text())
    return result
