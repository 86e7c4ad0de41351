"""The security-configured stack (SASL/SCRAM + TLS Kafka, ACL + TLS Redis), once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from callroles.deploy import secure_stack
from callroles.settings import Settings


@pytest.fixture(scope="session")
def secure() -> Iterator[secure_stack.SecureStack]:
    """Fresh CA, certificates and SCRAM users on ports 29192/29193 (Kafka) and 26479 (Redis)."""
    stack = secure_stack.start(Settings())
    try:
        yield stack
    finally:
        secure_stack.stop(stack)


@pytest.fixture(scope="session")
def secure_settings(secure: secure_stack.SecureStack) -> Settings:
    """What a worker's environment would hold for that stack."""
    return secure.client_settings(Settings())
