"""``make lint``'s layer check: import-linter over the package as Python imports it.

Our packages live in top-level folders (``streaming/`` is ``callroles.streaming``, mapped by
pyproject's ``package-dir``), and import-linter's graph builder only walks the folder of
``callroles`` itself. So this builds a throw-away tree of symlinks in the installed layout and
runs ``lint-imports`` (contracts in ``.importlinter``) against it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from callroles.settings import PROJECT_ROOT


def mirror(root: Path, out: Path) -> Path:
    """A ``callroles`` folder under ``out`` whose sub-packages are symlinks to their folders."""
    mapping: dict[str, str] = tomllib.loads((root / "pyproject.toml").read_text())["tool"][
        "setuptools"
    ]["package-dir"]
    pkg = out / "callroles"
    pkg.mkdir()
    for entry in (root / mapping["callroles"]).iterdir():
        if entry.name != "__pycache__":
            (pkg / entry.name).symlink_to(entry)
    for name, folder in mapping.items():
        if name.count(".") == 1:
            (pkg / name.split(".", 1)[1]).symlink_to(root / folder)
    return pkg


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="callroles-layers-") as tmp:
        mirror(PROJECT_ROOT, Path(tmp))
        env = {**os.environ, "PYTHONPATH": tmp}
        lint = Path(sys.executable).with_name("lint-imports")
        cmd = [str(lint), str(PROJECT_ROOT / ".importlinter")]
        return subprocess.run(cmd, env=env, cwd=tmp, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
