"""The local stack's settings: a worker's (``callroles.streaming.settings``) plus how the lab
runs its own Kafka broker and Redis on 127.0.0.1."""

from __future__ import annotations

import functools
from pathlib import Path

from callroles.streaming.settings import StreamingSettings


class StackSettings(StreamingSettings):
    """A worker's settings and the local Kafka's version and ports."""

    kafka_controller_port: int = 19093
    kafka_version: str = "4.0.0"
    scala_version: str = "2.13"
    maven_settings: Path | None = None  # a settings.xml with a proxy or mirror for Maven Central


@functools.cache
def stack_settings() -> StackSettings:
    """The local stack's settings, built once per process: for entry points only."""
    return StackSettings()
