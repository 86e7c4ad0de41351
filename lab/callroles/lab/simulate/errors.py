"""Errors of the corpus generator, each with a stable code (see :mod:`callroles.base.errors`)."""

from __future__ import annotations

from callroles.base.errors import CallrolesError, InputError


class SimulateInputError(InputError):
    """A bad option: unknown language or voice, a call count <= 0, an output folder in use."""

    code = "simulate_bad_input"
    stage = "simulate"


class SynthesisError(CallrolesError):
    """An offline TTS engine or sox failed; the message names the command that failed."""

    code = "simulate_synthesis"
    stage = "simulate"
