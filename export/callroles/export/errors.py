"""Typed errors of export (Keras -> ONNX), each with a stable reason code."""

from __future__ import annotations

from callroles.base.errors import ModelError


class ExportError(ModelError):
    """The Keras model could not be converted to ONNX."""

    code = "export_failed"
    stage = "export"


class ParityError(ExportError):
    """ONNX Runtime and Keras disagree on the same windows by more than the tolerance."""

    code = "export_parity"
