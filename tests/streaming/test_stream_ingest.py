"""Ingestion without Kafka: URI checks, error events, sidecars, file-name patterns, watcher."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from aiohttp import web

from callroles import schemas
from callroles.base.errors import AudioError
from callroles.lab.settings import StackSettings
from callroles.streaming import fetch as F
from callroles.streaming.ingest import (
    EventTooLargeError,
    NotJsonError,
    error_event,
    make_event,
    parse_event,
)
from callroles.streaming.submit import event_for_file
from callroles.streaming.watch import ASTERISK_PATTERN, FolderWatcher, fields_from_name


@pytest.fixture
def rec(tmp_path: Path) -> Path:
    (tmp_path / "in").mkdir()
    path = tmp_path / "in" / "c-1.wav"
    path.write_bytes(b"RIFF" + b"\0" * 100)
    return path


def test_paths_inside_allowed_roots_only(rec: Path, tmp_path: Path) -> None:
    s = StackSettings(allowed_roots=(rec.parent,))
    assert F.check_path(rec, s) == rec.resolve()
    assert asyncio.run(F.fetch(f"file://{rec}", s)) == rec.resolve()
    assert F.check_path(Path("c-1.wav"), s) == rec.resolve()  # relative to the first root
    outside = tmp_path / "secret.wav"
    outside.write_bytes(b"x")
    with pytest.raises(F.UriNotAllowedError):
        F.check_path(outside, s)
    (rec.parent / "link.wav").symlink_to(outside)
    with pytest.raises(F.UriNotAllowedError):  # symlinks are followed before the check
        F.check_path(rec.parent / "link.wav", s)
    with pytest.raises(F.UriNotAllowedError):
        F.check_path(rec.parent / ".." / "secret.wav", s)
    with pytest.raises(F.RecordingMissingError):
        F.check_path(rec.parent / "nope.wav", s)
    with pytest.raises(F.RecordingTooLargeError):
        F.check_path(rec, StackSettings(allowed_roots=(rec.parent,), max_bytes=10))


def test_uri_schemes(rec: Path) -> None:
    assert F.local_path(f"file://{rec}") == rec
    assert F.local_path("https://pbx/x.wav") is None
    with pytest.raises(F.UriSchemeError):
        F.local_path("s3://bucket/x.wav")
    with pytest.raises(F.UriNotAllowedError):
        F.local_path("file://otherhost/x.wav")


def test_http_fetch_from_allowed_hosts_only(rec: Path) -> None:

    async def scenario() -> None:
        async def serve(_request: web.Request) -> web.Response:
            return web.Response(body=rec.read_bytes())

        app = web.Application()
        app.router.add_get("/c-1.wav", serve)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}"
        try:
            ok = StackSettings(allowed_hosts=("127.0.0.*",))
            assert await F.fetch(f"{url}/c-1.wav", ok) == rec.read_bytes()
            with pytest.raises(F.RecordingMissingError):
                await F.fetch(f"{url}/none.wav", ok)
            with pytest.raises(F.RecordingTooLargeError):
                await F.fetch(
                    f"{url}/c-1.wav", StackSettings(allowed_hosts=("127.0.0.1",), max_bytes=5)
                )
            with pytest.raises(F.UriNotAllowedError):
                await F.fetch(f"{url}/c-1.wav", StackSettings())  # no host allowed by default
        finally:
            await runner.cleanup()

    asyncio.run(scenario())


def test_error_events_are_valid_and_typed() -> None:
    with pytest.raises(NotJsonError):
        parse_event(b"\xff\xfe not json")
    try:
        parse_event(b"\xff\xfe not json")
    except NotJsonError as exc:
        err = error_event(b"\xff\xfe not json", exc, worker="w")
    assert err["code"] == "not_json" and err["call_id"] is None and err["stage"] == "ingest"
    bad = {"schema_version": 1, "call_id": "c-9", "recording_uri": "s3://x"}
    try:
        parse_event(json.dumps(bad))
    except schemas.SchemaError as exc:
        err = error_event(json.dumps(bad), exc, attempt=2)
    assert err["call_id"] == "c-9" and err["code"] == "schema_invalid" and err["attempt"] == 2
    assert err["input"] == bad
    err = error_event(bad, AudioError("cannot decode"), stage="frontend")
    assert err["stage"] == "decode" and err["code"] == "audio_decode"  # the error's own stage
    err = error_event(bad, RuntimeError("boom"), stage="score")
    assert err["stage"] == "score" and err["code"] == "internal" and err["retryable"]
    err = error_event("x" * 10_000, RuntimeError("boom"))
    assert len(err["input"]) == 4000
    for e in (err,):
        schemas.validate("call_error", e)


def test_events_for_files_with_sidecar(rec: Path) -> None:
    event = make_event(str(rec))
    assert event["call_id"] == "c-1" and event["submitted_at"].endswith("Z")
    rec.with_suffix(".json").write_text(
        json.dumps(
            {"agent_id": "A017", "layout": "mono", "queue": "billing", "metadata": {"pbx": "a"}}
        )
    )
    event = event_for_file(rec, {"tenant": "acme"})
    assert event["agent_id"] == "A017" and event["tenant"] == "acme"
    assert event["metadata"] == {"queue": "billing", "pbx": "a"}
    assert event["recording_uri"] == str(rec.resolve())
    assert event_for_file(rec, {"call_id": "other"})["call_id"] == "other"


def test_asterisk_file_names() -> None:
    pattern = re.compile(ASTERISK_PATTERN)
    fields = fields_from_name(
        Path("out-A017-905551112233-20261123-091402-1700000000.42.wav"), pattern
    )
    assert fields["agent_id"] == "A017" and fields["call_id"] == "1700000000.42"
    assert fields["metadata"]["caller"] == "905551112233"
    assert fields_from_name(Path("random.wav"), pattern) == {}


def test_watcher_waits_until_a_file_is_complete(tmp_path: Path) -> None:
    got: list[dict] = []
    w = FolderWatcher(tmp_path, got.append, require_sidecar=True)
    a = tmp_path / "a.wav"
    a.write_bytes(b"1234")
    assert w.scan() == []  # first sight
    a.write_bytes(b"12345678")
    assert w.scan() == []  # still growing
    assert w.scan() == []  # stable, but its sidecar is required and missing
    (tmp_path / "a.json").write_text('{"language": "tr"}')
    events = w.scan()
    assert [e["call_id"] for e in events] == ["a"] and got == events
    assert events[0]["language"] == "tr"
    assert w.scan() == []  # never twice
    again = FolderWatcher(tmp_path, got.append)  # a restart remembers what was submitted
    again.scan()
    assert again.scan() == []


def test_oversized_events_and_metadata_are_refused() -> None:

    good = {"schema_version": 1, "call_id": "c-big", "recording_uri": "/r/c.gsm"}
    huge = json.dumps({**good, "metadata": {"blob": "x" * 100_000}}).encode()
    with pytest.raises(EventTooLargeError) as info:
        parse_event(huge)
    assert info.value.code == "event_too_large"
    err = error_event(huge, info.value)
    assert err["call_id"] == "c-big" and err["code"] == "event_too_large"
    assert isinstance(err["input"], str) and len(err["input"]) <= 4000
    with pytest.raises(EventTooLargeError):  # the limit is a setting (max_event_bytes)
        parse_event(json.dumps(good), max_bytes=20)
    with pytest.raises(schemas.SchemaError):  # but metadata itself is bounded (16 kB as JSON)
        parse_event(json.dumps({**good, "metadata": {"blob": "x" * 20_000}}))
    with pytest.raises(schemas.SchemaError):  # and in keys
        parse_event({**good, "metadata": {f"k{i}": i for i in range(65)}})
    assert parse_event(json.dumps({**good, "metadata": {"queue": "billing"}}))["call_id"] == "c-big"
