"""Same-gender calls labelled by the agent's voiceprint: the calls DBAS has to leave out.

DBAS labels speakers by gender, so a call whose two speakers share one teaches it nothing, and in
many call centres that is most calls. When the call's agent is enrolled, the front end separates the
two voices and the voiceprint says which one is the agent. Only a call where the print finds the
agent's voice in one speaker and not in the other adds windows: the agent's similarity at least
``same_voice``, the customer's below it (the equal-error threshold of the voiceprint benchmark,
:data:`callroles.agents.enrolment.SAME_VOICE`). The decision's confidence is not used: it is 0.5
plus a margin of uncalibrated similarities (:func:`callroles.call.roles.by_voiceprint`). A speaker
keeps the split it already has in the tree (agents recur); a new one goes to validation for about
``validation_fraction`` of them, by a hash of its id.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from callroles.agents.calltable import CallRow
from callroles.agents.enrolment import SAME_VOICE
from callroles.agents.store import VoiceprintStore
from callroles.base.names import safe_name
from callroles.call.pipeline import Artefacts, CallFailure, Models, run_call
from callroles.models.features import stream_windows

log = logging.getLogger(__name__)

SAME_GENDER = "not two opposite genders"  # DBAS's skip reason for such calls (dataset.py)
PREFIX = "vp-"  # window files this module writes start with it
UTTERANCE_STEP = 10  # windows slide by 1 s: every 10th is a disjoint 10 s utterance, as in DBAS


@dataclass
class VoiceprintLabels:
    """What the voiceprint pass did, for the adapt report."""

    looked_at: int = 0
    labelled: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # call id -> why not
    windows: Counter[str] = field(default_factory=Counter)  # "split/role" -> windows written

    def to_dict(self) -> dict[str, Any]:
        reasons = Counter(r.split(":")[0] for r in self.refused.values())
        return {
            "same_gender_calls": self.looked_at,
            "labelled_calls": len(self.labelled),
            "refused": dict(reasons),
            "refused_calls": dict(sorted(self.refused.items())),
            "windows": dict(sorted(self.windows.items())),
        }


def same_gender(skipped: dict[str, str]) -> set[str]:
    """Call ids DBAS skipped only because their speakers share a gender."""
    return {cid for cid, why in skipped.items() if why.startswith(SAME_GENDER)}


def existing_split(tree: Path, speaker: str) -> str | None:
    """The split a speaker already has in the tree, or None."""
    for split in ("train", "validation"):
        if any((tree / split).glob(f"*/*/{speaker}")):
            return split
    return None


def held_out(speaker: str, fraction: float, seed: int) -> bool:
    """A stable draw: the same speaker, fraction and seed always land in the same split."""
    digest = hashlib.sha256(f"{seed}:{speaker}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


@dataclass(frozen=True)
class LabelRules:
    """When a same-gender call may teach the model, and where its new speakers go."""

    same_voice: float = SAME_VOICE
    validation_fraction: float = 0.1
    seed: int = 0
    tenant: str = ""


def add_voiceprint_calls(
    archive: Path,
    rows: Iterable[CallRow],
    skipped: dict[str, str],
    tree: Path,
    models: Models,
    store: VoiceprintStore,
    rules: LabelRules = LabelRules(),
    *,
    progress: bool = False,
) -> VoiceprintLabels:
    """Write the windows of same-gender calls whose roles the voiceprint decides with certainty."""
    todo = [r for r in rows if r.call_id in same_gender(skipped)]
    out = VoiceprintLabels(looked_at=len(todo))
    for row in tqdm(todo, desc="voiceprint calls", unit="call", disable=not progress):
        why = _label_call(Path(archive) / row.file, row, tree, models, store, rules, out)
        if why is None:
            out.labelled.append(row.call_id)
            continue
        out.refused[row.call_id] = why
        log.info("call %s not labelled by voiceprint: %s", row.call_id, why)
    return out


def _label_call(
    path: Path,
    row: CallRow,
    tree: Path,
    models: Models,
    store: VoiceprintStore,
    rules: LabelRules,
    out: VoiceprintLabels,
) -> str | None:
    """Label one call, or say why not (the reason's text before ':' is its kind)."""
    print_ = store.get(row.agent_id, rules.tenant)
    if print_ is None:
        return "agent not enrolled"
    if print_.usable():
        return f"voiceprint not usable: {print_.usable()}"
    call = {"call_id": row.call_id, "agent_id": row.agent_id, "tenant": rules.tenant or None}
    seen = Artefacts()
    result = run_call(path, call, models, voiceprints=store, learn=False, hook=seen)  # read only
    if isinstance(result, CallFailure):
        return f"call failed: {result.error}"
    roles = {r.speaker: r for r in seen["roles"]}
    if sorted(r.role for r in roles.values()) != ["agent", "customer"]:
        return "not two speakers: " + ", ".join(r.role for r in roles.values())
    if any(r.source != "voiceprint" for r in roles.values()):
        return "not decided by the voiceprint"
    sims = {r.role: r.voiceprint_similarity or 0.0 for r in roles.values()}
    if sims["agent"] < rules.same_voice:
        return f"agent's voice not found: similarity {sims['agent']:.2f}"
    if sims["customer"] >= rules.same_voice:
        return f"two voices like the agent's: customer similarity {sims['customer']:.2f}"
    for stream in seen["separate"].speakers:
        role = roles[stream.speaker].role
        speaker = safe_name(row.agent_id if role == "agent" else row.customer_id)
        split = existing_split(tree, speaker) or (
            "validation" if held_out(speaker, rules.validation_fraction, rules.seed) else "train"
        )
        win = stream_windows(stream.audio)
        utterances = win.windows[:0] if win.padded else win.windows[::UTTERANCE_STEP]
        if not len(utterances):
            continue
        folder = tree / split / role / row.agent_gender / speaker
        folder.mkdir(parents=True, exist_ok=True)
        for i, window in enumerate(utterances):
            name = f"{PREFIX}{safe_name(row.call_id)}-{i:04d}.npy"
            np.save(folder / name, np.ascontiguousarray(window, dtype=np.float32))
        out.windows[f"{split}/{role}"] += len(utterances)
    return None
