"""A small exception hierarchy. Every error carries a stable reason code.

Reason codes travel in error events (see ``schemas/``), so a consumer can react to the code
without parsing messages. Keep codes lowercase snake case and never reuse one for another meaning.
"""

from __future__ import annotations


class CallrolesError(Exception):
    """Base of every error callroles raises on purpose."""

    code = "internal"
    stage = "unknown"

    def __init__(self, message: str, *, code: str | None = None, stage: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        if stage is not None:
            self.stage = stage

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(CallrolesError):
    """Settings are missing or inconsistent."""

    code = "config"
    stage = "config"


class StackError(CallrolesError):
    """The local Kafka/Redis stack could not be installed, started or reached."""

    code = "stack"
    stage = "stack"


class InputError(CallrolesError):
    """An event or a recording the service refuses (bad shape, not allowed, too big)."""

    code = "invalid_input"
    stage = "ingest"


class AudioError(InputError):
    """A recording that cannot be decoded or is outside the configured limits."""

    code = "audio_decode"
    stage = "decode"


class ModelError(CallrolesError):
    """A model file that is missing, corrupt, foreign, or built for another feature spec."""

    code = "model"
    stage = "model"
