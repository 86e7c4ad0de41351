"""Python types of the events, mirroring the JSON Schemas (for type checkers and editors)."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

Layout = Literal["auto", "mono", "stereo-agent-left", "stereo-agent-right"]
Role = Literal["agent", "customer", "unknown"]
Gender = Literal["female", "male", "unknown"]


class CallFinished(TypedDict):
    schema_version: Literal[1]
    call_id: str
    recording_uri: str
    agent_id: NotRequired[str | None]
    reprocess: NotRequired[bool]
    agent_gender: NotRequired[Literal["female", "male"] | None]
    layout: NotRequired[Layout]
    language: NotRequired[str | None]
    tenant: NotRequired[str | None]
    metadata: NotRequired[dict[str, Any]]
    started_at: NotRequired[str]
    ended_at: NotRequired[str]
    submitted_at: NotRequired[str]


class SpeakerResult(TypedDict):
    speaker: str
    role: Role
    label: NotRequired[str | None]
    gender: Gender
    probabilities: dict[str, float]
    confidence: float
    role_source: NotRequired[Literal["model", "voiceprint", "channel"]]
    voiceprint_similarity: NotRequired[float | None]
    talk_time_s: float
    turns: int
    longest_turn_s: float
    windows: int
    padded: NotRequired[bool]
    segments: list[list[float]]


class ThirdVoice(TypedDict):
    speaker: str
    seconds: float
    from_s: float
    to_s: float
    similarity: float


class CallFigures(TypedDict):
    agent_talk_time_s: float
    customer_talk_time_s: float
    talk_to_listen_ratio: float | None
    silence_s: float
    music_s: float
    noise_s: float
    overlap_s: float
    interruptions: int
    turn_count: int
    third_voice: NotRequired[ThirdVoice | None]


class ModelInfo(TypedDict):
    name: str
    version: str
    classes: list[str]
    provider: NotRequired[str | None]


class CallResult(TypedDict):
    schema_version: Literal[1]
    call_id: str
    tenant: NotRequired[str | None]
    agent_id: NotRequired[str | None]
    language: NotRequired[str | None]
    recording_uri: NotRequired[str | None]
    metadata: NotRequired[dict[str, Any]]
    duration_s: float
    speakers: list[SpeakerResult]
    agent_speaker: str | None
    customer_speaker: str | None
    call: CallFigures
    separation_strategy: Literal["stereo", "gender", "embedding", "voiceprint"]
    model: ModelInfo
    latency_s: dict[str, float]
    event_time: NotRequired[str]
    produced_at: str
    worker: NotRequired[str | None]
    flags: NotRequired[list[str]]
    replay: NotRequired[bool]
    replayed_at: NotRequired[str]


class CallError(TypedDict):
    schema_version: Literal[1]
    call_id: str | None
    stage: str
    code: str
    message: str
    attempt: int
    retryable: NotRequired[bool]
    input: dict[str, Any] | str | None
    tenant: NotRequired[str | None]
    worker: NotRequired[str | None]
    produced_at: str
