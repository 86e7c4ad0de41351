"""Music or a voice? A small model that has heard real music and real voices on phone lines.

inaSpeechSegmenter's speech/music decision holds on broadcast audio, but on real hold music
coded for a telephone line it calls the first seconds of a track male speech, and our activity
model, which has heard only synthetic chords, confirms it (docs/frontend.md, "Real hold music").
silero-vad hears no voice there, but it also misses real speech on choppy GSM calls, so it
cannot veto ina on its own. This model, trained on 87 real game-music tracks from Debian against
real LibriSpeech readers and recorded prompts, each through a random phone line
(``callroles.training.music``), says per 10 ms frame how sure it is that the sound is music;
``callroles.frontend.speech`` lets it veto a frame only where silero-vad hears no voice either.

It scores 1 s windows (the project's log-mel frames, each window minus its own mean: level-free)
every 0.2 s, and only around the frames it is asked about, so a call costs little. The ONNX
file's metadata carries its feature spec, checked here at load time.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from callroles.models.features import DEFAULT_SPEC, FeatureSpec, log_mel
from callroles.models.frame_model import FrameModel
from callroles.models.shipped import MUSIC_MODEL

CLASSES = ("voice", "music")
MODEL_NAME = "music"
#: the role model's log-mel frames, 1 s windows, each minus its own mean (gain-free)
MUSIC_SPEC = replace(
    DEFAULT_SPEC, normalisation="window-mean", window_s=1.0, hop_s=0.2, frames_per_window=100
)
BATCH = 32  # the first convolution holds 16 x 96 x 100 floats per window: 20 MB a batch


def windows_at(mel: np.ndarray, starts: np.ndarray, spec: FeatureSpec = MUSIC_SPEC) -> np.ndarray:
    """(N, n_mels, W) windows of a (n_mels, frames) log-mel starting at ``starts``, each minus
    its own mean; frames past the end are padded with the quietest value."""
    w = spec.frames_per_window
    if mel.shape[1] < w:
        pad = np.full((mel.shape[0], w - mel.shape[1]), 10.0 * np.log10(spec.log_floor))
        mel = np.concatenate([mel, pad.astype(mel.dtype)], axis=1)
    idx = np.asarray(starts, int)[:, None] + np.arange(w)[None, :]
    win = np.moveaxis(mel[:, np.minimum(idx, mel.shape[1] - 1)], 1, 0)
    return np.asarray(win - win.mean(axis=(1, 2), keepdims=True), dtype=np.float32)


def music_features(signal: np.ndarray, spec: FeatureSpec = MUSIC_SPEC) -> np.ndarray:
    """(n_mels, frames) log-mel of a 1-D 8 kHz signal, as the music model was trained on."""
    if spec.normalisation != "window-mean":
        raise ValueError(f"the music model wants window-mean features, not {spec.normalisation}")
    return log_mel(signal, replace(spec, normalisation="none"))


def window_starts(where: np.ndarray, n_frames: int, spec: FeatureSpec = MUSIC_SPEC) -> np.ndarray:
    """Starts, every ``hop_s`` (and one flush with the end), of the windows that hold at least
    one frame of ``where``."""
    w, hop = spec.frames_per_window, spec.frames_per_hop
    last = max(0, n_frames - w)
    grid = np.unique(np.r_[np.arange(0, last + 1, hop), last])
    held = np.concatenate([[0], np.cumsum(np.asarray(where[:n_frames], bool))])
    return grid[held[np.minimum(grid + w, n_frames)] - held[grid] > 0]


class MusicModel(FrameModel):
    """An ONNX Runtime session over the music graph; loaded once per path and provider."""

    MODEL_NAME = MODEL_NAME
    CLASSES = CLASSES
    SPEC = MUSIC_SPEC
    SHIPPED = MUSIC_MODEL
    KIND = "a music model"

    def windows(self, win: np.ndarray) -> np.ndarray:
        """P(music) of (N, n_mels, W) windows."""
        out = [
            self.session.run(None, {self.input: win[i : i + BATCH, ..., None]})[0][:, 1]
            for i in range(0, len(win), BATCH)
        ]
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def __call__(
        self, signal: np.ndarray, n_frames: int, where: np.ndarray | None = None
    ) -> np.ndarray:
        """P(music) per 10 ms frame: the mean over the windows that hold it. Only frames of
        ``where`` (None: all) are scored; the others, and every frame of a signal shorter than
        one window, get 0."""
        out = np.zeros(n_frames, np.float32)
        asked = np.ones(n_frames, bool) if where is None else np.zeros(n_frames, bool)
        if where is not None:
            given = np.asarray(where[:n_frames], bool)
            asked[: len(given)] = given
        if not asked.any() or len(signal) < MUSIC_SPEC.window_samples:
            return out  # no verdict on less than one window: it never trained on padding
        mel = music_features(signal)
        starts = window_starts(asked, min(n_frames, mel.shape[1]))
        p = self.windows(windows_at(mel, starts))
        total = np.zeros(n_frames)
        count = np.zeros(n_frames)
        w = MUSIC_SPEC.frames_per_window
        for s, q in zip(starts, p, strict=True):
            total[s : s + w] += q
            count[s : s + w] += 1
        held = count > 0
        out[held] = (total[held] / count[held]).astype(np.float32)
        return np.where(asked, out, 0.0).astype(np.float32)
