"""Talk time from voiced frames: the trim removes ina's hangover and keeps short pauses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from callroles.base.settings import Settings
from callroles.call.pipeline import Models, front_end
from callroles.frontend.segmentation import FRAME_S, SpeakerTrack
from callroles.frontend.voicing import VoicingSpec, frame_levels_db, trim_tracks, voiced_mask

SR = 8000
SPF = int(SR * FRAME_S)


def _signal(bursts: list[tuple[float, float]], seconds: float, seed: int = 0) -> np.ndarray:
    """Noise at about -60 dBFS with 300 Hz bursts at about -20 dBFS in the given spans."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1e-3, int(seconds * SR)).astype(np.float32)
    t = np.arange(len(x)) / SR
    for a, b in bursts:
        span = (t >= a) & (t < b)
        x[span] += 0.1 * np.sin(2 * np.pi * 300 * t[span]).astype(np.float32)
    return x


def _grid(n: int, speech: np.ndarray) -> np.ndarray:
    grid = np.full(n, "silence", dtype=object)
    grid[speech] = "male"
    return grid


def test_short_pauses_bridged_long_pauses_not() -> None:
    x = _signal([(1.0, 2.0), (2.3, 3.0), (5.0, 6.0)], 8.0)
    n = len(x) // SPF
    level = frame_levels_db(x, SPF, n)
    voiced = voiced_mask(level, np.ones(n, bool))
    assert voiced[int(2.15 / FRAME_S)]  # 0.3 s pause inside speech: talk
    assert not voiced[int(4.0 / FRAME_S)]  # 2 s pause: not talk
    assert abs(voiced.sum() * FRAME_S - 3.0) <= 0.05  # 1 + 1 (bridged 0.3 s pause kept) + 1
    narrow = voiced_mask(level, np.ones(n, bool), VoicingSpec(bridge_s=0.1))
    assert abs(narrow.sum() * FRAME_S - 2.7) <= 0.05


def test_hangover_trimmed_from_a_track() -> None:
    x = _signal([(1.0, 3.0), (5.0, 6.0)], 8.0)
    n = len(x) // SPF
    ina = np.zeros(n, bool)  # ina's runs: 0.4 s late on both ends
    ina[int(0.6 / FRAME_S) : int(3.4 / FRAME_S)] = True
    ina[int(4.6 / FRAME_S) : int(6.4 / FRAME_S)] = True
    track = SpeakerTrack("S1", "male", 0, ina, "gender male")
    (trimmed,) = trim_tracks([track], x[None, :], [_grid(n, ina)], SPF)
    assert abs(ina.sum() * FRAME_S - 4.6) < 0.02
    assert abs(trimmed.active.sum() * FRAME_S - 3.0) <= 0.05
    assert not (trimmed.active & ~ina).any()  # never adds speech ina did not find


def test_floor_from_silence_frames_ignores_loud_music() -> None:
    """A hold-music span louder than speech must not lift the floor above the speech."""
    x = _signal([(1.0, 2.0)], 10.0)
    t = np.arange(len(x)) / SR
    music = (t >= 4.0) & (t < 9.0)
    x[music] += 0.3 * np.sin(2 * np.pi * 440 * t[music]).astype(np.float32)
    n = len(x) // SPF
    level = frame_levels_db(x, SPF, n)
    silence = np.ones(n, bool)
    silence[int(1.0 / FRAME_S) : int(2.0 / FRAME_S)] = False
    silence[int(4.0 / FRAME_S) : int(9.0 / FRAME_S)] = False
    voiced = voiced_mask(level, silence)
    assert voiced[int(1.0 / FRAME_S) : int(2.0 / FRAME_S)].mean() > 0.95


def test_trimmed_talk_time_closer_to_truth_on_generated_calls(small_corpus: Path) -> None:
    """On the small corpus (synthetic calls), trimming must shrink the talk-time error: each
    speaker's stream is ina's speech untrimmed, their talk time is trimmed (no frame models)."""

    frontend = Models(Settings(), frame_models=False)
    errors: dict[bool, list[float]] = {True: [], False: []}
    for truth_file in sorted((small_corpus / "truth").glob("*.json")):
        truth = json.loads(truth_file.read_text())
        audio = next((small_corpus / "audio").glob(f"{truth['call_id']}.*"))
        speakers = front_end(audio, models=frontend).speakers
        want = sorted(s["talk_time_s"] for s in truth["speakers"].values())
        assert len(speakers) == len(want)
        for trim, got in (
            (False, sorted(len(s.audio) / 8000 for s in speakers)),
            (True, sorted(s.talk_time_s for s in speakers)),
        ):
            errors[trim] += [abs(g - w) / w for g, w in zip(got, want, strict=True)]
    raw, trimmed = float(np.median(errors[False])), float(np.median(errors[True]))
    assert trimmed < raw, (raw, trimmed)
    assert trimmed <= 0.05, f"median talk-time error {trimmed:.3f} after trimming"
