"""Render one call: a dialogue timeline placed sample-exactly, then the two acoustic paths.

Ground truth comes from the placed, trimmed utterances themselves: inside each utterance, runs of
frames within 40 dB of its loudest frame are speech; pauses shorter than ``MERGE_GAP_S`` count
as speech (as a human annotator marks them), longer ones split segments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from callroles.lab.simulate import channel, scripts, sounds
from callroles.lab.simulate.tts import FRAME, SR, TRIM_DB, frame_db, synthesize
from callroles.lab.simulate.voices import Voice

MERGE_GAP_S = 0.3
CLOSING_S = 8.0  # time the closing lines take, roughly


@dataclass(frozen=True)
class Party:
    speaker_id: str
    role: str  # "agent" | "customer"
    voice: Voice
    gain_db: float
    name: str = ""

    @property
    def gender(self) -> str:
        return self.voice.gender


@dataclass(frozen=True)
class CallPlan:
    call_id: str
    index: int
    seed: int
    language: str
    agent: Party
    customer: Party
    company: str
    target_s: float
    channels: int
    hold: bool
    started_at: str
    # acoustic path of (agent, customer): "headset" or "phone"; random paths (simulate
    # --random-paths) put agents on phones and customers on clean lines too
    paths: tuple[str, str] = ("headset", "phone")
    # codec and faults of (agent, customer) when on a phone line (simulate --lines varied)
    lines: tuple[channel.Line, channel.Line] = (channel.Line(), channel.Line())
    # hold music and announcements: "synthetic" chords, or "debian" recordings (--sounds)
    sounds: str = "synthetic"
    # a call centre's own recordings (simulate --house-sounds ID): every call of the corpus plays
    # the same greeting, the same prompt over hold music, and the same music-on-hold track from
    # its start, as a telephone system does; None draws them afresh per call
    house: int | None = None


@dataclass
class RenderedCall:
    plan: CallPlan
    audio: np.ndarray  # (N,) mono or (N, 2) agent left, customer right
    stems: dict[str, np.ndarray]  # clean placed speech per role, before the acoustic paths
    segments: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return len(self.audio) / SR

    def talk_time(self, role: str) -> float:
        return sum(s["end"] - s["start"] for s in self.segments if s["role"] == role)


def utterance_regions(x: np.ndarray) -> list[tuple[int, int]]:
    """Speech regions (sample offsets) of a trimmed utterance, short pauses bridged."""
    db = frame_db(x)
    active = db > db.max() - TRIM_DB
    regions: list[tuple[int, int]] = []
    gap = int(MERGE_GAP_S * SR / FRAME)
    idx = np.flatnonzero(active)
    if idx.size == 0:
        return regions
    start = prev = int(idx[0])
    for i in idx[1:]:
        if i - prev > gap:
            regions.append((start * FRAME, (prev + 1) * FRAME))
            start = int(i)
        prev = int(i)
    regions.append((start * FRAME, (prev + 1) * FRAME))
    return regions


class _Timeline:
    def __init__(self, plan: CallPlan, rng: np.random.Generator) -> None:
        self.plan = plan
        self.rng = rng
        self.items: list[tuple[str, int, np.ndarray]] = []  # role, start sample, audio
        self.regions: dict[str, list[tuple[int, int]]] = {"agent": [], "customer": []}
        self.events: list[dict] = []
        self.music: list[tuple[int, np.ndarray]] = []
        self.bursts: list[tuple[int, np.ndarray]] = []
        self.t = int(rng.uniform(0.4, 1.2) * SR)  # ring-back cut, then the agent answers

    def say(self, party: Party, text: str, start: int | None = None) -> int:
        audio = synthesize(party.voice, text)
        audio = audio * channel.db(float(self.rng.uniform(-1.5, 1.5)))
        at = self.t if start is None else start
        self.items.append((party.role, at, audio))
        self.regions[party.role].extend((at + a, at + b) for a, b in utterance_regions(audio))
        end = at + len(audio)
        if start is None:
            self.t = end
        return end

    def turn(self, party: Party, sentences: list[str], listener: Party) -> None:
        lines = scripts.LINES[self.plan.language]
        for k, text in enumerate(sentences):
            if k:
                self.t += int(self.rng.uniform(0.15, 0.5) * SR)
            begin = self.t
            self.say(party, text)
            length = self.t - begin
            if length > 2.5 * SR and self.rng.random() < 0.45:  # listener backchannel, overlapping
                at = begin + int(self.rng.uniform(0.35, 0.75) * length)
                self.say(listener, scripts.pick(lines.backchannels, self.rng), start=at)

    def gap(self) -> None:
        r = self.rng.random()
        if r < 0.15:  # the next speaker starts before the previous one finished
            self.t -= int(self.rng.uniform(0.2, 0.5) * SR)
        elif r < 0.23:  # a long silence: the agent is typing, the customer searching a paper
            dur = float(self.rng.uniform(2.0, 4.0))
            start = self.t
            self.t += int(dur * SR)
            self.events.append({"start": start / SR, "end": self.t / SR, "kind": "silence"})
            if self.rng.random() < 0.5:
                b = float(self.rng.uniform(0.3, 0.8))
                at = start + int(self.rng.uniform(0.2, dur - b - 0.1) * SR)
                self.bursts.append((at, channel.noise_burst(b, self.rng, -32.0)))
                self.events.append({"start": at / SR, "end": at / SR + b, "kind": "noise"})
        else:
            self.t += int(self.rng.uniform(0.15, 0.8) * SR)

    def hold(self, seconds: float) -> None:
        if self.plan.sounds in sounds.REAL_SOUNDS:
            self._real_hold(seconds)
            return
        start = self.t
        music = channel.hold_music(seconds, self.rng)
        self.music.append((start, music))
        self.t += len(music)
        self.events.append({"start": start / SR, "end": self.t / SR, "kind": "music"})

    def pick_rng(self, which: int) -> np.random.Generator:
        """Where a recorded sound is drawn from: the call's own draws, or the call centre's
        fixed choice (``which``: 0 greeting, 1 prompt over hold music, 2 music on hold)."""
        house = self.plan.house
        return self.rng if house is None else np.random.default_rng([house, which])

    def _real_hold(self, seconds: float) -> None:
        """Real hold music, with a recorded announcement over it part of the time."""
        start = self.t
        music = sounds.hold_music(
            seconds, self.pick_rng(2), kind=self.plan.sounds, from_start=self.plan.house is not None
        )
        self.music.append((start, music))
        self.events.append({"start": start / SR, "end": (start + len(music)) / SR, "kind": "music"})
        if seconds > 8.0 and self.rng.random() < 0.6:
            at = start + int(self.rng.uniform(2.0, seconds / 2) * SR)
            prompt, _ = sounds.announcement(
                self.plan.language, self.pick_rng(1), kind=self.plan.sounds
            )
            prompt = prompt[: start + len(music) - at]
            music[at - start : at - start + len(prompt)] *= 0.25  # the music ducks under it
            self.announce(prompt, at)
        self.t += len(music)

    def announce(self, prompt: np.ndarray, at: int) -> None:
        """A recorded prompt on the line: speech in the audio, nobody's talk in the truth."""
        self.music.append((at, prompt))
        for a, b in merge_regions(utterance_regions(prompt)):
            self.events.append(
                {"start": (at + a) / SR, "end": (at + b) / SR, "kind": "announcement"}
            )


def _sentences(
    templates: tuple[str, ...], n: int, plan: CallPlan, rng: np.random.Generator
) -> list[str]:
    return [scripts.fill(scripts.pick(templates, rng), plan.language, rng) for _ in range(n)]


def _script(plan: CallPlan, tl: _Timeline) -> None:
    rng, lines, agent, cust = tl.rng, scripts.LINES[plan.language], plan.agent, plan.customer
    known = {"company": plan.company, "name": agent.name}
    if plan.sounds in sounds.REAL_SOUNDS and rng.random() < 0.3:  # the greeting before the agent
        prompt, _ = sounds.announcement(plan.language, tl.pick_rng(0), kind=plan.sounds)
        tl.announce(prompt, tl.t)
        tl.t += len(prompt) + int(rng.uniform(0.3, 1.0) * SR)
    opening = scripts.fill(scripts.pick(lines.openings, rng), plan.language, rng, **known)
    tl.turn(agent, [opening], cust)
    tl.gap()
    tl.turn(
        cust,
        _sentences(lines.customer_first, 1, plan, rng)
        + _sentences(lines.customer_turns, int(rng.integers(0, 2)), plan, rng),
        agent,
    )
    target = int(plan.target_s * SR)
    held = not plan.hold
    while tl.t < target - CLOSING_S * SR:
        tl.gap()
        remaining = (target - tl.t) / SR - CLOSING_S
        if not held and remaining > 25 and (rng.random() < 0.5 or remaining < 40):
            held = True
            tl.turn(agent, [scripts.pick(lines.hold, rng)], cust)
            tl.t += int(rng.uniform(0.3, 0.8) * SR)
            tl.hold(float(min(rng.uniform(8.0, 30.0), remaining - 12.0)))
            tl.turn(agent, [scripts.pick(lines.back_from_hold, rng)], cust)
            continue
        tl.turn(agent, _sentences(lines.agent_turns, int(rng.integers(1, 3)), plan, rng), cust)
        tl.gap()
        tl.turn(cust, _sentences(lines.customer_turns, int(rng.integers(1, 3)), plan, rng), agent)
    tl.gap()
    closing = scripts.fill(scripts.pick(lines.closings, rng), plan.language, rng, **known)
    tl.turn(agent, [closing], cust)
    tl.t += int(rng.uniform(0.2, 0.6) * SR)
    tl.turn(cust, [scripts.pick(lines.customer_bye, rng)], agent)
    tl.t += int(rng.uniform(0.4, 1.0) * SR)


def merge_regions(regions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    gap = int(MERGE_GAP_S * SR)
    for a, b in sorted(regions):
        if out and a - out[-1][1] <= gap:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _path(
    kind: str,
    x: np.ndarray,
    rng: np.random.Generator,
    gain_db: float,
    noise_db: float | None,
    line: channel.Line,
) -> np.ndarray:
    """One party's acoustic path: the headset, or the telephone line (line noise at
    ``noise_db``, drawn for the call; an agent on a phone gets its own draw)."""
    if kind == "headset":
        return channel.headset(x, rng, gain_db)
    level = float(rng.uniform(-56.0, -46.0)) if noise_db is None else noise_db
    return channel.phone_line(x, rng, gain_db, level, line)


def render(plan: CallPlan) -> RenderedCall:
    """Synthesize, place and mix one call; deterministic for (plan.seed, plan.index)."""
    rng = np.random.default_rng([plan.seed, plan.index, 7])
    tl = _Timeline(plan, rng)
    _script(plan, tl)
    n = max(tl.t, *(s + len(a) for _, s, a in tl.items))
    stems = {"agent": np.zeros(n, np.float32), "customer": np.zeros(n, np.float32)}
    for role, start, audio in tl.items:
        stems[role][start : start + len(audio)] += audio
    extra = np.zeros(n, np.float32)  # what travels the customer's line besides the voice
    for start, audio in tl.music + tl.bursts:
        extra[start : start + len(audio)] += audio[: n - start]
    agent_side = _path(plan.paths[0], stems["agent"], rng, plan.agent.gain_db, None, plan.lines[0])
    noise_db = float(rng.uniform(-56.0, -46.0))
    cust_side = _path(
        plan.paths[1], stems["customer"] * channel.db(plan.customer.gain_db) + extra, rng, 0.0,
        noise_db, plan.lines[1],
    )  # fmt: skip
    if plan.channels == 2:
        audio = np.stack([agent_side, cust_side], axis=1)
    else:
        audio = agent_side + cust_side
    peak = float(np.max(np.abs(audio))) or 1.0
    audio = (audio * min(1.0, 0.89 / peak)).astype(np.float32)
    segments = []
    for party in (plan.agent, plan.customer):
        for a, b in merge_regions(tl.regions[party.role]):
            segments.append(
                {
                    "start": round(a / SR, 3),
                    "end": round(b / SR, 3),
                    "speaker": party.speaker_id,
                    "role": party.role,
                    "gender": party.gender,
                }
            )
    segments.sort(key=lambda s: (s["start"], s["speaker"]))
    events = sorted(tl.events, key=lambda e: e["start"])
    for e in events:
        e["start"], e["end"] = round(e["start"], 3), round(e["end"], 3)
    return RenderedCall(plan, audio, stems, segments, events)
