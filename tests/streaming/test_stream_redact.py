"""Phone numbers never reach a worker's log: redaction of messages and tracebacks."""

from __future__ import annotations

import io
import logging

from callroles.streaming import redact as R

PHONE = "+905321234567"
NAME = f"/spool/in-A017-{PHONE}-20261123-101500-c1.gsm"


def test_redact_hides_digit_runs_consistently() -> None:
    out = R.redact(f"call started: {NAME}")
    assert "905321234567" not in out and "20261123" not in out and "101500" not in out
    assert "A017" in out and out.startswith("call started: /spool/in-A017-#")
    assert R.redact(out) == out  # hashes are letters: redacting twice changes nothing
    assert R.redact(PHONE) == R.redact(PHONE) != R.redact("+905321234568")
    assert R.redact("12345 and port 29092") == "12345 and port 29092"  # short runs stay
    version = "model rolled out: b324758ad667 -> 87d2f8120a76 (sha 0123456789abcdef0123)"
    assert R.redact(version) == version  # hex versions and checksums are not numbers
    assert "905321234567" not in R.redact("c905321234567 and abc905321234567x")


def test_installed_factory_redacts_messages_args_and_tracebacks() -> None:
    old = logging.getLogRecordFactory()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("callroles.test.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        R.install()
        R.install()  # idempotent
        logger.warning("call %s started: %s", "c-1", NAME)
        record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "%s 100%%", ("x",), None)
        assert record.getMessage() == "x 100%" and record.args == ()  # Faust's formatter
        assert isinstance(record.args, tuple)  # re-formats args: they must stay a tuple
        try:
            raise FileNotFoundError(f"no recording at {NAME}")
        except FileNotFoundError:
            logger.exception("failed %s", PHONE)
    finally:
        logging.setLogRecordFactory(old)
        R._installed = False
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "call c-1 started" in text and "FileNotFoundError" in text
    assert "905321234567" not in text, text
