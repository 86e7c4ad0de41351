"""Every kind of bad input, through the plain functions the worker runs (no Kafka, no Redis):
``ingest.parse_event`` -> ``fetch.fetch`` -> ``Models.process``. Each must end in its typed
error code or a valid front-end result; nothing else may escape.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from callroles.base.errors import CallrolesError
from callroles.base.settings import Settings
from callroles.call.pipeline import Models, front_end
from callroles.models.features import stream_windows
from callroles.streaming.fetch import fetch
from callroles.streaming.ingest import parse_event
from tests.faults import corpus

FrontEndT = Any


@pytest.fixture(scope="session")
def frontend(limited_settings: Settings) -> FrontEndT:

    return Models(limited_settings)


def outcome(item: corpus.BadInput, settings: Settings, frontend: FrontEndT) -> tuple[str, Any]:
    """(code or "result", the front-end result or the exception) for one input."""

    try:
        event = parse_event(item.message)
        source = asyncio.run(fetch(event["recording_uri"], settings))
        return corpus.RESULT, front_end(source, layout=event["layout"], models=frontend)
    except CallrolesError as exc:
        return exc.code, exc


def _kinds() -> list[Any]:
    return [
        pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=corpus.KNOWN_DEFECTS[k]))
        if k in corpus.KNOWN_DEFECTS
        else k
        for k in corpus.ALL_KINDS
    ]


@pytest.mark.parametrize("kind", _kinds())
def test_bad_input_gives_typed_outcome(
    kind: str,
    bad_inputs: list[corpus.BadInput],
    limited_settings: Settings,
    frontend: FrontEndT,
) -> None:
    item = next(i for i in bad_inputs if i.kind == kind)
    code, value = outcome(item, limited_settings, frontend)
    shown = str(value)[:300] if code != corpus.RESULT else f"{len(value.speakers)} speakers"
    assert code in item.expect, f"{kind}: got {code} ({shown}), expected {sorted(item.expect)}"
    if code == corpus.RESULT:
        assert value.facts.duration_s > 0
        for speaker in value.speakers:
            windows = stream_windows(speaker.audio).windows
            assert windows.shape[1:] == (96, 1000)
            assert np.isfinite(windows).all()
    else:
        assert str(value), "an error without a message is not actionable"


def test_silence_has_no_speaker(
    bad_inputs: list[corpus.BadInput], limited_settings: Settings, frontend: FrontEndT
) -> None:
    item = next(i for i in bad_inputs if i.kind == "silence_only")
    code, value = outcome(item, limited_settings, frontend)
    assert code == corpus.RESULT
    assert all(len(s.audio) == 0 for s in value.speakers) or not value.speakers


def test_corpus_covers_the_issue(bad_inputs: list[corpus.BadInput]) -> None:
    assert len({i.kind for i in bad_inputs}) >= 20
    assert {i.kind for i in bad_inputs} == set(corpus.ALL_KINDS)
