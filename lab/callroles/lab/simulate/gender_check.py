"""Share of ground-truth speech that inaSpeechSegmenter labels with the intended gender.

The paper takes speakers from inaSpeechSegmenter's gender labels, so a synthetic voice is only
useful if that model hears the gender it was meant to have. Used by the tests and the benchmark.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from callroles.base.settings import Settings
from callroles.deploy.provision import ina_segmenter

FPS = 100  # inaSpeechSegmenter's label resolution is 10 ms frames


def segmenter(settings: Settings) -> Any:
    """inaSpeechSegmenter with the provisioned weights (no download)."""
    return ina_segmenter(settings, vad_engine="smn", detect_gender=True)


def agreement(seg: Any, audio: Path, truth_json: Path) -> dict[str, tuple[float, float]]:
    """Per speaker: (seconds of single-speaker truth speech, seconds labelled its gender)."""
    truth = json.loads(truth_json.read_text())
    n = int(truth["duration_s"] * FPS) + 1
    labels = np.full(n, "", dtype=object)
    for label, start, end in seg(str(audio)):
        labels[int(start * FPS) : int(end * FPS)] = label
    owner = np.zeros(n, dtype=int)  # speakers talking in each frame
    for s in truth["segments"]:
        owner[int(s["start"] * FPS) : int(s["end"] * FPS)] += 1
    out: dict[str, tuple[float, float]] = {}
    for sid, spk in truth["speakers"].items():
        mask = np.zeros(n, dtype=bool)
        for s in truth["segments"]:
            if s["speaker"] == sid:
                mask[int(s["start"] * FPS) : int(s["end"] * FPS)] = True
        mask &= owner == 1  # overlaps belong to no single gender
        out[sid] = (mask.sum() / FPS, (mask & (labels == spk["gender"])).sum() / FPS)
    return out
