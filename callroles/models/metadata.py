"""What an exported model says about itself, stored in the ONNX file's ``metadata_props``.

A worker that only has the ``.onnx`` file must be able to tell which classes it predicts, which
feature spec its windows need, and whether the graph is intact; so all of it travels inside the
file, under keys prefixed ``callroles.``, with the graph's SHA-256 as the integrity check.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import onnx

from callroles.base import __version__
from callroles.models.errors import ModelCorruptError, ModelForeignError

PREFIX = "callroles."
FORMAT = "1"  # bump when the keys below change meaning


@dataclass(frozen=True)
class ModelMetadata:
    """The facts an exported model carries; JSON values are stored as JSON strings."""

    feature_spec: dict[str, Any]
    classes: tuple[str, ...]
    rnn: str
    param_count: int
    model_name: str = "crnn"
    data_summary: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    variant: str = "fp32"
    rnn_export: str = "native"
    callroles_version: str = __version__
    graph_sha256: str = ""
    stream: dict[str, Any] = field(default_factory=dict)  # trunk-once graph: stride, steps, parent

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def model_version(self) -> str:
        """Identifies the weights: same graph, same version, whatever the file name."""
        return self.graph_sha256[:12]

    def to_props(self) -> dict[str, str]:
        return {
            PREFIX + "format": FORMAT,
            PREFIX + "feature_spec": json.dumps(self.feature_spec, sort_keys=True),
            PREFIX + "classes": json.dumps(list(self.classes)),
            PREFIX + "n_classes": str(self.n_classes),
            PREFIX + "rnn": self.rnn,
            PREFIX + "param_count": str(self.param_count),
            PREFIX + "model_name": self.model_name,
            PREFIX + "data_summary": json.dumps(self.data_summary, sort_keys=True),
            PREFIX + "evaluation": json.dumps(self.evaluation, sort_keys=True),
            PREFIX + "variant": self.variant,
            PREFIX + "rnn_export": self.rnn_export,
            PREFIX + "callroles_version": self.callroles_version,
            PREFIX + "graph_sha256": self.graph_sha256,
            PREFIX + "stream": json.dumps(self.stream, sort_keys=True),
        }

    @classmethod
    def from_props(cls, props: dict[str, str], *, source: str = "model") -> ModelMetadata:
        """Parse metadata; a file without it was not exported by callroles."""
        if PREFIX + "format" not in props:
            raise ModelForeignError(
                f"{source} is an ONNX model but not one exported by callroles (no "
                f"'{PREFIX}*' metadata); export a trained run with `callroles export RUN`"
            )
        try:
            classes = tuple(json.loads(props[PREFIX + "classes"]))
            meta = cls(
                feature_spec=json.loads(props[PREFIX + "feature_spec"]),
                classes=classes,
                rnn=props[PREFIX + "rnn"],
                param_count=int(props[PREFIX + "param_count"]),
                model_name=props.get(PREFIX + "model_name", "crnn"),
                data_summary=json.loads(props.get(PREFIX + "data_summary", "{}")),
                evaluation=json.loads(props.get(PREFIX + "evaluation", "{}")),
                variant=props.get(PREFIX + "variant", "fp32"),
                rnn_export=props.get(PREFIX + "rnn_export", "unknown"),
                callroles_version=props.get(PREFIX + "callroles_version", "unknown"),
                graph_sha256=props[PREFIX + "graph_sha256"],
                stream=json.loads(props.get(PREFIX + "stream", "{}")),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelCorruptError(
                f"{source} has damaged callroles metadata ({type(exc).__name__}: {exc}); "
                "re-export the model"
            ) from exc
        if int(props.get(PREFIX + "n_classes", len(classes))) != len(classes):
            raise ModelCorruptError(f"{source}: n_classes disagrees with the class list")
        return meta


def graph_checksum(model: onnx.ModelProto) -> str:
    """SHA-256 of the graph alone (metadata excluded, so writing metadata does not change it)."""
    return hashlib.sha256(model.graph.SerializeToString(deterministic=True)).hexdigest()


def write_metadata(model: onnx.ModelProto, meta: ModelMetadata) -> ModelMetadata:
    """Stamp ``meta`` (with the graph's checksum filled in) into ``model``; returns the stamp."""
    stamped = ModelMetadata(**{**meta.__dict__, "graph_sha256": graph_checksum(model)})
    keep = [p for p in model.metadata_props if not p.key.startswith(PREFIX)]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for key, value in stamped.to_props().items():
        model.metadata_props.add(key=key, value=value)
    model.producer_name = "callroles"
    model.producer_version = __version__
    return stamped


def read_metadata(model: onnx.ModelProto, *, source: str = "model") -> ModelMetadata:
    """Metadata of ``model``, verified against the graph's actual checksum."""
    meta = ModelMetadata.from_props({p.key: p.value for p in model.metadata_props}, source=source)
    actual = graph_checksum(model)
    if actual != meta.graph_sha256:
        raise ModelCorruptError(
            f"{source}: graph checksum {actual[:12]} does not match the recorded "
            f"{meta.graph_sha256[:12]}; the file was modified or damaged, re-export it"
        )
    return meta
