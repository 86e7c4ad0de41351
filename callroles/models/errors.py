"""Typed errors of loading and running models, each with a stable reason code.

Codes go into error events; a consumer reacts to ``model_feature_spec`` (retrain or pin the front
end) differently from ``model_missing`` (fix the path), so each failure has its own.
"""

from __future__ import annotations

from callroles.base.errors import AudioError, ModelError


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


class ModelNotConvertedError(ModelError):
    """A model the install step converts (inaSpeechSegmenter's CNNs, the voice encoder's
    weights) is not there: workers never convert at run time."""

    code = "model_not_installed"


class SegmenterError(AudioError):
    """inaSpeechSegmenter's models, or the voice encoder's, could not be loaded or run."""

    code = "segmenter"
    stage = "segment"
