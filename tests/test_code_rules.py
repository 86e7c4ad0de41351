"""The rules the tree keeps, checked (``make lint`` runs this file too).

- No module over 400 lines.
- An import inside a function says why (``# noqa: PLC0415 (reason)``; ruff flags any other).
- Every package of the tree is placed in the layer contracts (``.importlinter``).
- A worker loads no TensorFlow, tf2onnx, Keras or model-building module.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.support.tree import ROOT, packages

MAX_LINES = 400
SOURCES = ["callroles", *(f"{d}/callroles" for d in (
    "schemas", "streaming", "export", "training", "deploy", "bench", "lab"
))] + ["tests"]  # fmt: skip
JUSTIFIED = re.compile(r"#\s*noqa:\s*PLC0415\s*\((?P<why>[^)]{8,})\)")


def _python_files() -> list[Path]:
    return sorted(p for d in SOURCES for p in (ROOT / d).rglob("*.py"))


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _python_files()
        if (n := len(p.read_text("utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these modules (at most {MAX_LINES} lines): {long}"


def test_every_import_inside_a_function_says_why() -> None:
    """ruff (PLC0415, in ``make lint``) refuses an import in a function without a noqa; here
    each noqa must carry a reason in parentheses."""
    unjustified, counted = [], 0
    for p in _python_files():
        if p == Path(__file__):
            continue
        for n, line in enumerate(p.read_text("utf-8").splitlines(), 1):
            if re.search(r"noqa:\s*PLC0415", line):
                counted += 1
                if not JUSTIFIED.search(line):
                    unjustified.append(f"{p.relative_to(ROOT)}:{n}")
    assert unjustified == [], f"say why these import inside a function: {unjustified}"
    assert counted > 0  # the rule is in force: CLI handlers and TensorFlow import lazily
    print(f"{counted} imports inside functions, each with its reason")


def test_every_package_is_in_the_layer_contracts() -> None:
    listed = set(packages())
    found = {
        f"callroles.{init.parent.name}"
        for d in SOURCES
        if d != "tests"
        for init in (ROOT / d).glob("*/__init__.py")
    } | {
        f"callroles.{init.parent.name}"
        for d in SOURCES
        if d != "tests" and d.endswith("/callroles")
        for init in (ROOT / d).glob("*/__init__.py")
    }
    assert found - listed == set(), f"place these packages in .importlinter: {found - listed}"
    assert listed - found == set(), f".importlinter names packages that are gone: {listed - found}"


def test_the_layer_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_a_worker_loads_no_model_building() -> None:
    """What ``callroles worker`` imports to run calls: the app, the processor and the pipeline."""
    code = (
        "import json, sys\n"
        "import callroles.streaming.app, callroles.call.pipeline\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    loaded = json.loads(out)
    banned = (
        "tensorflow",
        "tf_keras",
        "tf2onnx",
        "keras",
        "callroles.training",
        "callroles.export",
    )
    assert [m for m in loaded if m.split(".")[0] in banned or m.startswith(banned)] == []
