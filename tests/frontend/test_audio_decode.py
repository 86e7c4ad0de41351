"""Decoding every accepted format, and every kind of bad input, to a typed result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from callroles.base.settings import Settings
from callroles.frontend import errors as E
from callroles.frontend.decode import SAMPLE_RATE, DecodeLimits, decode

FORMATS = {
    # name: (command builder, expected codec, channels)
    "raw.gsm": (["sox", "{src}", "-r", "8000", "-c", "1", "{out}"], "gsm", 1),
    "pcm.wav": (["sox", "{src}", "-r", "16000", "-b", "16", "{out}"], "pcm_s16le", 1),
    "mulaw.wav": (["sox", "{src}", "-r", "8000", "-e", "mu-law", "{out}"], "pcm_mulaw", 1),
    "alaw.wav": (["sox", "{src}", "-r", "8000", "-e", "a-law", "{out}"], "pcm_alaw", 1),
    "gsm_in.wav": (["sox", "{src}", "-r", "8000", "-e", "gsm-full-rate", "{out}"], "gsm_ms", 1),
    "audio.mp3": (["ffmpeg", "-v", "error", "-i", "{src}", "{out}"], "mp3", 1),
    "audio.flac": (["sox", "{src}", "-r", "44100", "{out}"], "flac", 1),
    "audio.opus": (["ffmpeg", "-v", "error", "-i", "{src}", "-c:a", "libopus", "{out}"], "opus", 1),
    "stereo.wav": (["sox", "{src}", "-r", "44100", "-c", "2", "{out}"], "pcm_s16le", 2),
}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_decodes_format_to_8k_float32(name: str, speech_wav: Path, tmp_path: Path, sh) -> None:
    cmd, codec, channels = FORMATS[name]
    out = tmp_path / name
    sh(*[c.format(src=speech_wav, out=out) for c in cmd])
    audio = decode(out)
    assert audio.facts.codec == codec
    assert audio.channels.dtype == np.float32
    assert audio.channels.shape[0] == channels == audio.facts.channels
    assert audio.channels.shape[1] / SAMPLE_RATE == pytest.approx(4.4, abs=0.25)
    assert audio.wide.shape[1] == pytest.approx(2 * audio.channels.shape[1], abs=2)
    assert 0.05 < float(np.abs(audio.channels).max()) <= 1.0
    # the same bytes, handed over in memory, give the same samples
    again = decode(out.read_bytes())
    np.testing.assert_array_equal(again.channels, audio.channels)


def test_zero_length_file_and_empty_bytes(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    for source in (empty, b""):
        with pytest.raises(E.AudioEmptyError) as err:
            decode(source)
        assert err.value.code == "audio_empty"


def test_wav_without_samples_is_empty(tmp_path: Path, sh) -> None:
    out = tmp_path / "nothing.wav"
    sh("sox", "-n", "-r", "8000", "-c", "1", str(out), "trim", "0", "0")
    with pytest.raises(E.AudioEmptyError):
        decode(out)


@pytest.mark.parametrize("suffix,cut", [(".wav", 1000), (".gsm", 3000), (".flac", 20000)])
def test_truncated(suffix: str, cut: int, speech_wav: Path, tmp_path: Path, sh) -> None:
    whole = tmp_path / f"whole{suffix}"
    sh("sox", str(speech_wav), "-r", "8000", str(whole))
    cut_file = tmp_path / f"cut{suffix}"
    cut_file.write_bytes(whole.read_bytes()[:cut])
    with pytest.raises(E.AudioTruncatedError) as err:
        decode(cut_file)
    assert err.value.code == "audio_truncated"


def test_random_bytes_and_text_are_undecodable(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for data in (rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(), b"hello world\n" * 50):
        with pytest.raises(E.AudioUndecodableError) as err:
            decode(data)
        assert err.value.code == "audio_undecodable"
    with pytest.raises(E.AudioUndecodableError):
        decode(tmp_path / "missing.wav")


def test_unsupported_image_and_many_channels(tmp_path: Path, sh) -> None:
    png = tmp_path / "img.png"
    sh(
        "ffmpeg",
        "-v",
        "error",
        "-f",
        "lavfi",
        "-i",
        "color=c=red:s=16x16:d=1",
        "-frames:v",
        "1",
        str(png),
    )
    quad = tmp_path / "quad.wav"
    sh("sox", "-n", "-r", "8000", "-c", "4", str(quad), "synth", "1", "sine", "440")
    for path in (png, quad):
        with pytest.raises(E.AudioUnsupportedError) as err:
            decode(path)
        assert err.value.code == "audio_unsupported"


def test_limits_too_long_too_large_and_timeout(speech_wav: Path) -> None:
    with pytest.raises(E.AudioTooLongError) as err:
        decode(speech_wav, DecodeLimits(max_duration_s=2.0))
    assert err.value.code == "audio_too_long"
    with pytest.raises(E.AudioTooLargeError):
        decode(speech_wav, DecodeLimits(max_bytes=1000))
    with pytest.raises(E.AudioTimeoutError):  # the child is killed, never left hanging
        decode(speech_wav, DecodeLimits(timeout_s=0.001))


def test_limits_default_to_settings() -> None:

    limits = DecodeLimits.from_settings(
        Settings(max_bytes=123, max_duration_s=4.5, decode_timeout_s=7.0)
    )
    assert (limits.max_bytes, limits.max_duration_s, limits.timeout_s) == (123, 4.5, 7.0)
