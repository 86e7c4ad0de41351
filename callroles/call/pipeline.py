"""One call, from recording to result: the pipeline the worker and ``analyze`` both run.

``run_call`` is the whole method on one recording: the front end (decode, inaSpeechSegmenter,
speaker separation, talk time, 10 s windows), the CRNN on every speaker's windows, the paper's
Eq. 4 and 5 and the two-party rule (:mod:`callroles.call.roles`), and the ``call_result.v1`` event
(:mod:`callroles.call.result`). Failures come back as data (:class:`CallFailure`, bytewax style), so
a streaming worker turns them into error events and a notebook user can raise them
(:meth:`CallFailure.raise_`). What streaming adds (leases, the Redis ledger, sending) lives in
``callroles.streaming.process``; nothing here knows about Kafka or Redis.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from callroles.agents.enrolment import Enrolment, auto_enrol
from callroles.agents.voiceprints import VoiceprintStore, span_embedding, voiceprint_scale
from callroles.base.errors import CallrolesError, InputError
from callroles.base.settings import Settings, get_settings
from callroles.call.result import build_result
from callroles.call.roles import SpeakerRole, decide_roles
from callroles.frontend.decode import DecodedAudio, decode
from callroles.frontend.pipeline import FrontEnd, FrontEndResult, SpeakerChoice
from callroles.models.crnn import Scorer
from callroles.models.embeddings import SAME_VOICE
from callroles.schemas import ModelInfo

log = logging.getLogger(__name__)

Recording = Path | bytes | DecodedAudio


@dataclass(frozen=True)
class Models:
    """What scoring a call needs, loaded once per process: the front end and the role model."""

    frontend: FrontEnd
    scorer: Scorer

    @property
    def model_version(self) -> str:
        return str(self.scorer.model_version)

    def model_info(self) -> ModelInfo:
        return {
            "name": self.scorer.model_name,
            "version": self.scorer.model_version,
            "classes": list(self.scorer.classes),
            "provider": self.scorer.provider,
        }


def load_models(settings: Settings) -> Models:
    """The scorer first (a bad model fails before the front end loads), then the front end.

    ``settings.scoring`` decides once whether the trunk-once graph is loaded; scoring then
    always calls ``Scorer.score_speaker``, which is per-window scoring when it is not.
    """
    scorer = Scorer.load(
        settings.model_path,
        execution_provider=settings.execution_provider,
        stream_trunk=settings.scoring == "trunk-once",
        threads=settings.onnx_threads,
    )
    return Models(FrontEnd(settings), scorer)


@dataclass(frozen=True)
class CallResult:
    """A finished call: the result event plus what produced it (for plots, tests, benchmarks)."""

    event: dict[str, Any]  # a valid call_result.v1
    front: FrontEndResult
    window_probs: dict[str, np.ndarray]
    roles: list[SpeakerRole]

    @property
    def windows(self) -> int:
        return int(sum(len(p) for p in self.window_probs.values()))


@dataclass(frozen=True)
class CallFailure:
    """A call that could not be processed: the error and the stage it happened in.

    A :class:`CallrolesError` is the call's own fault (bad audio, bad model) and final; any
    other exception is unexpected and may be retried by whoever runs the call.
    """

    error: BaseException
    stage: str
    latencies: dict[str, float] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        return isinstance(self.error, CallrolesError)

    def raise_(self) -> None:
        raise self.error


def run_call(
    recording: Recording,
    call: Mapping[str, Any] | None,
    models: Models,
    settings: Settings,
    *,
    n_speakers: SpeakerChoice = "setting",
    strategy: str = "auto",
    latencies: Mapping[str, float] | None = None,
    worker: str | None = None,
    voiceprints: VoiceprintStore | None = None,
) -> CallResult | CallFailure:
    """Run one call; never raises for a problem with the call (it comes back as a failure).

    ``call`` is the validated call-finished event (call id, layout, tenant, agent id...);
    None analyses a bare file, named after its stem. ``latencies`` measured before (a fetch)
    are merged into the result's ``latency_s``. ``settings`` are the ones ``models`` were
    loaded with. A failure's ``stage`` is where the call was; the error event prefers the
    error's own stage when it names one (decode, segment...). With ``voiceprints``, a call whose
    ``agent_id`` is enrolled gets its roles from the agent's voice (:mod:`callroles.agents.voiceprints`).
    """
    call = call or {}
    timings = dict(latencies or {})
    started = time.perf_counter()
    stage = "frontend"
    try:
        call_id = str(call.get("call_id") or _name_of(recording))
        audio = (
            recording
            if isinstance(recording, DecodedAudio)
            else decode(recording, models.frontend.limits)
        )
        vec = _agent_print(call, voiceprints)
        front = models.frontend.process(
            audio,
            layout=str(call.get("layout") or "auto"),
            n_speakers=n_speakers,
            strategy=strategy,
            anchor=vec,
        )
        timings["frontend"] = time.perf_counter() - started
        stage = "score"
        t0 = time.perf_counter()
        window_probs = {s.speaker: models.scorer.score_speaker(s.windows) for s in front.speakers}
        timings["score"] = time.perf_counter() - t0
        stage = "result"
        t0 = time.perf_counter()
        similarity, alike = _voiceprint_similarity(call, front, audio, models, vec)
        channels = {s.speaker: s.role_hint for s in front.speakers if s.role_hint}
        roles = decide_roles(
            window_probs,
            models.scorer.classes,
            [s.speaker for s in front.speakers],
            similarity,
            channels if front.strategy == "stereo" else None,
            models.scorer.temperature,
            models.scorer.confidence_ceiling,
            voiceprint_scale(),
            alike,
        )
        learnt = _learn(call, front, audio, roles, models, settings, voiceprints)
        timings["roles"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - started + sum((latencies or {}).values())
        event = build_result(
            call_id, front, roles, models.model_info(), timings, event=call, worker=worker,
            enrolment=learnt.to_dict() if learnt else None,
        )  # fmt: skip
    except Exception as exc:  # errors as data: the caller decides (error event, retry, raise)
        return CallFailure(exc, stage, timings)
    return CallResult(event, front, window_probs, roles)


def _agent_print(call: Mapping[str, Any], store: VoiceprintStore | None) -> np.ndarray | None:
    """The call's enrolled agent's voiceprint, or None (no agent id, none enrolled, a print from
    another embedding model: then the model decides, and a log says why for the last)."""
    agent_id = call.get("agent_id")
    if store is None or not agent_id:
        return None
    print_ = store.get(str(agent_id), str(call.get("tenant") or ""))
    if print_ is None:
        return None
    why = print_.usable()
    if why:
        log.warning("voiceprint of agent %s not used: %s", agent_id, why)
        return None
    return np.asarray(print_.vector, np.float32)


def _voiceprint_similarity(
    call: Mapping[str, Any],
    front: FrontEndResult,
    audio: DecodedAudio,
    models: Models,
    vec: np.ndarray | None,
) -> tuple[dict[str, float] | None, bool]:
    """Each speaker's similarity to the agent's voiceprint ``vec`` (None without one); and
    whether the two speakers the print is to choose between (the two most like it) sound like
    one person, their embeddings at least ``SAME_VOICE`` alike: then the margin between them
    is noise (``roles.by_voiceprint``)."""
    if vec is None or len(front.speakers) < 2:
        return None, False
    wide = audio.wide.mean(axis=0)
    found = {}
    for stream in front.speakers:
        spans = [(g.start, g.end) for g in stream.segments]
        emb = span_embedding(wide, spans, models.frontend.encoder)
        if emb is not None:
            found[stream.speaker] = emb
    out = {spk: float(emb @ vec) for spk, emb in found.items()}
    top = sorted(out, key=lambda spk: out[spk], reverse=True)[:2]
    alike = len(top) == 2 and float(found[top[0]] @ found[top[1]]) >= SAME_VOICE
    if alike:
        log.info("call %s: two speakers sound alike; the voiceprint cannot tell them apart",
                 call.get("call_id"))  # fmt: skip
    return out, alike


def _learn(
    call: Mapping[str, Any],
    front: FrontEndResult,
    audio: DecodedAudio,
    roles: list[SpeakerRole],
    models: Models,
    settings: Settings,
    store: VoiceprintStore | None,
) -> Enrolment | None:
    """Automatic enrolment from a certain call (callroles.agents.enrolment); a store that fails is
    logged and the call's result still goes out (its roles do not depend on it)."""
    if store is None or settings.auto_enrol == "off":
        return None
    try:
        return auto_enrol(store, dict(call), front, audio, roles, models.frontend.encoder)
    except Exception:
        log.exception("automatic enrolment failed for call %s", call.get("call_id"))
        return None


def _name_of(recording: Recording) -> str:
    if isinstance(recording, Path):
        return recording.stem
    return "call"


def analyze_file(
    path: Path | str,
    *,
    settings: Settings | None = None,
    models: Models | None = None,
    call: Mapping[str, Any] | None = None,
    n_speakers: SpeakerChoice = "setting",
    strategy: str = "auto",
    voiceprints: VoiceprintStore | None = None,
) -> CallResult:
    """The public entry point: one recording in, the worker's ``call_result.v1`` out.

    >>> from callroles.call.pipeline import analyze_file
    >>> result = analyze_file("call.gsm").event   # doctest: +SKIP

    Loads the models on first use (pass ``models`` to reuse them across files) and raises the
    typed error (a :class:`callroles.base.errors.CallrolesError`) when the call cannot be processed.
    """
    settings = settings or get_settings()
    source = Path(path)
    if not source.is_file():
        raise InputError(f"no such recording: {source}", code="input_missing")
    models = models or load_models(settings)
    outcome = run_call(
        source, call, models, settings, n_speakers=n_speakers, strategy=strategy,
        voiceprints=voiceprints,
    )  # fmt: skip
    if isinstance(outcome, CallFailure):
        outcome.raise_()
    assert isinstance(outcome, CallResult)
    return outcome
