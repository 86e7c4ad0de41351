"""Calls of real voices: LibriSpeech readers as agents and customers (``simulate --real-voices``).

Our TTS voices are not real people. This generator builds two-party calls from real recorded
speech in a LibriSpeech-style folder (``SPEAKER/CHAPTER/*.flac`` or ``SPEAKER-CHAPTER-UTT.flac``
files, genders in ``SPEAKERS.TXT``), such as ``../shared/data/speakers/librispeech`` (CC BY 4.0):

- agents recur: speakers with several utterances (``test-other``, 10 readers) are the agent pool,
  each with an ``agent_id``; their first ``ENROL_UTTERANCES`` utterances are spoken only in
  stereo calls (where automatic enrolment may learn them), the rest only in mono calls, so a
  voiceprint is never tested on the audio it was made from;
- customers are new in every call (``train-clean-100``, one utterance each); about a third of the
  calls pair an agent with a customer of the same gender;
- each utterance is cut into turns of 2-6 s at its quietest 20 ms near the cut, and the turns
  alternate with pauses of 0.2-0.9 s and the occasional overlap, agent first; the acoustic paths
  and the codec are the simulator's (headset, phone line, GSM 6.10; ``random_paths`` as there).

What is said makes no sense as a dialogue (read audiobooks), which the front end and the
voiceprints do not need; the role model's scripts-and-prosody cues are absent, as on calls in a
language it never heard. Truth segments are each turn's speech, pauses under 0.3 s bridged: the
simulator's own convention (``dialogue.utterance_regions``). Deterministic for (folder, seed,
options).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import librosa
import numpy as np

from callroles.lab.simulate import channel, quickturns, sounds
from callroles.lab.simulate.corpus import line_of, rttm_of
from callroles.lab.simulate.dialogue import merge_regions, utterance_regions
from callroles.lab.simulate.errors import SimulateInputError

SR = channel.SR
ENROL_UTTERANCES = 4
SAME_GENDER_SHARE = 1 / 3
AGENT_UTTERANCES = 3  # per call


@dataclass(frozen=True)
class Reader:
    speaker: str
    gender: str  # female / male
    files: tuple[Path, ...]


def read_speakers(
    root: Path, leave_out: frozenset[str] = frozenset()
) -> tuple[list[Reader], list[Reader]]:
    """(agents: readers with 2 x ENROL_UTTERANCES utterances or more, customers: the rest),
    without the readers in ``leave_out``; where that leaves under two agents, every reader left
    is both (a training corpus whose voices no evaluation set plays)."""
    if not root.is_dir():
        raise SimulateInputError(
            f"no real voices at {root}: give a LibriSpeech-style folder (the project's "
            "../shared/data/speakers/librispeech; not part of a user's clone)",
            code="real_voices_missing",
        )
    genders: dict[str, str] = {}
    for table in root.rglob("SPEAKERS.TXT"):
        for line in table.read_text(errors="replace").splitlines():
            f = [x.strip() for x in line.split("|")]
            if len(f) >= 2 and not line.startswith(";") and f[1] in ("F", "M"):
                genders[f[0]] = "female" if f[1] == "F" else "male"
    files: dict[str, list[Path]] = {}
    for flac in sorted(root.rglob("*.flac")):
        m = re.match(r"(\d+)-\d+-\d+$", flac.stem)
        if m and m.group(1) in genders:
            files.setdefault(m.group(1), []).append(flac)
    readers = [
        Reader(s, genders[s], tuple(fs)) for s, fs in sorted(files.items()) if s not in leave_out
    ]
    agents = [r for r in readers if len(r.files) >= 2 * ENROL_UTTERANCES]
    customers = [r for r in readers if len(r.files) < 2 * ENROL_UTTERANCES]
    if leave_out and len(agents) < 2:
        agents = customers = readers
    if len(agents) < 2 or len(customers) < 2:
        raise SimulateInputError(
            f"{root}: {len(agents)} readers with {2 * ENROL_UTTERANCES}+ utterances (agents) "
            f"and {len(customers)} others (customers); need 2 of each",
            code="real_voices_missing",
        )
    return agents, customers


def readers_of(corpora: list[Path]) -> frozenset[str]:
    """The LibriSpeech readers that real-voice corpora play (their truth files' voices)."""
    return frozenset(
        s["voice"].removeprefix("librispeech-")
        for c in corpora
        for t in sorted((c / "truth").glob("*.json"))
        for s in json.loads(t.read_text())["speakers"].values()
        if s.get("voice", "").startswith("librispeech-")
    )


def _load(path: Path) -> np.ndarray:
    y, _ = librosa.load(path, sr=SR, mono=True)
    y = y / (np.sqrt(np.mean(y**2)) or 1.0) * 0.05  # about -26 dBFS speech
    return y.astype(np.float32)


def _turns(y: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Cut an utterance into 2-6 s turns, each cut at the quietest 20 ms near its target."""
    frame = int(0.02 * SR)
    energy = np.convolve(y**2, np.ones(frame) / frame, mode="same")
    out, start = [], 0
    while len(y) - start > 3 * SR:
        target = start + int(rng.uniform(2.0, 6.0) * SR)
        lo, hi = target - SR // 2, min(target + SR // 2, len(y) - SR)
        if hi <= lo:
            break
        cut = lo + int(np.argmin(energy[lo:hi]))
        out.append(y[start:cut])
        start = cut
    out.append(y[start:])
    return [t for t in out if len(t) > 0.3 * SR]


def _render(
    agent_turns: list[np.ndarray], cust_turns: list[np.ndarray], rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], dict[str, list[tuple[float, float]]]]:
    """Alternate the turns on one timeline: stems per role and each role's turn spans (s)."""
    t = int(rng.uniform(0.3, 1.0) * SR)
    placed = []
    for role, audio in quickturns.alternate(agent_turns, cust_turns):
        placed.append((role, t, audio))
        gap = rng.uniform(-0.4, 0.0) if rng.random() < 0.12 else rng.uniform(0.2, 0.9)
        t = max(t + len(audio) + int(gap * SR), t + int(0.5 * SR))
    return quickturns.mix(placed)


def _house(
    agent_turns: list[np.ndarray],
    cust_turns: list[np.ndarray],
    rng: np.random.Generator,
    house: int,
    draw_key: list[int],
) -> tuple[dict[str, np.ndarray], dict[str, list[tuple[float, float]]], list[dict[str, Any]]]:
    """The call with one call centre's recordings (``house``): half the calls open with its
    greeting, half put the customer on hold mid-call (its music-on-hold track from the start,
    its prompt over the music in 60% of holds). The same recordings in every call, as a
    telephone system plays them; the voices never repeat a turn across agents. Returns the stems
    (``line``: what the customer's line carries besides the voice), the turn spans and the
    truth events."""
    draw = np.random.default_rng(draw_key)  # apart from ``rng``, so other corpora stay the same
    greeting, hold = bool(draw.random() < 0.5), bool(draw.random() < 0.5)
    ka, kc = (len(agent_turns) + 1) // 2, (len(cust_turns) + 1) // 2
    parts = [(agent_turns[:ka], cust_turns[:kc]), (agent_turns[ka:], cust_turns[kc:])]
    if not hold:
        parts = [(agent_turns, cust_turns)]
    line: list[tuple[int, np.ndarray]] = []
    events: list[dict[str, Any]] = []

    def announce(prompt: np.ndarray, at: int) -> None:
        line.append((at, prompt))
        for a, b in merge_regions(utterance_regions(prompt)):
            events.append({"start": (at + a) / SR, "end": (at + b) / SR, "kind": "announcement"})

    t = 0
    if greeting:
        prompt, _ = sounds.announcement("en", np.random.default_rng([house, 0]))
        announce(prompt, int(0.3 * SR))
        t = int(0.3 * SR) + len(prompt)
    stems_out: dict[str, list[tuple[int, np.ndarray]]] = {"agent": [], "customer": []}
    spans: dict[str, list[tuple[float, float]]] = {"agent": [], "customer": []}
    for k, (a_turns, c_turns) in enumerate(parts):
        if k:  # the hold between the two halves
            seconds = float(draw.uniform(8.0, 30.0))
            music = sounds.hold_music(seconds, np.random.default_rng([house, 2]), from_start=True)
            t += int(draw.uniform(0.3, 0.8) * SR)
            line.append((t, music))
            events.append({"start": t / SR, "end": (t + len(music)) / SR, "kind": "music"})
            if draw.random() < 0.6:
                at = t + int(draw.uniform(2.0, seconds / 2) * SR)
                prompt, _ = sounds.announcement("en", np.random.default_rng([house, 1]))
                prompt = prompt[: t + len(music) - at]
                music[at - t : at - t + len(prompt)] *= 0.25  # the music ducks under it
                announce(prompt, at)
            t += len(music)
        part, part_spans = _render(a_turns, c_turns, rng)
        for role in ("agent", "customer"):
            stems_out[role].append((t, part[role]))
            spans[role] += [(a + t / SR, b + t / SR) for a, b in part_spans[role]]
        t += len(part["agent"])
    stems = {r: np.zeros(t, np.float32) for r in ("agent", "customer", "line")}
    for role, pieces in stems_out.items():
        for at, x in pieces:
            stems[role][at : at + len(x)] += x
    for at, x in line:
        stems["line"][at : at + len(x)] += x[: t - at]
    events = [{**e, "start": round(e["start"], 3), "end": round(e["end"], 3)} for e in events]
    return stems, spans, sorted(events, key=lambda e: e["start"])


#: calls each customer who calls again makes (``repeat_customers``)
REPEAT_CALLS = 5


def _repeat_plan(agents: list[Reader], calls: int, k: int, seed: int) -> dict[int, Reader]:
    """Call index -> the agent-pool reader who is its customer, ``REPEAT_CALLS`` calls each
    (drawn apart from the corpus' own draws, so corpora without them stay the same)."""
    if k <= 0:
        return {}
    if k > len(agents) - 2 or calls < k * REPEAT_CALLS:
        raise SimulateInputError(
            f"{k} customers who call {REPEAT_CALLS} times need {k * REPEAT_CALLS} calls and "
            f"{k + 2} readers of the agent pool", code="bad_call_count",
        )  # fmt: skip
    rng = np.random.default_rng([seed, 31])
    who = [agents[int(j)] for j in rng.choice(len(agents), size=k, replace=False)]
    slots = rng.choice(calls, size=k * REPEAT_CALLS, replace=False)
    return {int(i): who[n // REPEAT_CALLS] for n, i in enumerate(slots)}


def generate_real_corpus(
    out: Path,
    root: Path,
    *,
    calls: int,
    seed: int,
    stereo_fraction: float = 0.0,
    random_paths: bool = False,
    varied_lines: bool = False,
    house_sounds: int | None = None,
    repeat_customers: int = 0,
    quick_turns: bool = False,
    leave_out: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Write ``calls`` real-voice calls in the simulator's layout (audio/, truth/, calls.csv);
    ``varied_lines`` draws each phone line's codec and faults (``channel.draw_line``);
    ``house_sounds`` plays one call centre's recordings (``_house``) on the customer's line;
    ``repeat_customers`` readers of the agent pool call ``REPEAT_CALLS`` times each instead,
    each time a different agent (customers who call again); ``quick_turns`` cuts and places the
    turns as telephone conversation does (``quickturns``: 0.3-8 s turns, interruptions,
    backchannels), listed in each truth file's ``backchannels``; ``leave_out`` names readers no
    call may play (``readers_of``: those of the evaluation sets), for a training corpus."""
    if quick_turns and house_sounds is not None:
        raise SimulateInputError(
            "quick turns and a call centre's sounds are not made together: give one",
            code="options_conflict",
        )
    if leave_out and repeat_customers:  # the agent pool is left out: repeats would have no pool
        raise SimulateInputError(
            "readers left out and customers who call again are not made together: give one",
            code="options_conflict",
        )
    agents, customers = read_speakers(root, leave_out)
    repeats = _repeat_plan(agents, calls, repeat_customers, seed)
    agents = [a for a in agents if a not in repeats.values()]
    if out.exists() and any(out.iterdir()):
        raise SimulateInputError(f"{out} is not empty", code="output_not_empty")
    rng = np.random.default_rng([seed, 2024])
    (out / "audio").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(exist_ok=True)
    clock = datetime(2024, 5, 6, 9, 0)
    unused = list(rng.permutation(len(customers)))
    rows: list[dict[str, Any]] = []
    met: dict[str, set[str]] = {}  # repeat customer -> the agents they talked with
    same_gender = 0
    for i in range(calls):
        agent = agents[int(rng.integers(len(agents)))]
        same = rng.random() < SAME_GENDER_SHARE
        want = agent.gender if same else ("male" if agent.gender == "female" else "female")
        others = [k for k in unused if customers[k] != agent]  # all of them, unless leave_out
        others = others or [k for k in range(len(customers)) if customers[k] != agent]
        pick = next((k for k in others if customers[k].gender == want), others[0])
        if pick in unused:
            unused.remove(pick)
        if not unused:
            unused = list(rng.permutation(len(customers)))
        customer = repeats.get(i, customers[pick])
        if i in repeats:  # a customer who calls again talks with another agent each time
            seen = met.setdefault(customer.speaker, set())
            if agent.speaker in seen:
                agent = next(a for a in agents if a.speaker not in seen)
            seen.add(agent.speaker)
        stereo = rng.random() < stereo_fraction
        pool = agent.files[:ENROL_UTTERANCES] if stereo else agent.files[ENROL_UTTERANCES:]
        pool = pool or agent.files  # a reader of one utterance (``read_speakers``' leave_out)
        chosen = rng.choice(len(pool), size=min(AGENT_UTTERANCES, len(pool)), replace=False)
        cut = quickturns.cut_turns if quick_turns else _turns
        agent_turns = [t for k in chosen for t in cut(_load(pool[int(k)]), rng)]
        files = customer.files
        if i in repeats:  # two of the reader's utterances a call, as long as a customer's
            pair = np.random.default_rng([seed, 37, i]).choice(len(files), 2, replace=False)
            files = tuple(files[int(k)] for k in pair)
        cust_turns = [t for f in files for t in cut(_load(f), rng)]
        events: list[dict[str, Any]] = []
        placed: list[dict[str, Any]] = []
        if quick_turns:
            stems, spans, placed = quickturns.render(agent_turns, cust_turns, rng)
        elif house_sounds is None:
            stems, spans = _render(agent_turns, cust_turns, rng)
        else:
            stems, spans, events = _house(agent_turns, cust_turns, rng, house_sounds, [seed, 17, i])
        kinds = ("headset", "phone")
        paths = (
            (kinds[int(rng.integers(2))], kinds[int(rng.integers(2))])
            if random_paths
            else ("headset", "phone")
        )
        gains = (0.0, float(rng.uniform(-6, 0)))
        sides, lines = [], []
        line_rng = np.random.default_rng([seed, 13, i])  # apart, so classic calls stay the same
        for role, path, gain in zip(("agent", "customer"), paths, gains, strict=True):
            line = channel.draw_line(line_rng) if varied_lines else channel.Line()
            lines.append(line)
            x = stems[role]
            if role == "customer" and "line" in stems:  # the call centre's sounds travel here
                x, gain = x * channel.db(gain) + stems["line"], 0.0
            if path == "headset":
                sides.append(channel.headset(x, rng, gain))
            else:
                noise_db = float(rng.uniform(-56, -46))
                sides.append(channel.phone_line(x, rng, gain, noise_db, line))
        audio = np.stack(sides, axis=1) if stereo else sides[0] + sides[1]
        audio = (audio * min(1.0, 0.89 / (float(np.max(np.abs(audio))) or 1.0))).astype(np.float32)
        call_id = f"real{i + 1:05d}"
        rel = f"audio/{call_id}.{'wav' if stereo else 'gsm'}"
        channel.write_audio(out / rel, audio)
        agent_id, customer_id = f"R{agent.speaker}", f"C{customer.speaker}"
        segments = sorted(
            (
                {"start": round(a, 3), "end": round(b, 3), "speaker": who, "role": role,
                 "gender": gender}
                for role, who, gender in (("agent", agent_id, agent.gender),
                                          ("customer", customer_id, customer.gender))
                for a, b in spans[role]
            ),
            key=lambda s: (s["start"], s["speaker"]),
        )  # fmt: skip
        duration = len(audio) / SR
        same_gender += agent.gender == customer.gender
        truth = {
            "call_id": call_id,
            "duration_s": round(duration, 3),
            "channels": 2 if stereo else 1,
            "language": "en",
            "same_gender": agent.gender == customer.gender,
            "paths": {"agent": paths[0], "customer": paths[1]},
            "lines": {r: line_of(ln) for r, ln in zip(("agent", "customer"), lines, strict=True)},
            "speakers": {
                who: {
                    "role": role,
                    "gender": g,
                    "talk_time_s": round(sum(b - a for a, b in spans[role]), 3),
                    "voice": f"librispeech-{sp}",
                }
                for role, who, g, sp in (
                    ("agent", agent_id, agent.gender, agent.speaker),
                    ("customer", customer_id, customer.gender, customer.speaker),
                )
            },
            "segments": segments,
            "events": events,
            **({"backchannels": [
                {"speaker": agent_id if b["role"] == "agent" else customer_id,
                 "start": round(b["start"], 3), "end": round(b["end"], 3)}
                for b in placed
            ]} if quick_turns else {}),
        }  # fmt: skip
        (out / "truth" / f"{call_id}.json").write_text(json.dumps(truth, indent=1))
        (out / "truth" / f"{call_id}.rttm").write_text(rttm_of(call_id, segments))
        clock += timedelta(minutes=int(rng.integers(5, 90)))
        rows.append({
            "call_id": call_id, "file": rel, "started_at": clock.isoformat(timespec="seconds"),
            "duration_s": round(duration, 3), "agent_id": agent_id, "agent_gender": agent.gender,
            "customer_id": customer_id, "language": "en", "channels": 2 if stereo else 1,
        })  # fmt: skip
    with (out / "calls.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    meta = {
        "generator": "real-voices", "source": str(root), "seed": seed, "calls": calls,
        "stereo_fraction": stereo_fraction, "random_paths": random_paths,
        "varied_lines": varied_lines,
        **({"house_sounds": house_sounds} if house_sounds is not None else {}),
        **({"repeat_customers": repeat_customers} if repeat_customers else {}),
        **({"quick_turns": True} if quick_turns else {}),
        **({"readers_left_out": len(leave_out)} if leave_out else {}),
        "agents": len({r["agent_id"] for r in rows}),
        "same_gender_calls": same_gender,
        "stereo_calls": sum(r["channels"] == 2 for r in rows),
        "audio_s": round(sum(r["duration_s"] for r in rows), 1),
    }  # fmt: skip
    (out / "corpus.json").write_text(json.dumps(meta, indent=1))
    return meta
