"""The packages of the tree, as ``.importlinter`` lists them (the one list: a package missing
there fails tests/test_code_rules.py), and every module in them."""

from __future__ import annotations

import configparser
import importlib
import pkgutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def packages() -> list[str]:
    """``callroles.<name>`` for every package the layer contracts cover."""
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    return config["importlinter"]["root_packages"].split()


def modules() -> list[str]:
    """Every module of every package (imported: their import must work)."""
    out = []
    for name in packages():
        pkg = importlib.import_module(name)
        out.append(name)
        out += [m.name for m in pkgutil.walk_packages(pkg.__path__, f"{name}.")]
    return out
