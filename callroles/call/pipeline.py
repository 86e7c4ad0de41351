"""One call, from recording to result: the named stages a worker and ``analyze`` both run.

    decode -> segment -> separate -> score -> roles -> result

``decode`` (:mod:`callroles.frontend.decode`) makes 8 kHz channels of any recording; ``segment``
(:mod:`callroles.frontend.speech`) finds where somebody speaks and what is music, noise or a
known announcement; ``separate`` (:mod:`callroles.frontend.speakers`) says who speaks when and
for how long, and bundles each speaker's stream; ``score`` (:mod:`callroles.call.scoring`)
windows each stream and runs the role CRNN, Eq. 4; ``roles`` (:mod:`callroles.call.roles`)
decides, by Eq. 5 and the two-party rule, the agent's voiceprint or the channel; ``result``
(:mod:`callroles.call.result`) writes the ``call_result.v1`` event. After ``roles``, a certain
call may teach its agent's voiceprint (:mod:`callroles.agents.enrolment`).

A ``hook(stage, artefact)`` sees each stage's output as it is made (pyannote's pipelines do the
same): plots, benchmarks and tests read the intermediate results there, and the result stays
the event. A call that cannot be processed comes back as a :class:`CallFailure` (errors as
data, bytewax style), the one failure type: a worker turns it into an error event, a notebook
raises it. Nothing here knows about Kafka or Redis.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from callroles.agents.store import VoiceprintStore
from callroles.base.errors import CallrolesError, InputError
from callroles.base.settings import Settings
from callroles.call import voices
from callroles.call.correction import corrected_roles, corrected_speaker, correction_of
from callroles.call.result import build_result
from callroles.call.roles import SpeakerRole, decide_roles, voiceprint_scale
from callroles.call.scoring import SpeakerScore, score_speakers
from callroles.call.voices import agent_print, call_voices, learns_recurring
from callroles.frontend.count import VoiceAsk
from callroles.frontend.decode import DecodedAudio, DecodeLimits, decode
from callroles.frontend.known import LiveKnownSounds
from callroles.frontend.speakers import SEPARATION_CHOICES, FrontEndResult, find_speakers
from callroles.frontend.speech import find_speech
from callroles.models.activity import ActivityModel
from callroles.models.campplus import VoiceEmbedding
from callroles.models.crnn import RoleModel
from callroles.models.embeddings import VoiceEncoder
from callroles.models.features import stream_windows
from callroles.models.ina import InaSegmenter
from callroles.models.local_speakers import LocalSpeakerModel
from callroles.models.music import MusicModel
from callroles.models.vad import SileroVad
from callroles.schemas import LAYOUTS, ModelInfo

log = logging.getLogger(__name__)

STAGES = ("decode", "segment", "separate", "score", "roles", "result")
#: a stage an error event names otherwise (``call_error.v1``'s stages)
ERROR_STAGE = {"roles": "result"}
Recording = Path | bytes | DecodedAudio
Hook = Callable[[str, Any], None]
#: voices to split a mono call into: a number (1-4), "auto" (count them), "two-or-more" (two
#: unless more are counted with certainty), "setting" (the settings' ``speaker_count``)
SpeakerChoice = int | Literal["auto", "two-or-more", "setting"]


@dataclass(frozen=True)
class CallFailure:
    """A call that could not be processed: the error, the stage it happened in, the try.

    A :class:`CallrolesError` is the call's own fault (bad audio, bad model) and final; any
    other exception is unexpected and may be retried by whoever runs the call.
    """

    error: BaseException
    stage: str
    attempt: int = 1
    latencies: dict[str, float] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        return isinstance(self.error, CallrolesError)

    def raise_(self) -> None:
        raise self.error


class Models:
    """Every model a call meets, loaded once per process and shared by its threads."""

    def __init__(self, settings: Settings, *, frame_models: bool = True) -> None:
        """The role model first (a bad model fails before the rest loads). ``frame_models``
        False leaves out the activity model, silero-vad, the music check, the local-speaker
        model and CAM++: speech is then ina's alone (enough to enrol an agent's sample or to build a
        training set, faster)."""
        threads = settings.onnx_threads
        self.settings = settings
        self.role_model = RoleModel.load(
            settings.model_path, execution_provider=settings.execution_provider, threads=threads
        )
        self.limits = DecodeLimits.from_settings(settings)
        self.segmenter = InaSegmenter(settings, threads=threads)
        self.activity = ActivityModel.load(settings.activity_model_path) if frame_models else None
        self.vad = SileroVad.load(settings, threads) if frame_models else None
        self.music = MusicModel.load(settings.music_model_path) if frame_models else None
        self.local = LocalSpeakerModel.load(settings, threads) if frame_models else None
        self.voices = VoiceEmbedding.load(settings, threads) if frame_models else None
        self.known = (
            LiveKnownSounds(settings.known_sounds, settings.home / "cache")
            if settings.known_sounds
            else None
        )
        self._encoder: VoiceEncoder | None = None
        self._lock = threading.Lock()
        stream_windows(np.zeros(8000, np.float32))  # pay librosa's JIT at load, not in a call

    @property
    def encoder(self) -> VoiceEncoder:
        """The voice encoder (GE2E), loaded on first use: stereo calls never need it."""
        with self._lock:
            if self._encoder is None:
                self._encoder = VoiceEncoder(self.settings, self.settings.onnx_threads)
            return self._encoder

    @property
    def model_version(self) -> str:
        return str(self.role_model.model_version)

    def model_info(self) -> ModelInfo:
        model = self.role_model
        return {
            "name": model.model_name,
            "version": model.model_version,
            "classes": list(model.classes),
            "provider": model.provider,
        }


def load_models(settings: Settings, *, frame_models: bool = True) -> Models:
    return Models(settings, frame_models=frame_models)


def resolve_speakers(choice: SpeakerChoice, settings: Settings) -> VoiceAsk:
    """What a mono call's voices are asked to be; a bad choice is the caller's error."""
    if choice == "setting":
        choice = 2 if settings.speaker_count == "two" else settings.speaker_count
    if choice in ("auto", "two-or-more"):
        return choice
    if isinstance(choice, bool) or not isinstance(choice, int) or not 1 <= choice <= 4:
        raise InputError(
            "n_speakers must be between 1 and 4, auto or two-or-more", code="invalid_n_speakers"
        )
    return choice


def _no_hook(stage: str, artefact: Any) -> None:
    """The default hook: intermediate results are not kept."""


class Artefacts(dict[str, Any]):
    """A hook that keeps every stage's artefact by stage name: ``decode`` the audio, ``segment``
    the speech, ``separate`` the :class:`FrontEndResult`, ``score`` the speakers' scores,
    ``roles`` the decisions, ``result`` the event (``run_call(..., hook=seen)``)."""

    def __call__(self, stage: str, artefact: Any) -> None:
        self[stage] = artefact


def front_end(
    recording: Recording,
    models: Models,
    *,
    layout: str = "auto",
    n_speakers: SpeakerChoice = "setting",
    strategy: str = "auto",
    anchor: np.ndarray | None = None,
    hook: Hook = _no_hook,
) -> FrontEndResult:
    """The first three stages: decode, segment, separate. ``strategy`` "gender" or "embedding"
    forces one for a mono call; ``anchor``: the enrolled agent's voiceprint."""
    if strategy not in SEPARATION_CHOICES:
        raise InputError(f"strategy must be one of {SEPARATION_CHOICES}", code="invalid_strategy")
    if layout not in LAYOUTS:
        raise InputError(f"layout must be one of {LAYOUTS}, not {layout!r}", code="invalid_layout")
    wanted = resolve_speakers(n_speakers, models.settings)
    t0 = time.perf_counter()
    audio = recording if isinstance(recording, DecodedAudio) else decode(recording, models.limits)
    decoded_s = time.perf_counter() - t0
    hook("decode", audio)
    speech = find_speech(
        audio, layout, models.segmenter,
        activity=models.activity, vad=models.vad, music=models.music, known=models.known,
    )  # fmt: skip
    hook("segment", speech)
    front = find_speakers(
        audio, speech, models.encoder, wanted, strategy, anchor,
        local=models.local, voices=models.voices,
    )  # fmt: skip
    front.timings = {"decode": decoded_s, **front.timings}
    front.timings["total"] = sum(front.timings.values())
    front.timings = {k: round(v, 4) for k, v in front.timings.items()}
    hook("separate", front)
    return front


def run_call(
    recording: Recording,
    call: Mapping[str, Any] | None,
    models: Models,
    *,
    n_speakers: SpeakerChoice = "setting",
    strategy: str = "auto",
    latencies: Mapping[str, float] | None = None,
    worker: str | None = None,
    voiceprints: VoiceprintStore | None = None,
    learn: bool = True,
    hook: Hook = _no_hook,
) -> dict[str, Any] | CallFailure:
    """Run one call: its ``call_result.v1`` event, or the :class:`CallFailure`; never raises
    for a problem with the call.

    ``call`` is the validated call-finished event (call id, layout, tenant, agent id...); None
    analyses a bare file, named after its stem. ``latencies`` measured before (a fetch) are
    merged into the result's ``latency_s``. With ``voiceprints``, a call whose ``agent_id`` is
    enrolled gets its roles from the agent's voice, and a certain call teaches the print unless
    ``learn`` is False or ``settings.auto_enrol`` is off (callroles.agents.enrolment). A call
    that carries a person's correction (callroles.call.correction) takes its roles from it and
    teaches the print with it; an undone correction takes back what it taught, and the call is
    decided as if nobody had said anything.
    """
    call = call or {}
    timings = dict(latencies or {})
    started = time.perf_counter()
    stage = "decode"
    audio: DecodedAudio | None = None

    def seen(name: str, artefact: Any) -> None:
        nonlocal stage, audio
        stage = STAGES[STAGES.index(name) + 1] if name != "result" else name
        if name == "decode":
            audio = artefact
        hook(name, artefact)

    try:
        call_id = str(call.get("call_id") or _name_of(recording))
        vec = agent_print(call, voiceprints)
        front = front_end(
            recording, models, layout=str(call.get("layout") or "auto"), n_speakers=n_speakers,
            strategy=strategy, anchor=vec, hook=seen,
        )  # fmt: skip
        assert audio is not None
        timings["frontend"] = time.perf_counter() - started
        t0 = time.perf_counter()
        scores = score_speakers(models.role_model, front.speakers)
        timings["score"] = time.perf_counter() - t0
        seen("score", scores)
        t0 = time.perf_counter()
        store = voiceprints if learn else None
        settings = models.settings
        needs = vec is not None or learns_recurring(call, front, settings, store, vec)
        heard = call_voices(front, audio, models.encoder) if needs else {}
        roles = _decide(call, front, scores, models, heard, vec)
        correction = correction_of(call)  # a person said who the agent is (or withdrew it)
        corrected = None
        if correction is not None:
            corrected = (corrected_speaker(correction, front), bool(correction.get("undo")))
            if not corrected[1]:
                roles = corrected_roles(roles, corrected[0])
        learnt, learnt_print = voices.learn(
            call, front, audio, roles, heard, vec, settings, store, models.encoder, corrected
        )
        if learnt_print is not None:  # this call taught the print: it decides the call too
            roles = _decide(call, front, scores, models, heard, learnt_print)
        elif corrected is not None and corrected[1]:  # as if nobody had said anything
            roles = _decide(call, front, scores, models, heard, agent_print(call, voiceprints))
        timings["roles"] = time.perf_counter() - t0
        seen("roles", roles)
        timings["total"] = time.perf_counter() - started + sum((latencies or {}).values())
        event = build_result(
            call_id, front, scores, roles, models.model_info(), timings, event=call,
            worker=worker, enrolment=learnt.to_dict() if learnt else None,
        )  # fmt: skip
        seen("result", event)
    except Exception as exc:  # errors as data: the caller decides (error event, retry, raise)
        return CallFailure(exc, ERROR_STAGE.get(stage, stage), latencies=timings)
    return event


def _decide(
    call: Mapping[str, Any],
    front: FrontEndResult,
    scores: Mapping[str, SpeakerScore],
    models: Models,
    heard: voices.Voices,
    vec: np.ndarray | None,
) -> list[SpeakerRole]:
    """Every speaker's role: the model (Eq. 5, the two-party rule), the agent's voiceprint
    ``vec`` when there is one, the channel of a stereo call with a layout."""
    similarity, alike = voices.similarity(call, heard, vec, len(front.speakers))
    channels = {s.speaker: s.role_hint for s in front.speakers if s.role_hint}
    role_model = models.role_model
    return decide_roles(
        {spk: s.mean for spk, s in scores.items()},
        role_model.classes,
        [s.speaker for s in front.speakers],
        similarity,
        channels if front.strategy == "stereo" else None,
        role_model.temperature,
        role_model.confidence_ceiling,
        voiceprint_scale(),
        alike,
    )


def _name_of(recording: Recording) -> str:
    return recording.stem if isinstance(recording, Path) else "call"


def analyze_file(
    path: Path | str,
    models: Models,
    *,
    call: Mapping[str, Any] | None = None,
    n_speakers: SpeakerChoice = "setting",
    strategy: str = "auto",
    voiceprints: VoiceprintStore | None = None,
    hook: Hook = _no_hook,
) -> dict[str, Any]:
    """The public entry point: one recording in, the worker's ``call_result.v1`` event out.

    >>> models = load_models(Settings())              # once; reuse for many files
    >>> event = analyze_file("call.gsm", models)       # doctest: +SKIP

    Raises the typed error (a :class:`callroles.base.errors.CallrolesError`) when the call
    cannot be processed.
    """
    source = Path(path)
    if not source.is_file():
        raise InputError(f"no such recording: {source}", code="input_missing")
    outcome = run_call(
        source, call, models, n_speakers=n_speakers, strategy=strategy, voiceprints=voiceprints,
        hook=hook,
    )  # fmt: skip
    if isinstance(outcome, CallFailure):
        outcome.raise_()
    assert isinstance(outcome, dict)
    return outcome
