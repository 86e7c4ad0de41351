"""Recurring sounds (``callroles.sounds.recurring``, ``callroles sounds learn``): a call centre's
recordings are learnt from its archive, a voice is not. Real audio: LibriSpeech readers, Debian's
Asterisk music and prompts, coded as GSM 6.10."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from callroles.base.cli import main
from callroles.base.errors import ConfigError
from callroles.base.settings import PROJECT_ROOT, get_settings
from callroles.frontend.decode import decode
from callroles.frontend.known import KnownSounds
from callroles.lab.simulate.real_voices import generate_real_corpus
from callroles.sounds.recurring import Call, LearnSpec, find_recurring, fingerprint_archive, learn

PROMPT = Path("/usr/share/asterisk/sounds/en_US_f_Allison/basic-pbx-ivr-main.wav")
LIBRI = PROJECT_ROOT.parent / "shared" / "data" / "speakers" / "librispeech"
needs_libri = pytest.mark.skipif(
    not LIBRI.is_dir(),
    reason=f"the real voices are not here ({LIBRI}: only in the project's shared folder)",
)


def _mask(spans: list[tuple[float, float]], n: int) -> np.ndarray:
    m = np.zeros(n, bool)
    for a, b in spans:
        m[int(a * 100) : int(b * 100)] = True
    return m


@pytest.fixture(scope="module")
def house(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One call centre: an archive of 12 real-voice calls and 4 more calls to find its sounds in."""
    if not LIBRI.is_dir():
        pytest.skip(f"the real voices are not here ({LIBRI})")
    root = tmp_path_factory.mktemp("house")
    for name, seed, calls in (("archive", 21, 12), ("later", 22, 4)):
        generate_real_corpus(root / name, LIBRI, calls=calls, seed=seed, varied_lines=True,
                             random_paths=True, house_sounds=1)  # fmt: skip
    return root / "archive", root / "later"


@needs_libri
def test_the_call_centres_recordings_are_learnt_and_its_voices_are_not(
    house: tuple[Path, Path], tmp_path: Path
) -> None:
    archive, later = house
    plot = tmp_path / "learnt.png"
    assert (
        main(["sounds", "learn", str(archive), "--out", str(tmp_path / "lib"), "--plot", str(plot)])
        == 0
    )
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    learnt = json.loads((tmp_path / "lib" / "learned.json").read_text())["sounds"]
    assert sorted(s["kind"] for s in learnt) == ["announcement", "music"]
    assert all(len(s["agents"]) >= 2 and s["calls"] >= 3 for s in learnt)
    for truth_file in sorted((archive / "truth").glob("*.json")):  # where they play, exactly
        truth = json.loads(truth_file.read_text())
        n = int(truth["duration_s"] * 100) + 1
        events = _mask([(e["start"], e["end"]) for e in truth["events"]], n)
        speech = _mask([(s["start"], s["end"]) for s in truth["segments"]], n) & ~events
        plays = [tuple(p) for s in learnt for p in s["plays"].get(truth["call_id"], [])]
        found = _mask(plays, n)  # type: ignore[arg-type]
        assert (found & speech).sum() < 50, truth["call_id"]  # under 0.5 s of anyone's talk
    before = (tmp_path / "lib" / "learned.json").read_text()
    assert (
        main(["sounds", "learn", str(archive), "--out", str(tmp_path / "lib"), "--calls", "2"]) == 0
    )
    assert (tmp_path / "lib" / "learned.json").read_text() == before  # nothing recurs in 2 calls:
    assert sorted(p.name for p in (tmp_path / "lib").iterdir()) == [  # the library stays whole
        "announcements", "learned.json", "music"
    ]  # fmt: skip
    index = KnownSounds.load(str(tmp_path / "lib"), tmp_path / "cache")
    heard = music = 0.0
    for truth_file in sorted((later / "truth").glob("*.json")):  # calls it never learnt from
        truth = json.loads(truth_file.read_text())
        n = int(truth["duration_s"] * 100) + 1
        events = _mask([(e["start"], e["end"]) for e in truth["events"]], n)
        speech = _mask([(s["start"], s["end"]) for s in truth["segments"]], n) & ~events
        audio = decode(later / "audio" / f"{truth['call_id']}.gsm").channels.mean(axis=0)
        found = _mask([(m.start, m.end) for m in index.find(audio)], n)
        heard += (found & events).sum() / 100
        music += events.sum() / 100
        assert (found & speech).sum() < 50, truth["call_id"]
    assert music > 10 and heard > 0.8 * music  # the music and prompts of the later calls


def _coded(y: np.ndarray, tmp: Path, sh, name: str) -> np.ndarray:
    """Through a GSM 6.10 line and back."""
    sf.write(tmp / f"{name}.wav", y, 8000)
    sh("sox", str(tmp / f"{name}.wav"), "-r", "8000", "-c", "1", str(tmp / f"{name}.gsm"))
    return decode(tmp / f"{name}.gsm").channels.mean(axis=0)


@needs_libri
def test_a_voice_that_repeats_itself_under_one_agent_is_not_a_recording(tmp_path: Path, sh) -> None:
    files = sorted(LIBRI.rglob("*.flac"))[:7]
    utter = [soxr.resample(sf.read(f, dtype="float32")[0], 16000, 8000) for f in files]
    repeated = utter[0]  # said word for word in three calls: a soundboard, a generated voice
    for k in range(3):
        _coded(
            np.concatenate([utter[1 + 2 * k], repeated, utter[2 + 2 * k]]), tmp_path, sh, f"c{k}"
        )
    one_agent = [Call(f"c{k}", tmp_path / f"c{k}.gsm", "A1") for k in range(3)]
    assert find_recurring(fingerprint_archive(one_agent)) == []
    three = fingerprint_archive([Call(f"c{k}", tmp_path / f"c{k}.gsm", f"A{k}") for k in range(3)])
    found = find_recurring(three)  # played to three agents' callers: a recording
    assert len(found) == 1 and len(found[0].plays) == 3
    start = len(utter[1]) / 8000
    (a, b), = found[0].plays["c0"]  # fmt: skip
    assert abs(a - start) < 1.0 and abs(b - (start + len(repeated) / 8000)) < 1.2
    assert find_recurring(three, LearnSpec(min_calls=4)) == []
    for k in range(3):  # said three times in each call, between other talk: a voice, not a system
        parts = [utter[1 + 2 * k], repeated, utter[2 + 2 * k], repeated, utter[1 + 2 * k], repeated]
        _coded(np.concatenate(parts), tmp_path, sh, f"r{k}")
    again = [Call(f"r{k}", tmp_path / f"r{k}.gsm", f"A{k}") for k in range(3)]
    assert find_recurring(fingerprint_archive(again)) == []
    assert len(find_recurring(fingerprint_archive(again), LearnSpec(max_plays=3))) == 1


@needs_libri
def test_a_greeting_in_every_one_of_many_calls_is_learnt(tmp_path: Path, sh) -> None:
    """The commonest case: one greeting before every call (70 calls of 70 different
    utterances, 70 agents), each of its landmarks met in most calls, is learnt in every call."""
    greeting, _ = sf.read(PROMPT, dtype="float32")
    files = sorted(LIBRI.rglob("*.flac"))[:70]
    assert len(files) == 70, "the shared LibriSpeech folder holds thousands of utterances"
    calls = []
    for k, f in enumerate(files):
        voice = soxr.resample(sf.read(f, dtype="float32")[0], 16000, 8000)
        wav = tmp_path / f"g{k}.wav"
        sf.write(
            wav, np.concatenate([0.5 * greeting, np.zeros(2400, np.float32), voice[:24000]]), 8000
        )
        sh("sox", str(wav), "-r", "8000", "-c", "1", str(tmp_path / f"g{k}.gsm"))
        calls.append(Call(f"g{k}", tmp_path / f"g{k}.gsm", f"A{k}"))
    found = find_recurring(fingerprint_archive(calls))
    assert len(found) == 1 and len(found[0].plays) == 70
    ends = np.array([b for (_, b), *_ in found[0].plays.values()])
    end = len(greeting) / 8000  # chance hits at the same offset carry some plays on a little
    assert (ends > end - 1.0).all() and (ends < end + 3.5).all() and np.median(ends) < end + 2.0
    fewer = find_recurring(fingerprint_archive(calls[:20]))
    assert len(fewer) == 1 and len(fewer[0].plays) == 20


def test_a_bad_recording_is_skipped_and_named_and_a_foreign_folder_is_never_overwritten(
    tmp_path: Path, speech_wav: Path
) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "broken.wav").write_bytes(b"RIFF....WAVEfmt not audio")
    (archive / "speech.wav").write_bytes(speech_wav.read_bytes())
    got = learn(archive, tmp_path / "lib", get_settings())
    assert got.calls == 1 and list(got.skipped) == [str(archive / "broken.wav")]
    one = learn(archive, tmp_path / "lib", get_settings(), LearnSpec(max_calls=1))
    assert one.calls + len(one.skipped) == 1  # a larger archive is sampled
    assert got.sounds == [] and not (tmp_path / "lib").exists()  # nothing to write: no folder
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(ConfigError) as err:
        learn(archive, foreign, get_settings())
    assert err.value.code == "output_not_empty" and (foreign / "notes.txt").is_file()
    with pytest.raises(ConfigError) as err:
        learn(tmp_path / "nowhere", tmp_path / "lib2", get_settings())
    assert err.value.code == "archive_missing"
