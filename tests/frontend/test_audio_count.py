"""Counting the voices of a mono call (``callroles.frontend.count``): the rule on hand-made voice
samples, then the front end on real recordings (inaSpeechSegmenter's reference files) and on
real LibriSpeech readers taking turns through a GSM line (the default: two voices or more)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from callroles.base.errors import InputError
from callroles.base.settings import PROJECT_ROOT, Settings
from callroles.call.pipeline import Models, front_end
from callroles.commands.segment import speakers_arg
from callroles.frontend.count import DEFAULT_COUNT, count_speakers
from callroles.lab.simulate import channel
from callroles.lab.simulate.real_voices import _load, read_speakers

SHARED = PROJECT_ROOT.parent / "shared" / "data"
LIBRI = SHARED / "speakers" / "librispeech"
#: four real voices taking turns (pyAudioAnalysis' test data; evaluation only, nothing is fitted)
FOUR_VOICES = SHARED / "diarization" / "pyaudioanalysis" / "diarizationExample.wav"


def _voices(sizes: list[int], seed: int = 0, spread: float = 0.25) -> np.ndarray:
    """L2-normalised samples around one random centre per voice (partials of 0.4 s each)."""
    rng = np.random.default_rng(seed)
    out = []
    for n in sizes:
        centre = rng.standard_normal(256)
        centre /= np.linalg.norm(centre)
        x = centre + spread * rng.standard_normal((n, 256)) / np.sqrt(256)
        out.append(x / np.linalg.norm(x, axis=1, keepdims=True))
    return np.concatenate(out)


@pytest.mark.parametrize("voices", [1, 2, 3, 4])
def test_distinct_voices_are_counted(voices: int) -> None:
    emb = _voices([30] * voices, seed=voices)
    count = count_speakers(emb, np.full(len(emb), 0.4))
    assert count.n == voices and not count.uncertain


def test_a_group_with_too_little_speech_is_not_a_voice() -> None:
    emb = _voices([30, 30, 3])  # 1.2 s in the third group, under min_speaker_s
    count = count_speakers(emb, np.full(len(emb), 0.4))
    assert count.n == 2


def test_too_few_samples_or_too_many_voices_are_uncertain() -> None:
    one = count_speakers(_voices([1]), np.array([0.4]))
    assert one.n == 1 and one.uncertain
    six = _voices([20] * 6, seed=6)
    many = count_speakers(six, np.full(len(six), 0.4))
    assert many.n == DEFAULT_COUNT.max_speakers and many.uncertain


def test_a_merge_at_the_threshold_is_uncertain() -> None:
    emb = _voices([20, 20], seed=3)
    decided = count_speakers(emb, np.full(40, 0.4))
    assert decided.n == 2 and decided.closest_merge is not None

    spec = replace(DEFAULT_COUNT, same_centroid=decided.closest_merge + 0.01)
    near = count_speakers(emb, np.full(40, 0.4), spec)
    assert near.n == 2 and near.uncertain


def test_music_and_noise_are_nobody(reference_dir: Path, frontend) -> None:
    # musanmix: 22 s of music, 25 s of noise, one male voice (ina's reference)
    result = front_end(reference_dir / "musanmix.wav", n_speakers="auto", models=frontend)
    assert result.budget["speaker_count"]["n"] == 1
    assert result.budget["speaker_count"]["method"] == "counted"
    assert len(result.speakers) == 1


def test_two_readers_are_two_voices(reference_dir: Path, frontend, tmp_path: Path, sh) -> None:
    # lamartine: a female reader, then a male one, about 6 s each; played twice, 12 s each
    twice = tmp_path / "twice.wav"
    lamartine = str(reference_dir / "lamartine.wav")
    sh("sox", lamartine, lamartine, str(twice))
    result = front_end(twice, n_speakers="auto", models=frontend)
    assert result.budget["speaker_count"]["n"] == 2
    assert sorted(s.gender for s in result.speakers) == ["female", "male"]
    # once: neither reader has the 5 s of speech a voice needs, and the count says it doubts
    once = front_end(lamartine, n_speakers="auto", models=frontend).budget["speaker_count"]
    assert once["n"] == 1 and once["uncertain"]


def test_the_setting_decides_unless_the_caller_does(reference_dir: Path, frontend) -> None:

    path = reference_dir / "musanmix.wav"
    default = front_end(path, models=frontend).budget["speaker_count"]
    assert default["method"] == "two-or-more" and default["n"] == 2
    counting = Models(Settings(speaker_count="auto"))
    assert front_end(path, models=counting).budget["speaker_count"]["method"] == "counted"
    assert front_end(path, n_speakers=2, models=counting).budget["speaker_count"]["n"] == 2
    two = front_end(path, models=Models(Settings(speaker_count="two"))).budget["speaker_count"]
    assert two["method"] == "given" and two["n"] == 2
    for bad in (0, 5, "three", True):
        with pytest.raises(InputError):
            front_end(path, n_speakers=bad, models=frontend)


def _two_readers_taking_turns(path: Path) -> Path:
    """A male and a female LibriSpeech reader taking turns of 6 s, four each, through a GSM
    line, written to ``path``."""
    agents, _ = read_speakers(LIBRI)
    readers = [next(a for a in agents if a.gender == g) for g in ("male", "female")]
    speech = [np.concatenate([_load(f) for f in r.files[:4]]) for r in readers]
    pieces = []
    for turn in range(4):
        for y in speech:
            pieces += [y[turn * 48_000 : (turn + 1) * 48_000], np.zeros(4000, np.float32)]
    rng = np.random.default_rng(5)
    signal = channel.phone_line(np.concatenate(pieces), rng, 0.0, -50.0, channel.Line("gsm"))
    sf.write(path, signal, 8000)
    return path


@pytest.mark.skipif(
    not (LIBRI.is_dir() and FOUR_VOICES.is_file()), reason="the real voices are not here (shared)"
)
def test_more_than_two_voices_are_counted_by_default_and_two_stay_two(
    frontend: Models, tmp_path: Path
) -> None:
    """The default takes two voices unless a third or fourth is counted with certainty:
    pyAudioAnalysis' real four-voice recording comes out as four speakers, two readers taking
    turns as two, with no doubt raised."""
    four = front_end(FOUR_VOICES, models=frontend)
    count = four.budget["speaker_count"]
    assert count["n"] == 4 and count["method"] == "counted" and not count["uncertain"], count
    assert len(four.speakers) == 4
    two = front_end(_two_readers_taking_turns(tmp_path / "two.wav"), models=frontend)
    count = two.budget["speaker_count"]
    assert count["n"] == 2 and count["method"] == "two-or-more" and not count["uncertain"], count


def test_the_speakers_option_takes_a_number_or_auto() -> None:

    assert speakers_arg("auto") == "auto" and speakers_arg("3") == 3
    assert speakers_arg("two-or-more") == "two-or-more"
    for bad in ("0", "5", "two", "-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            speakers_arg(bad)
