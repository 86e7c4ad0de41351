"""Known sounds (``callroles.frontend.known``): the call centre's own music and announcements are
found through a GSM line and are nobody's talk. Real recordings: Debian's Asterisk hold music and
prompts (installed by ``make setup``), espeak-ng speech around them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from callroles.base.errors import ConfigError
from callroles.base.settings import Settings
from callroles.call.pipeline import Models, analyze_file, front_end
from callroles.frontend.decode import decode
from callroles.frontend.known import KnownSounds, LiveKnownSounds

ASTERISK = Path("/usr/share/asterisk")
PROMPT = ASTERISK / "sounds" / "en_US_f_Allison" / "basic-pbx-ivr-main.wav"
MUSIC = ASTERISK / "moh" / "reno_project-system.wav"
OTHER_PROMPT = ASTERISK / "sounds" / "en_US_f_Allison" / "all-circuits-busy-now.wav"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A call centre's sounds: one hold-music track under moh/, two prompts under ivr/."""
    root = tmp_path_factory.mktemp("sounds")
    for src, sub in ((MUSIC, "moh"), (PROMPT, "ivr"), (OTHER_PROMPT, "ivr")):
        (root / sub).mkdir(exist_ok=True)
        shutil.copy(src, root / sub / src.name)
    return root


@pytest.fixture(scope="module")
def call(tmp_path_factory: pytest.TempPathFactory, speech_wav: Path, sh) -> Path:
    """Speech, the IVR prompt at 5 s, speech, 12 s of hold music at -20 dB, speech: GSM 6.10."""
    work = tmp_path_factory.mktemp("call")
    speech = work / "speech8k.wav"
    sh("sox", str(speech_wav), "-r", "8000", "-c", "1", str(speech))
    y, _ = sf.read(speech, dtype="float32")
    prompt, _ = sf.read(PROMPT, dtype="float32")
    music, _ = sf.read(MUSIC, dtype="float32", frames=8000 * 40)
    music = music[8000 * 20 : 8000 * 32] * 0.3
    gap = np.zeros(4000, np.float32)
    parts = [y[: 5 * 8000], gap, prompt * 0.5, gap, y, gap, music, gap, y]
    wav = work / "call.wav"
    sf.write(wav, np.concatenate(parts), 8000)
    out = work / "call.gsm"
    sh("sox", str(wav), "-r", "8000", "-c", "1", str(out))
    return out


def _spans(call: Path, speech_wav: Path) -> dict[str, tuple[float, float]]:
    """Where the prompt and the music are in ``call`` (seconds), from the fixture's layout."""
    n = min(5 * 8000, int(sf.info(speech_wav).duration * 8000))
    p0 = (n + 4000) / 8000
    p1 = p0 + sf.info(PROMPT).frames / 8000
    m0 = p1 + 0.5 + int(sf.info(speech_wav).duration * 8000) / 8000 + 0.5
    return {"announcement": (p0, p1), "music": (m0, m0 + 12.0)}


def test_the_prompt_and_the_music_are_found_through_gsm(
    library: Path, call: Path, speech_wav: Path, tmp_path: Path
) -> None:

    index = KnownSounds.load(str(library), tmp_path)
    assert sorted(set(index.kinds)) == ["announcement", "music"]
    found = index.find(decode(call).channels.mean(axis=0))
    spans = _spans(call, speech_wav)
    prompts = [m for m in found if m.kind == "announcement"]
    assert {m.name for m in prompts} == {f"{library.name}/ivr/{PROMPT.name}"}
    a, b = spans["announcement"]
    assert all(abs(m.start - a) < 0.6 and abs(m.end - b) < 0.6 for m in prompts)
    music = [m for m in found if m.kind == "music"]
    assert music and all(spans["music"][0] - 0.6 < m.start < m.end < spans["music"][1] + 0.6
                         for m in music)  # fmt: skip
    speech_alone = decode(speech_wav).channels.mean(axis=0)
    assert index.find(speech_alone) == []


def test_known_sounds_are_nobodys_talk(library: Path, call: Path, speech_wav: Path) -> None:

    models = Models(Settings(known_sounds=str(library)))
    front = front_end(call, models=models)
    a, b = _spans(call, speech_wav)["announcement"]
    for seg in front.segmentation.speech:  # no talk inside the prompt (0.2 s of slack each side)
        assert seg.end <= a + 0.2 or seg.start >= b - 0.2, seg
    assert front.budget["announcement_s"] > 0.8 * (b - a)
    assert {m["kind"] for m in front.budget["known_sounds"]} == {"announcement", "music"}
    result = analyze_file(call, models)
    assert result["call"]["announcement_s"] == pytest.approx(front.budget["announcement_s"])


def test_a_missing_folder_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        KnownSounds.load(str(tmp_path / "nowhere"), tmp_path)
    assert err.value.code == "known_sounds_missing"
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError):
        KnownSounds.load(str(tmp_path / "empty"), tmp_path)


def test_an_announcement_alone_is_a_call_with_nobody(library: Path, tmp_path: Path, sh) -> None:

    only = tmp_path / "prompt.gsm"
    sh("sox", str(PROMPT), "-r", "8000", "-c", "1", str(only))
    result = analyze_file(only, Models(Settings(known_sounds=str(library))))
    assert [s for s in result["speakers"] if s["talk_time_s"] > 0] == []
    assert "no_speech" in result["flags"]
    assert result["call"]["announcement_s"] > 20.0


def test_a_worker_picks_up_a_library_learnt_again_and_keeps_it_if_it_breaks(
    library: Path, call: Path, tmp_path: Path
) -> None:

    folder = tmp_path / "learnt"
    (folder / "moh").mkdir(parents=True)
    shutil.copy(MUSIC, folder / "moh" / MUSIC.name)
    live = LiveKnownSounds(str(folder), tmp_path / "cache", recheck_s=0.0)
    signal = decode(call).channels.mean(axis=0)
    assert {m.kind for m in live.current().find(signal)} == {"music"}
    (folder / "ivr").mkdir()
    shutil.copy(PROMPT, folder / "ivr" / PROMPT.name)  # learnt again: the greeting is new
    assert {m.kind for m in live.current().find(signal)} == {"announcement", "music"}
    shutil.rmtree(folder)  # a library that no longer loads: the worker keeps the last one
    assert {m.kind for m in live.current().find(signal)} == {"announcement", "music"}
    slow = LiveKnownSounds(str(library), tmp_path / "cache", recheck_s=3600.0)
    shutil.copy(OTHER_PROMPT, library / "moh" / "extra.wav")
    try:
        assert len(slow.current().names) == 3  # not looked at again before recheck_s
    finally:
        (library / "moh" / "extra.wav").unlink()
