"""The shipped music check on real audio: Debian's hold music against real LibriSpeech readers,
both through a GSM phone line; the windows it scores; a foreign model refused."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import soxr

from callroles.base.settings import SHARED_DATA
from callroles.lab.simulate import channel
from callroles.lab.simulate.sounds import _read, music_files
from callroles.models.errors import ModelForeignError
from callroles.models.music import MUSIC_SPEC, MusicModel, window_starts
from callroles.models.shipped import ACTIVITY_MODEL

READERS = SHARED_DATA / "speakers" / "librispeech" / "test-other"


def _gsm(x: np.ndarray, seed: int) -> np.ndarray:
    x = x / float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) * 10 ** (-22 / 20)
    rng = np.random.default_rng(seed)
    return channel.phone_line(x.astype(np.float32), rng, 0.0, -55.0, channel.Line("gsm"))


def test_hold_music_is_music_and_real_readers_are_not() -> None:
    model = MusicModel.load()
    music = [_gsm(_read(f)[: 8000 * 30], k) for k, f in enumerate(music_files())]
    music_share = [float((model(m, len(m) // 80) > 0.5).mean()) for m in music]
    assert len(READERS.is_dir() and list(READERS.rglob("*.flac")) or []) >= 10, (
        f"LibriSpeech test-other readers missing at {READERS}"
    )
    voice_share = []
    for f in sorted(READERS.rglob("*.flac"))[::10]:  # one utterance per reader
        x, rate = sf.read(str(f), dtype="float32")
        y = _gsm(soxr.resample(x, rate, 8000).astype(np.float32), 7)
        voice_share.append(float((model(y, len(y) // 80) > 0.5).mean()))
    # none of these tracks or readers was trained on (training.music: game music, other readers)
    assert np.median(music_share) > 0.8, music_share
    assert max(voice_share) < 0.05, voice_share


def test_only_the_frames_asked_about_are_scored_and_score_as_in_a_full_pass() -> None:
    where = np.zeros(3000, bool)
    where[1200:1250] = True
    starts = window_starts(where, 3000)
    w = MUSIC_SPEC.frames_per_window
    assert all(s < 1250 and s + w > 1200 for s in starts) and len(starts) == 7
    model = MusicModel.load()
    signal = _gsm(_read(music_files()[0])[: 8000 * 30], 3)
    full, part = model(signal, 3000), model(signal, 3000, where)
    assert np.allclose(part[where], full[where], atol=1e-5) and full[where].mean() > 0.5
    assert not part[~where].any() and full[~where].any()
    # a `where` shorter than the call is the frames it names; under one window: no verdict
    assert np.allclose(model(signal, 3000, where[:1250]), part)
    assert not model(signal[:7000], 87).any()


def test_a_model_that_is_not_a_music_check_is_refused() -> None:
    with pytest.raises(ModelForeignError, match="not a music model"):
        MusicModel.load(ACTIVITY_MODEL)
