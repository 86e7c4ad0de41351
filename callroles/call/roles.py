"""Who is the agent: role names, the paper's Eq. 4 and 5, and the two-party rule, in one place.

Eq. 4: a speaker's class probabilities are the mean over their windows. Eq. 5: the label is the
argmax. The role is the label's role; the class names (and so the roles) come from the model's
metadata: 2 classes (``customer``, ``agent``) or the paper's 4 gendered ones (``female_agent``).
Workers, ``callroles analyze``, training's evaluation and the benchmarks all decide here.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from callroles.agents.voiceprints import EMBEDDING_MODEL
from callroles.models.shipped import SHIPPED_DIR

log = logging.getLogger(__name__)

#: the two roles, in the label order of the paper's Table 3 (0 customer, 1 agent)
ROLES = ("customer", "agent")
GENDERS = ("female", "male")
#: the model's classes for 2 and 4 classes (Table 3), in label-number order
CLASSES = {
    2: ("customer", "agent"),
    4: ("female_customer", "male_customer", "female_agent", "male_agent"),
}


def role_of(class_name: str) -> str:
    """``agent`` / ``customer`` from a class name (2 classes, or the paper's 4 gendered ones)."""
    for role in ROLES:
        if class_name == role or class_name.endswith(f"_{role}"):
            return role
    return "unknown"


def eq4(window_probs: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Eq. 4: a speaker's class probabilities, the mean over their windows' (N, n_classes).

    Raises ValueError for no windows: a speaker with no window has no defined probability
    (callers mark it ``unknown`` instead).
    """
    probs = np.asarray(window_probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] < 2:
        raise ValueError(f"expected (N>=1, n_classes>=2) window probabilities, got {probs.shape}")
    mean: np.ndarray = probs.mean(axis=0)
    return mean


@dataclass(frozen=True)
class SpeakerRole:
    """One speaker's decision: Eq. 4 probabilities, Eq. 5 label, role and its confidence.

    ``probabilities`` is empty (role ``unknown``) for a speaker without windows.
    """

    speaker: str
    role: str = "unknown"
    label: str | None = None
    confidence: float = 0.0
    probabilities: dict[str, float] = field(default_factory=dict)
    source: str = "model"  # what decided the role: model (Eq. 4/5), voiceprint or channel
    voiceprint_similarity: float | None = None

    def agent_probability(self) -> float:
        return float(sum(p for c, p in self.probabilities.items() if role_of(c) == "agent"))

    def as_role(self, role: str) -> SpeakerRole:
        """The same speaker given ``role``, with that role's summed probability as confidence."""
        conf = sum(p for c, p in self.probabilities.items() if role_of(c) == role)
        return replace(self, role=role, confidence=_unit(conf))


def _unit(x: float) -> float:
    return round(min(1.0, max(0.0, float(x))), 6)


def capped_sigmoid(margin: Any, scale: float, ceiling: float = 1.0) -> Any:
    """sigmoid(margin / scale), at most ``ceiling`` (never under 0.5): every calibrated
    confidence here, for one margin or an array of them (``callroles calibrate``)."""
    return np.minimum(1.0 / (1.0 + np.exp(-np.asarray(margin) / scale)), max(ceiling, 0.5))


def eq5(speaker: str, mean: Sequence[float] | np.ndarray, classes: Sequence[str]) -> SpeakerRole:
    """Eq. 5 on one speaker's Eq. 4 mean (in ``classes`` order)."""
    if len(mean) != len(classes):
        raise ValueError(f"{len(mean)} probabilities for {len(classes)} classes")
    rounded = [round(float(p), 6) for p in mean]
    label = classes[int(np.argmax(rounded))]
    role = role_of(label)
    probabilities = dict(zip(classes, rounded, strict=True))
    conf = sum(p for c, p in probabilities.items() if role_of(c) == role)
    return SpeakerRole(speaker, role, label, _unit(conf), probabilities)


def pair_margin(agent: SpeakerRole, customer: SpeakerRole) -> float:
    """logit P_a(agent) - logit P_c(agent): the evidence for this assignment over the swap."""
    eps = 1e-6
    pa = min(max(agent.agent_probability(), eps), 1 - eps)
    pc = min(max(customer.agent_probability(), eps), 1 - eps)
    return float(np.log(pa / (1 - pa)) - np.log(pc / (1 - pc)))


def pair_confidence(
    agent: SpeakerRole, customer: SpeakerRole, temperature: float = 1.0, ceiling: float = 1.0
) -> float:
    """P(this assignment) against the swapped one: sigmoid(pair_margin / temperature), which at
    temperature 1 is p_a(agent) p_c(customer) / (that + p_a(customer) p_c(agent)).

    A two-party call is one decision, not two: when both speakers score P(agent) 0.9997 and
    0.9996 the pair is a coin toss (0.57), whatever either number says alone. The temperature
    is fitted on held-out calls (``callroles calibrate``) so that the confidence means a rate.
    ``ceiling`` is the model's accuracy on those calls (voices and channels it never heard): the
    model alone never claims more than the rate at which it was right there.
    """
    return _unit(capped_sigmoid(pair_margin(agent, customer), temperature, ceiling))


def two_party(
    decisions: list[SpeakerRole], temperature: float = 1.0, ceiling: float = 1.0
) -> list[SpeakerRole]:
    """A two-party call has one agent and one customer: the one with the higher agent
    probability is the agent and the other the customer, both with the pair's confidence
    (:func:`pair_confidence`).

    Eq. 5 labels each speaker on its own; on an unfamiliar line or voice both can lean the same
    way while their ranking is still right. ``label`` keeps the per-speaker argmax.
    """
    scored = [d for d in decisions if d.probabilities]
    if len(decisions) != 2 or len(scored) != 2:
        return decisions
    agent, customer = sorted(scored, key=SpeakerRole.agent_probability, reverse=True)
    conf = pair_confidence(agent, customer, temperature, ceiling)
    fixed = {
        agent.speaker: replace(agent.as_role("agent"), confidence=conf),
        customer.speaker: replace(customer.as_role("customer"), confidence=conf),
    }
    return [fixed[d.speaker] for d in decisions]


def by_channel(decisions: list[SpeakerRole], hints: Mapping[str, str]) -> list[SpeakerRole]:
    """Stereo with a declared layout: the channel says who is who (``role_hint`` of each
    speaker), which the telephony system knows for certain; confidence 1."""
    if not hints:
        return decisions
    return [
        replace(d, role=hints[d.speaker], confidence=1.0, source="channel")
        if d.speaker in hints
        else d
        for d in decisions
    ]


@dataclass(frozen=True)
class VoiceprintScale:
    """How a similarity margin becomes a confidence: sigmoid(margin / scale), at most
    ``ceiling``; fitted on held-out generated calls by ``callroles calibrate --voiceprints``.
    ``scale`` None is the uncalibrated reading, 0.5 plus the margin."""

    scale: float | None = None
    ceiling: float = 1.0

    def confidence(self, margin: float) -> float:
        if self.scale is None:
            return _unit(0.5 + margin)
        return _unit(capped_sigmoid(margin, self.scale, self.ceiling))


def by_voiceprint(
    decisions: list[SpeakerRole],
    similarity: Mapping[str, float],
    scale: VoiceprintScale = VoiceprintScale(),
    alike: bool = False,
) -> list[SpeakerRole]:
    """The enrolled agent's voice decides: the speaker most similar to the agent's voiceprint is
    the agent, the others customers. Needs two or more speakers with an embedding (with one
    voice there is nothing to compare, and similarities are not calibrated to a threshold yet).

    Confidence comes from the margin over the next speaker's similarity (``scale``). ``alike``:
    the call's speakers sound like one person (their own embeddings as similar as two samples
    of one voice): the front end may have split one voice in two (a 10 s call whose customer
    spoke 1.6 s), so the print cannot tell them apart and the decision says 0.5.
    """
    scored = sorted(
        (d for d in decisions if d.speaker in similarity),
        key=lambda d: similarity[d.speaker],
        reverse=True,
    )
    if len(scored) < 2:
        return decisions
    agent = scored[0].speaker
    margin = similarity[agent] - similarity[scored[1].speaker]
    out = []
    for d in decisions:
        sim = similarity.get(d.speaker)
        if sim is None:
            out.append(d)
            continue
        out.append(
            replace(
                d,
                role="agent" if d.speaker == agent else "customer",
                confidence=0.5 if alike else scale.confidence(margin),
                source="voiceprint",
                voiceprint_similarity=round(float(sim), 4),
            )
        )
    return out


def decide_roles(
    means: Mapping[str, np.ndarray | None],
    classes: Sequence[str],
    speakers: Sequence[str],
    voiceprint: Mapping[str, float] | None = None,
    channels: Mapping[str, str] | None = None,
    temperature: float = 1.0,
    ceiling: float = 1.0,
    voiceprint_scale: VoiceprintScale = VoiceprintScale(),
    voices_alike: bool = False,
) -> list[SpeakerRole]:
    """Every speaker's role, in ``speakers`` order: Eq. 5 on each speaker's Eq. 4 mean
    (``means``; None or missing: no window, role ``unknown``) and the two-party rule; then,
    when the call's agent is enrolled, the voiceprint (``voiceprint``: each speaker's cosine
    similarity to it), which a known voice outranks the model's acoustic guess with; then, on a
    stereo call whose layout names the agent's side, the channel (``channels``: speaker ->
    role), which outranks both (the similarity stays in the result for auditing).
    ``temperature`` and ``ceiling`` calibrate the model's pair confidence (fitted per model by
    ``callroles calibrate``). ``voices_alike``: see :func:`by_voiceprint`."""
    decisions = []
    for spk in speakers:
        mean = means.get(spk)
        decisions.append(SpeakerRole(spk) if mean is None else eq5(spk, mean, classes))
    decisions = two_party(decisions, temperature, ceiling)
    if voiceprint:
        decisions = by_voiceprint(decisions, voiceprint, voiceprint_scale, voices_alike)
    return by_channel(decisions, channels or {})


def channel_agent(roles: Sequence[SpeakerRole]) -> str | None:
    """The speaker certainly the agent: the channel decided it (stereo with a layout)."""
    agents = [r.speaker for r in roles if r.role == "agent" and r.source == "channel"]
    return agents[0] if len(agents) == 1 else None


#: how similarity margins become confidences (``callroles calibrate --voiceprints --write``)
VOICEPRINT_CALIBRATION = SHIPPED_DIR / "voiceprint.calibration.json"


@functools.cache
def voiceprint_scale(path: Path = VOICEPRINT_CALIBRATION) -> VoiceprintScale:
    """The fitted scale for this embedding model, or the uncalibrated reading (with a log line
    when the file was fitted for another embedding model)."""
    if not path.is_file():
        return VoiceprintScale()
    data = json.loads(path.read_text())
    if data.get("embedding_model") != EMBEDDING_MODEL:
        theirs = data.get("embedding_model")
        log.warning("%s is for %s, not %s: ignored", path, theirs, EMBEDDING_MODEL)
        return VoiceprintScale()
    return VoiceprintScale(float(data["scale"]), float(data.get("ceiling", 1.0)))
