"""Trim a speaker's talk time to voiced frames: ina's speech segments run long.

inaSpeechSegmenter labels speech in runs that carry a hangover of a few hundred milliseconds
after each utterance and absorb short pauses, so talk time read straight from its runs came out
up to 20% too long on generated calls. Each speech frame is kept only if its energy is clearly
above the call's noise floor; pauses shorter than ``bridge_s`` between voiced frames still count
as talk, the way a listener (and the simulator's ground truth) counts them. The noise floor is
read from the frames ina itself calls silence or noise, so music or a loud line does not raise it.

Only the time budget (segments, talk time, overlap) uses the trimmed masks; the windows scored
by the CRNN keep ina's runs, which is what the model was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from callroles.frontend.segmentation import FRAME_S, SpeakerTrack, runs


@dataclass(frozen=True)
class VoicingSpec:
    """Energy thresholds; measured on generated calls (docs/frontend.md, 'Talk time')."""

    above_floor_db: float = 6.0  # a voiced frame is this much louder than the noise floor
    below_peak_db: float = 40.0  # ... and at most this much quieter than the loudest frame
    bridge_s: float = 0.5  # pauses up to this long inside speech count as talk
    floor_percentile: float = 10.0
    min_floor_frames: int = 100  # 1 s of silence/noise frames to estimate the floor from


DEFAULT_VOICING = VoicingSpec()


def frame_levels_db(signal: np.ndarray, samples_per_frame: int, n_frames: int) -> np.ndarray:
    """Mean power per 10 ms frame in dB, padded with -120 dB up to ``n_frames``."""
    n = min(n_frames, len(signal) // samples_per_frame)
    frames = signal[: n * samples_per_frame].reshape(n, samples_per_frame).astype(np.float64)
    level = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    return np.concatenate([level, np.full(n_frames - n, -120.0)])


def voiced_mask(
    level_db: np.ndarray, floor_frames: np.ndarray, spec: VoicingSpec = DEFAULT_VOICING
) -> np.ndarray:
    """Frames clearly above the noise floor, with short pauses bridged."""
    if floor_frames.sum() >= spec.min_floor_frames:
        floor = float(np.percentile(level_db[floor_frames], spec.floor_percentile))
    else:  # almost no silence: the quietest frames of the call stand in for it
        floor = float(np.percentile(level_db, 2.0))
    threshold = max(floor + spec.above_floor_db, float(level_db.max()) - spec.below_peak_db)
    voiced = level_db > threshold
    bridge = int(round(spec.bridge_s / FRAME_S))
    for a, b in runs(~voiced):  # pauses strictly inside speech, up to bridge_s long
        if a > 0 and b < len(voiced) and b - a < bridge:
            voiced[a:b] = True
    return voiced


def trim_tracks(
    tracks: list[SpeakerTrack],
    signals: np.ndarray,
    grids: list[np.ndarray],
    samples_per_frame: int,
    spec: VoicingSpec = DEFAULT_VOICING,
) -> list[SpeakerTrack]:
    """Each track's activity restricted to voiced frames of its own signal (its channel)."""
    out = []
    for t in tracks:
        ch = t.channel if len(signals) > 1 else 0
        grid = grids[ch] if len(grids) > 1 else grids[0]
        n = len(t.active)
        level = frame_levels_db(signals[ch], samples_per_frame, n)
        floor_frames = np.isin(grid[:n], ("silence", "noise", "noEnergy"))
        active = t.active & voiced_mask(level, floor_frames, spec)
        out.append(replace(t, active=active) if active.any() else t)
    return out
