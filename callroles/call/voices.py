"""The agent's voice in a call: their print, each speaker's voice, and what the call teaches.

Helpers of the ``roles`` stage (:mod:`callroles.call.pipeline`): the print of the call's
``agent_id`` (when enrolled), one embedding per speaker (the mean GE2E embedding of their
speech), each speaker's similarity to the print, and the learning a call allows
(:mod:`callroles.agents.enrolment`): a stereo call with a layout adds to its agent's print; a
mono call of an agent with no print leaves evidence, and may teach the print once a voice
recurs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from callroles.agents.enrolment import Enrolment, auto_enrol, learn_recurring, unlearn
from callroles.agents.store import VoiceprintStore
from callroles.agents.voiceprints import span_embedding
from callroles.base.settings import Settings
from callroles.call.roles import SpeakerRole, channel_agent
from callroles.frontend.decode import DecodedAudio
from callroles.frontend.speakers import FrontEndResult
from callroles.models.embeddings import SAME_VOICE

log = logging.getLogger(__name__)

Voices = dict[str, tuple[np.ndarray, float]]  # speaker -> (mean embedding, seconds of speech)


def agent_print(call: Mapping[str, Any], store: VoiceprintStore | None) -> np.ndarray | None:
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


def learns_recurring(
    call: Mapping[str, Any],
    front: FrontEndResult,
    settings: Settings,
    store: Any,
    vec: np.ndarray | None,
) -> bool:
    """Whether this call leaves evidence of who recurs: a mono call with an ``agent_id`` whose
    agent has no usable print yet."""
    return (
        vec is None
        and store is not None
        and "recurring" in settings.auto_enrol
        and bool(call.get("agent_id"))
        and front.strategy != "stereo"
    )


def call_voices(front: FrontEndResult, audio: DecodedAudio, encoder: Any) -> Voices:
    """Each speaker's mean embedding over their talk, and their seconds of talk."""
    wide = audio.wide.mean(axis=0)
    out: Voices = {}
    for stream in front.speakers:
        emb = span_embedding(wide, [(g.start, g.end) for g in stream.segments], encoder)
        if emb is not None:
            out[stream.speaker] = (emb, float(stream.talk_time_s))
    return out


def similarity(
    call: Mapping[str, Any], voices: Voices, vec: np.ndarray | None, speakers: int
) -> tuple[dict[str, float] | None, bool]:
    """Each speaker's similarity to the agent's voiceprint ``vec`` (None without one); and
    whether the two speakers the print is to choose between (the two most like it) sound like
    one person, their embeddings at least ``SAME_VOICE`` alike: then the margin between them
    is noise (``roles.by_voiceprint``)."""
    if vec is None or speakers < 2:
        return None, False
    out = {spk: float(emb @ vec) for spk, (emb, _) in voices.items()}
    top = sorted(out, key=lambda spk: out[spk], reverse=True)[:2]
    alike = len(top) == 2 and float(voices[top[0]][0] @ voices[top[1]][0]) >= SAME_VOICE
    if alike:
        log.info("call %s: two speakers sound alike; the voiceprint cannot tell them apart",
                 call.get("call_id"))  # fmt: skip
    return out, alike


def learn(
    call: Mapping[str, Any],
    front: FrontEndResult,
    audio: DecodedAudio,
    roles: Sequence[SpeakerRole],
    voices: Voices,
    vec: np.ndarray | None,
    settings: Settings,
    store: VoiceprintStore | None,
    encoder: Any,
    corrected: tuple[str, bool] | None = None,
) -> tuple[Enrolment | None, np.ndarray | None]:
    """What this call teaches its agent's print, and the print when the call made it. A store
    that fails is logged and the call's result still goes out (its roles stand without it).
    ``corrected``: the speaker a person said is the agent, and whether that is withdrawn (then
    its sample leaves the print); either way nothing else is learnt from the call."""
    if store is None or settings.auto_enrol == "off":
        return None, None
    try:
        if corrected is not None:
            speaker, undo = corrected
            if undo:
                return unlearn(store, dict(call), front, audio, speaker, encoder), None
            return auto_enrol(store, dict(call), front, audio, speaker, encoder, "correction"), None
        if "stereo" in settings.auto_enrol and front.strategy == "stereo":
            taught = auto_enrol(store, dict(call), front, audio, channel_agent(roles), encoder)
            return taught, None
        if learns_recurring(call, front, settings, store, vec) and voices:
            enrolment, print_ = learn_recurring(store, dict(call), voices)
            return enrolment, None if print_ is None else np.asarray(print_.vector, np.float32)
    except Exception:
        log.exception("learning from call %s failed", call.get("call_id"))
    return None, None
