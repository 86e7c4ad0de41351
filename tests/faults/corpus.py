"""The bad-input corpus: recordings and events a worker must refuse with a typed reason code, or
answer with a valid (possibly "no speaker") result, without ever going down.

``build(root, http_base)`` writes the recordings under ``root/allowed`` (the one allowed root)
and returns one :class:`BadInput` per kind, each with the raw Kafka message to send and what is
acceptable in return. Audio is made with sox, ffmpeg and espeak-ng; nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULT = "result"  # the input must yield a valid call_result event
LIMIT_DURATION_S = 30.0  # the worker under test runs with these limits
LIMIT_BYTES = 2_000_000
SAY = (
    "Good morning, thank you for calling customer service, my name is Anna. "
    "How can I help you today with your account or your last invoice?"
)


@dataclass(frozen=True)
class BadInput:
    """One kind of bad input: the message to send and the outcomes that are acceptable."""

    kind: str
    call_id: str
    message: bytes  # the raw value put on the call-finished topic
    expect: frozenset[str]  # error codes, or RESULT
    path: Path | None = None  # the recording, when the kind is about audio

    @property
    def event(self) -> dict[str, Any] | None:
        try:
            parsed = json.loads(self.message)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def _speech(out: Path, voice: str, text: str = SAY) -> Path:
    _run("espeak-ng", "-v", voice, "-s", "150", "-w", str(out), text)
    return out


def _to_gsm(src: Path, out: Path, *effects: str) -> Path:
    _run("sox", str(src), "-r", "8000", "-c", "1", str(out), *effects)
    return out


def _audio_files(d: Path) -> dict[str, Path]:
    """Every recording the corpus needs, written once into ``d``."""
    tmp = d / "_src"
    tmp.mkdir(parents=True, exist_ok=True)
    agent = _speech(tmp / "agent.wav", "en+f3")
    files: dict[str, Path] = {}

    files["empty_file"] = d / "empty.gsm"
    files["empty_file"].write_bytes(b"")
    good = _to_gsm(agent, tmp / "good.gsm")
    data = good.read_bytes()
    files["truncated_gsm"] = d / "truncated.gsm"
    files["truncated_gsm"].write_bytes(data[: (len(data) // 2 // 33) * 33 + 17])
    files["random_bytes"] = d / "random.wav"
    files["random_bytes"].write_bytes(os.urandom(50_000))
    files["zero_duration"] = d / "zero.wav"
    _run("sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(files["zero_duration"]),
         "trim", "0", "0")  # fmt: skip
    files["one_second"] = _to_gsm(agent, d / "one_second.gsm", "trim", "0", "1")
    files["too_long"] = d / "too_long.gsm"
    _run("sox", "-n", "-r", "8000", "-c", "1", str(files["too_long"]),
         "synth", str(LIMIT_DURATION_S + 10), "brownnoise", "vol", "0.01")  # fmt: skip
    files["too_many_bytes"] = d / "too_many_bytes.wav"
    # 48 kHz stereo 24-bit is 288 kB/s: 8 s trips the byte limit, not the duration one
    _run("sox", "-n", "-r", "48000", "-c", "2", "-b", "24", str(files["too_many_bytes"]),
         "synth", "8", "brownnoise", "vol", "0.01")  # fmt: skip
    files["silence_only"] = d / "silence.gsm"
    _run("sox", "-n", "-r", "8000", "-c", "1", str(files["silence_only"]), "trim", "0", "8")
    files["music_only"] = d / "music.gsm"
    _run("sox", "-n", "-r", "8000", "-c", "1", str(files["music_only"]),
         "synth", "0.5", "pluck", "C4", "pluck", "E4", "pluck", "G4", "repeat", "19",
         "vol", "0.5")  # fmt: skip
    files["one_speaker"] = _to_gsm(agent, d / "one_speaker.gsm")
    voices = ["en+m1", "en+f2", "en+m3", "en+f4", "en+m7"]
    parts = [
        _speech(tmp / f"s{i}.wav", v, f"This is speaker number {i + 1}, with a short sentence.")
        for i, v in enumerate(voices)
    ]
    five = tmp / "five.wav"
    _run("sox", *map(str, parts), str(five))
    files["five_speakers"] = _to_gsm(five, d / "five_speakers.gsm")
    files["stereo_one_silent"] = d / "stereo_one_silent.wav"
    _run("sox", str(agent), "-r", "8000", "-c", "2", str(files["stereo_one_silent"]),
         "remix", "1", "0")  # fmt: skip
    for rate in (48000, 96000):
        files[f"rate_{rate // 1000}k"] = d / f"rate_{rate // 1000}k.wav"
        _run("sox", str(agent), "-r", str(rate), "-c", "1", str(files[f"rate_{rate // 1000}k"]))
    files["video_no_audio"] = d / "video.wav"  # an mp4 with an audio extension
    _run(
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "testsrc=duration=2:size=64x48:rate=5",
        "-f",
        "mp4",
        str(files["video_no_audio"]),
    )
    files["image_as_wav"] = d / "image.wav"
    _run("ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
         "testsrc=size=64x48", "-frames:v", "1", "-f", "image2", "-c:v", "png",
         str(files["image_as_wav"]))  # fmt: skip
    return files


# what the front end / fetch must say about each recording (a set: either is acceptable)
AUDIO_EXPECT: dict[str, frozenset[str]] = {
    "empty_file": frozenset({"audio_empty"}),
    "truncated_gsm": frozenset({"audio_truncated"}),
    "random_bytes": frozenset({"audio_undecodable"}),
    "zero_duration": frozenset({"audio_empty"}),
    "one_second": frozenset({RESULT}),
    "too_long": frozenset({"audio_too_long"}),
    "too_many_bytes": frozenset({"recording_too_large", "audio_too_large"}),
    "silence_only": frozenset({RESULT}),
    "music_only": frozenset({RESULT}),
    "one_speaker": frozenset({RESULT}),
    "five_speakers": frozenset({RESULT}),
    "stereo_one_silent": frozenset({RESULT}),
    "rate_48k": frozenset({RESULT}),
    "rate_96k": frozenset({RESULT}),
    "video_no_audio": frozenset({"audio_unsupported"}),
    "image_as_wav": frozenset({"audio_unsupported", "audio_undecodable"}),
}


def _msg(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def _event(call_id: str, uri: str, **extra: Any) -> dict[str, Any]:
    return {"schema_version": 1, "call_id": call_id, "recording_uri": uri, **extra}


def build(root: Path, http_base: str, *, prefix: str = "bad") -> list[BadInput]:
    """Write the corpus under ``root`` and return every kind.

    ``root/allowed`` is the allowed root; ``http_base`` is an allowed ``http://127.0.0.1:PORT``
    whose server answers ``/redirect-out`` with a redirect to a host that is not allowed.
    """
    allowed = root / "allowed"
    allowed.mkdir(parents=True, exist_ok=True)
    files = _audio_files(allowed)
    out: list[BadInput] = []
    for kind, path in files.items():
        cid = f"{prefix}-{kind}"
        out.append(BadInput(kind, cid, _msg(_event(cid, str(path))), AUDIO_EXPECT[kind], path))

    def add(kind: str, message: bytes | dict[str, Any], *codes: str) -> None:
        raw = message if isinstance(message, bytes) else _msg(message)
        out.append(BadInput(kind, f"{prefix}-{kind}", raw, frozenset(codes)))

    one = str(files["one_speaker"])
    add("invalid_json", b'{"schema_version": 1, "call_id": "x", ', "not_json")
    add("not_utf8", b"\xff\xfe\x00garbage", "not_json")
    add("missing_fields", {"schema_version": 1, "call_id": f"{prefix}-missing_fields"},
        "schema_invalid")  # fmt: skip
    add("unknown_schema_version",
        {**_event(f"{prefix}-unknown_schema_version", one), "schema_version": 7},
        "schema_invalid")  # fmt: skip
    add("path_traversal", _event(f"{prefix}-path_traversal", f"{allowed}/../../etc/passwd"),
        "uri_not_allowed")  # fmt: skip
    add("absolute_outside", _event(f"{prefix}-absolute_outside", "/etc/passwd"),
        "uri_not_allowed")  # fmt: skip
    link = allowed / "escape.gsm"
    link.unlink(missing_ok=True)
    link.symlink_to("/etc/hostname")
    add("symlink_out", _event(f"{prefix}-symlink_out", str(link)), "uri_not_allowed")
    add("missing_recording", _event(f"{prefix}-missing_recording", str(allowed / "nope.gsm")),
        "recording_missing")  # fmt: skip
    add("ftp_scheme", _event(f"{prefix}-ftp_scheme", "ftp://127.0.0.1/x.gsm"), "uri_scheme",
        "schema_invalid")  # fmt: skip
    add("host_not_allowed",
        _event(f"{prefix}-host_not_allowed", "http://localhost:9/one.gsm"),
        "uri_not_allowed")  # fmt: skip
    add("redirect_out", _event(f"{prefix}-redirect_out", f"{http_base}/redirect-out"),
        "uri_not_allowed")  # fmt: skip
    huge = _event(f"{prefix}-huge_event", one, metadata={"blob": "x" * 900_000})
    add("huge_event", huge, "event_too_large", "schema_invalid")
    return out


def duplicate_pair(files_root: Path, call_id: str) -> tuple[bytes, bytes]:
    """Two different events with the same call_id (the second names another recording)."""
    allowed = files_root / "allowed"
    first = _event(call_id, str(allowed / "one_speaker.gsm"), metadata={"n": 1})
    second = _event(call_id, str(allowed / "rate_48k.wav"), metadata={"n": 2})
    return _msg(first), _msg(second)


EVENT_KINDS = (
    "invalid_json", "not_utf8", "missing_fields", "unknown_schema_version", "path_traversal",
    "absolute_outside", "symlink_out", "missing_recording", "ftp_scheme", "host_not_allowed",
    "redirect_out", "huge_event",
)  # fmt: skip
ALL_KINDS = (*AUDIO_EXPECT, *EVENT_KINDS)
#: kinds that expose a known defect (docs/reliability.md, "Bad-input corpus"); tests mark them
#: strict xfail
KNOWN_DEFECTS = {}
