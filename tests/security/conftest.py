"""The security-configured stack (SASL/SCRAM + TLS Kafka, ACL + TLS Redis), once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from callroles.lab.settings import StackSettings
from tests.support.secure_stack import SecureStack
from tests.support.stacks import secure_stack


@pytest.fixture(scope="session")
def secure() -> Iterator[SecureStack]:
    """Fresh CA, certificates and SCRAM users, on free ports (tests.support.stacks)."""
    with secure_stack(StackSettings()) as stack:
        yield stack


@pytest.fixture(scope="session")
def secure_settings(secure: SecureStack) -> StackSettings:
    """What a worker's environment would hold for that stack."""
    return secure.client_settings(StackSettings())
