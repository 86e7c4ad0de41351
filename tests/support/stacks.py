"""The local stacks the suites run on: Kafka+Redis (``callroles.lab.stack``) and the
security-configured one (``tests.support.secure_stack``).

Ports are free ones chosen per session unless environment variables name them
(``<prefix>KAFKA_PORT``, ``<prefix>KAFKA_CONTROLLER_PORT``, ``<prefix>REDIS_PORT``; prefix
``CALLROLES_TEST_`` for the shared test stack, ``CALLROLES_FAULT_`` for the fault suite's), so
two sessions on one machine never meet. The stack keeps its data in one folder per port under
``<home>/stack``; folders of ports chosen here are deleted when the stack stops.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from callroles.lab import stack as stack_mod
from callroles.lab.settings import StackSettings
from tests.support import secure_stack as secure_mod
from tests.support.ports import free_ports

if TYPE_CHECKING:
    from tests.support.secure_stack import SecureStack

PORT_VARS = {
    "kafka_port": "KAFKA_PORT",
    "kafka_controller_port": "KAFKA_CONTROLLER_PORT",
    "redis_port": "REDIS_PORT",
}


def _env_ports(env_prefix: str) -> dict[str, int]:
    """The ports the environment names (``<env_prefix>KAFKA_PORT`` ...), by settings field."""
    found = {}
    for field, var in PORT_VARS.items():
        value = os.environ.get(env_prefix + var, "").strip()
        if value:
            found[field] = int(value)
    return found


def stack_settings(env_prefix: str = "CALLROLES_TEST_", **extra: Any) -> StackSettings:
    """Settings of a local stack on the ports the environment names, free ports for the rest."""
    ports = _env_ports(env_prefix)
    free = iter(free_ports(len(PORT_VARS)))
    for field in PORT_VARS:
        ports.setdefault(field, next(free))
    return StackSettings(
        kafka_port=ports["kafka_port"],
        kafka_controller_port=ports["kafka_controller_port"],
        redis_port=ports["redis_port"],
        kafka_bootstrap=None,
        redis_url=None,
        **extra,
    )


@contextlib.contextmanager
def local_stack(env_prefix: str = "CALLROLES_TEST_", **extra: Any) -> Iterator[StackSettings]:
    """Kafka and Redis running on :func:`stack_settings`' ports; afterwards stop what this
    started (a stack already answering on ports named by the environment is left alone) and
    delete the data folders of ports chosen here."""

    settings = stack_settings(env_prefix, **extra)
    named = _env_ports(env_prefix)
    before = stack_mod.status(settings)
    try:
        stack_mod.start(settings)
        yield settings
    finally:
        paths = stack_mod.stack_paths(settings)
        if not before["kafka"]["answers"]:
            stack_mod.stop_kafka(settings)
            if "kafka_port" not in named:
                shutil.rmtree(paths.kafka_dir, ignore_errors=True)
        if not before["redis"]["answers"]:
            stack_mod.stop_redis(settings)
            if "redis_port" not in named:
                shutil.rmtree(paths.redis_dir, ignore_errors=True)


@contextlib.contextmanager
def secure_stack(base: StackSettings | None = None) -> Iterator[SecureStack]:
    """The SASL/SCRAM + TLS Kafka and ACL + TLS Redis on free ports, with a fresh CA and
    users; stopped and its folder deleted afterwards."""

    kafka, controller, redis = free_ports(3)
    stack = secure_mod.start(
        base or StackSettings(), ports={"kafka": kafka, "controller": controller, "redis": redis}
    )
    try:
        yield stack
    finally:
        secure_mod.stop(stack)
        shutil.rmtree(stack.root, ignore_errors=True)


def secure_worker_env(secure: SecureStack, settings: StackSettings) -> dict[str, str]:
    """A worker's environment for the secure stack, configured only through CALLROLES_* vars
    (``settings``: the secure client settings with the topic prefix and partitions to use)."""
    env = {
        **os.environ,
        "CALLROLES_KAFKA_BOOTSTRAP": settings.bootstrap_servers,
        "CALLROLES_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "CALLROLES_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "CALLROLES_KAFKA_SASL_USERNAME": secure.client_user,
        "CALLROLES_KAFKA_SASL_PASSWORD": secure.client_password,
        "CALLROLES_KAFKA_SSL_CAFILE": str(secure.ca_file),
        "CALLROLES_REDIS_URL": settings.redis_dsn,
        "CALLROLES_REDIS_SSL_CA_CERTS": str(secure.ca_file),
        "CALLROLES_TOPIC_PREFIX": settings.topic_prefix,
        "CALLROLES_PARTITIONS": str(settings.partitions),
    }
    env.pop("CALLROLES_SETTINGS_FILE", None)
    return env
