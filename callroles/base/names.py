"""Ids as file and folder names: one rule for every place that writes one (reports, datasets).

Call and speaker ids come from telephony systems and may hold ``/``, spaces or a leading dot.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9+._-]")


def safe_name(text: str, empty: str = "_") -> str:
    """``text`` with every character outside ``A-Za-z0-9+._-`` replaced by ``_`` and no leading
    dot (no hidden files, no ``..``); ``empty`` when nothing is left."""
    return _UNSAFE.sub("_", text).lstrip(".") or empty
