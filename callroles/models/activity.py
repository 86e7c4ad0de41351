"""How many people speak in each 10 ms frame, and where the speaker changes: a small trained model.

inaSpeechSegmenter gives each speech frame to one gender with a few hundred milliseconds of
hangover, and on a mono call a backchannel spoken under the other party goes to the louder
voice. Talk time within a few percent needs frame-precise boundaries and overlap, which energy
thresholds could not give (docs/frontend.md, "Why tuning stops here"). This model, trained on
generated calls whose truth is exact to the sample (``callroles.training.activity``), reads the
call's log-mel frames and says per frame: nobody, one speaker or two, and how likely the speaker
changes there. The separation strategies still say *who* speaks; this says *when* and *how many*.

The model is an ONNX file whose metadata carries its feature spec (checked here at load time)
and its class list, like the role model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from callroles.models.features import DEFAULT_SPEC, FeatureSpec, log_mel
from callroles.models.frame_model import FrameModel
from callroles.models.shipped import ACTIVITY_MODEL

CLASSES = ("none", "one", "overlap")
MODEL_NAME = "activity"
# the role model's log-mel frames, each mel band minus its mean over the call (gain-free)
ACTIVITY_SPEC = replace(DEFAULT_SPEC, normalisation="call-mean")
CHUNK_FRAMES = 3000  # 30 s per ONNX run keeps memory flat on hour-long calls
CONTEXT_FRAMES = 100  # beyond the model's receptive field (+-67 frames): chunking is exact


def default_activity_model() -> Path:
    """The shipped model, next to the default role model (callroles.models.shipped)."""
    return ACTIVITY_MODEL


def activity_features(signal: np.ndarray, spec: FeatureSpec = ACTIVITY_SPEC) -> np.ndarray:
    """(frames, n_mels) log-mel of a 1-D 8 kHz signal, each band minus its mean over the call."""
    if spec.normalisation != "call-mean":
        raise ValueError(f"the activity model wants call-mean features, not {spec.normalisation}")
    mel = log_mel(signal, replace(spec, normalisation="none")).T
    return np.asarray(mel - mel.mean(axis=0, keepdims=True), dtype=np.float32)


@dataclass(frozen=True)
class Activity:
    """Per 10 ms frame: P(nobody, one, two speak) and P(speaker change)."""

    count: np.ndarray  # (T, 3)
    change: np.ndarray  # (T,)

    def __len__(self) -> int:
        return len(self.count)

    def cut(self, n: int) -> Activity:
        """The first ``n`` frames, padded with silence when the grid is longer."""
        if n <= len(self):
            return Activity(self.count[:n], self.change[:n])
        pad = np.tile(np.array([[1.0, 0.0, 0.0]], np.float32), (n - len(self), 1))
        return Activity(np.vstack([self.count, pad]), np.r_[self.change, np.zeros(n - len(self))])


class ActivityModel(FrameModel):
    """An ONNX Runtime session over the activity graph; loaded once per path and provider."""

    MODEL_NAME = MODEL_NAME
    CLASSES = CLASSES
    SPEC = ACTIVITY_SPEC
    SHIPPED = ACTIVITY_MODEL
    KIND = "an activity model"

    def __call__(self, signal: np.ndarray) -> Activity:
        """Frame probabilities for a 1-D 8 kHz signal (frame t centred on sample 80 t)."""
        feats = activity_features(signal, self.spec)
        counts, changes = [], []
        for a in range(0, max(len(feats), 1), CHUNK_FRAMES):
            lo, hi = max(0, a - CONTEXT_FRAMES), min(len(feats), a + CHUNK_FRAMES + CONTEXT_FRAMES)
            out = dict(
                zip(
                    self.outputs,
                    self.session.run(None, {"logmel": feats[None, lo:hi]}),
                    strict=True,
                )
            )
            keep = slice(a - lo, a - lo + min(CHUNK_FRAMES, len(feats) - a))
            counts.append(out["count"][0][keep])
            changes.append(out["change"][0][keep, 0])
        return Activity(np.concatenate(counts), np.concatenate(changes))
