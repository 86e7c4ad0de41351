"""Phone numbers out of logs: digit runs of 6+ become a short salted hash, in one place.

Recording names carry the caller's number (Asterisk: ``in-A017-+905321234567-...gsm``), and
so do call ids made from them and error messages that name the file. Logs are kept longer and
read by more people than events, so every log record of a worker process is redacted by a
log-record factory (:func:`install`), tracebacks included. The same number gives the same
hash within a process (or across processes sharing ``CALLROLES_LOG_SALT``), so log lines of
one call still line up. The hash is written in letters only, so redacting twice is harmless.
A hexadecimal token of 12 to 64 characters with two letters or more in it (a model version, a
checksum) is not a number and is left alone: the model version b324758ad667 must stay readable
in a log (a call id such as c905321234567, one letter and a number, is still redacted).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from typing import Any

_TOKENS = re.compile(
    r"(?P<hex>(?<![0-9A-Za-z])(?=[0-9a-f]*[a-f][0-9a-f]*[a-f])[0-9a-f]{12,64}(?![0-9A-Za-z]))|(?P<num>\+?\d{6,})"
)
_LETTERS = str.maketrans("0123456789abcdef", "ghijklmnopabcdef")
_salt = os.environ.get("CALLROLES_LOG_SALT", "").encode() or os.urandom(16)
_installed = False


def redact(text: str) -> str:
    """``text`` with every run of 6+ digits (optionally after ``+``) replaced by ``#hash``."""

    def sub(match: re.Match[str]) -> str:
        if match.group("hex"):
            return match.group(0)
        digest = hashlib.sha256(_salt + match.group(0).encode()).hexdigest()[:8]
        return "#" + digest.translate(_LETTERS)

    return _TOKENS.sub(sub, text)


def install() -> None:
    """Redact every log record made in this process from now on (idempotent)."""
    global _installed
    if _installed:
        return
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the handler to report
            return record
        record.msg, record.args = redact(message), ()  # a tuple: formatters (mode's) expect one
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
