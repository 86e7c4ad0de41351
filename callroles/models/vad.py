"""Is anybody speaking: silero-vad, a voice-activity model trained on large real data.

Our activity model has heard only generated calls; inaSpeechSegmenter's speech/music/noise CNN
was trained on real broadcast audio, but it labels whole stretches (its hangover merges pauses,
and on noisy phone lines it can call speech "noise"). silero-vad (MIT) was trained on thousands
of hours of real speech in many languages, noise and music, and runs at 8 kHz: it is the third
opinion ``callroles.frontend.speech`` combines with the other two.

The weights come from silero-vad's PyPI wheel (``silero_vad/data/silero_vad.onnx``), extracted by
the install step (``python -m callroles.deploy.provision``); nothing downloads at run time. The
model is recurrent over 32 ms chunks (256 samples at 8 kHz plus 32 samples of the previous
chunk as context, a (2, batch, 128) state). A call is cut into pieces that run side by side as
one batch, each piece first warmed up on the audio before it, so an hour costs a few hundred
ONNX runs instead of a hundred thousand.

silero is causal (built for live audio): it hears a voice a little late and lets it go late
(its state carries the voice over into the pause after it). A finished recording can be heard
both ways: ``both_ways`` runs it again on the reversed signal and averages the two, so neither
lag is one-sided (docs/frontend.md, "Speech evidence": "silero-vad heard both ways").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from callroles.base.settings import Settings
from callroles.models.errors import ModelMissingError
from callroles.models.sessions import cpu_session

SILERO_WHEEL = "silero-vad==6.2.3"
SILERO_MEMBER = "silero_vad/data/silero_vad.onnx"
SAMPLE_RATE = 8000
CHUNK = 256  # samples per step at 8 kHz (32 ms)
CONTEXT = 32  # samples of the previous chunk the model sees with each step
STATE_SHAPE = (2, 128)
PIECE_CHUNKS = 625  # 20 s per batch row
WARMUP_CHUNKS = 63  # ~2 s of the audio before a piece, run to settle the recurrent state


def vad_model_path(settings: Settings) -> Path:
    """Where the install step puts the weights (under ``CALLROLES_HOME``)."""
    return settings.home / "silero" / "silero_vad-6.2.3.onnx"


class SileroVad:
    """silero-vad on a shared session (``callroles.models.sessions``); safe from several threads."""

    def __init__(self, session: Any, path: Path) -> None:
        self.session = session
        self.path = path

    @classmethod
    def load(cls, settings: Settings, threads: int = 0) -> SileroVad:
        path = vad_model_path(settings)
        if not path.exists():
            raise ModelMissingError(
                f"silero-vad weights missing in {path}; run `deploy/setup.sh` "
                "(or `python -m callroles.deploy.provision`)"
            )
        return cls(cpu_session(path, threads), path)

    def chunk_probabilities(self, signal: np.ndarray) -> np.ndarray:
        """P(speech) per 32 ms chunk of a 1-D 8 kHz float signal in [-1, 1]."""
        x = np.asarray(signal, dtype=np.float32).ravel()
        n_chunks = int(np.ceil(len(x) / CHUNK))
        if n_chunks == 0:
            return np.zeros(0, np.float32)
        x = np.pad(x, (0, n_chunks * CHUNK - len(x)))
        chunks = x.reshape(n_chunks, CHUNK)
        n_pieces = int(np.ceil(n_chunks / PIECE_CHUNKS))
        steps = WARMUP_CHUNKS + PIECE_CHUNKS
        # row r runs chunks [r*P - W, r*P + P); chunks before 0 or after the end are silence
        index = (
            np.arange(steps)[None, :]
            + (np.arange(n_pieces) * PIECE_CHUNKS - WARMUP_CHUNKS)[:, None]
        )
        valid = (index >= 0) & (index < n_chunks)
        batch = np.where(valid[..., None], chunks[np.clip(index, 0, n_chunks - 1)], 0.0)
        state = np.zeros((STATE_SHAPE[0], n_pieces, STATE_SHAPE[1]), np.float32)
        context = np.zeros((n_pieces, CONTEXT), np.float32)
        sr = np.array(SAMPLE_RATE, dtype=np.int64)
        out = np.zeros((n_pieces, steps), np.float32)
        for t in range(steps):
            step = batch[:, t].astype(np.float32)
            prob, state = self.session.run(
                None, {"input": np.concatenate([context, step], axis=1), "state": state, "sr": sr}
            )
            out[:, t] = np.asarray(prob).reshape(-1)
            context = step[:, -CONTEXT:]
        probs = out[:, WARMUP_CHUNKS:].reshape(-1)
        return probs[:n_chunks]

    def __call__(
        self, signal: np.ndarray, n_frames: int, frame_s: float = 0.01, both_ways: bool = False
    ) -> np.ndarray:
        """P(speech) per ``frame_s`` frame: each frame takes the chunk holding its centre.
        ``both_ways``: the mean of the forward run and a run over the reversed frames."""
        x = np.asarray(signal, dtype=np.float32).ravel()
        forward = self._frames(x, n_frames, frame_s)
        if not both_ways:
            return forward
        step = int(round(frame_s * SAMPLE_RATE))
        backward = self._frames(x[: n_frames * step][::-1].copy(), n_frames, frame_s)
        return ((forward + backward[::-1]) / 2).astype(np.float32)

    def _frames(self, signal: np.ndarray, n_frames: int, frame_s: float) -> np.ndarray:
        probs = self.chunk_probabilities(signal)
        if len(probs) == 0:
            return np.zeros(n_frames, np.float32)
        centres = (np.arange(n_frames) + 0.5) * frame_s * SAMPLE_RATE
        idx = np.clip((centres // CHUNK).astype(int), 0, len(probs) - 1)
        return probs[idx]
