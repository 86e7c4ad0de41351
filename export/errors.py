"""Typed errors of export and scoring, each with a stable reason code.

Codes go into error events; a consumer reacts to ``model_feature_spec`` (retrain or pin the front
end) differently from ``model_missing`` (fix the path), so each failure has its own.
"""

from __future__ import annotations

from callroles.errors import ModelError


class ExportError(ModelError):
    """The Keras model could not be converted to ONNX."""

    code = "export_failed"
    stage = "export"


class ParityError(ExportError):
    """ONNX Runtime and Keras disagree on the same windows by more than the tolerance."""

    code = "export_parity"


class ModelMissingError(ModelError):
    """The model file does not exist."""

    code = "model_missing"


class ModelCorruptError(ModelError):
    """The file exists but is not a readable ONNX model, or its graph checksum does not match."""

    code = "model_corrupt"


class ModelForeignError(ModelError):
    """A valid ONNX model that callroles did not export (no callroles metadata, wrong shapes)."""

    code = "model_foreign"


class ModelSpecError(ModelError):
    """The model was trained on features computed with another feature spec."""

    code = "model_feature_spec"
