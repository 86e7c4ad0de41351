"""Quick-turn conversations of real voices (``simulate --real-voices --quick-turns``): the turn
statistics of telephone conversation, not the 2-6 s alternation of ``real_voices._render``.

Where the figures come from (none is fitted to the real recordings in ``../shared/data``):

- turn lengths: log-normal, median 1.5 s, clipped to 0.3-8 s. ITU-T P.59 (artificial
  conversational speech, after Brady's 1968 telephone measurements) gives a mean talkspurt of
  1.0 s and a mean pause of 1.6 s; a turn is one or a few talkspurts. The range is the issue's.
- the gap between turns: normal around 0.2 s, the modal gap of turn-taking across languages
  (Levinson & Torreira 2015, Front. Psychol. 6:731), at least 0.05 s;
- interruptions: a quarter of the changes of speaker start early, overlapping the end of the
  other's turn by 0.1-0.6 s (between-speaker intervals are overlaps in 30-40 % of changes in
  Heldner & Edlund 2010, J. Phonetics 38; most overlaps are shorter than half a second; P.59's
  mean double talk is 0.23 s);
- backchannels: 0.2-0.8 s of the listener's voice inside a turn of at least 1.5 s of the other,
  in 35 % of such turns, overlapping it. LibriSpeech has no "mm-hm": a backchannel is a word or
  two of the listener's own reading, cut at its quietest 20 ms, so its voice is real and its
  length is a backchannel's.

Truth spans are each piece's speech, pauses under 0.3 s bridged, as for every generated call;
a backchannel is its speaker's talk and, where it overlaps, overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from callroles.lab.simulate import channel
from callroles.lab.simulate.dialogue import merge_regions, utterance_regions

SR = channel.SR


@dataclass(frozen=True)
class Timing:
    turn_median_s: float = 1.5
    turn_sigma: float = 0.8  # of the log-normal
    turn_range_s: tuple[float, float] = (0.3, 8.0)
    gap_mode_s: float = 0.2
    gap_sd_s: float = 0.25
    interruption_share: float = 0.25
    interruption_s: tuple[float, float] = (0.1, 0.6)
    backchannel_share: float = 0.35
    backchannel_s: tuple[float, float] = (0.2, 0.8)
    backchannel_host_s: float = 1.5  # only turns at least this long hold one


QUICK = Timing()


def _energy(y: np.ndarray) -> np.ndarray:
    frame = int(0.02 * SR)
    return np.convolve(y**2, np.ones(frame) / frame, mode="same")


def _quiet(energy: np.ndarray, target: int, reach: int, lo: int, hi: int) -> int:
    """The quietest sample within ``reach`` of ``target``, inside [lo, hi)."""
    a, b = max(lo, target - reach), min(hi, target + reach + 1)
    return min(max(target, lo), hi) if b <= a else a + int(np.argmin(energy[a:b]))


def cut_turns(y: np.ndarray, rng: np.random.Generator, timing: Timing = QUICK) -> list[np.ndarray]:
    """An utterance cut into turns of drawn lengths, each cut at the quietest 20 ms near its
    target (within a fifth of the turn's length), every turn inside ``turn_range_s``."""
    energy = _energy(y)
    lo, hi = (int(x * SR) for x in timing.turn_range_s)
    out, start = [], 0
    while len(y) - start >= lo:
        length = rng.lognormal(np.log(timing.turn_median_s), timing.turn_sigma)
        target = start + int(float(np.clip(length, *timing.turn_range_s)) * SR)
        if len(y) - start <= hi and target >= len(y) - lo:
            out.append(y[start:])  # the rest is one turn
            break
        last = min(len(y) - lo, start + hi)  # the rest stays a turn of its own
        cut = _quiet(energy, target, (target - start) // 5, start + lo, last)
        out.append(y[start:cut])
        start = cut
    return out


def backchannel_of(
    turns: list[np.ndarray], rng: np.random.Generator, timing: Timing = QUICK
) -> np.ndarray:
    """A word or two of one of ``turns``: a drawn length between quiet points."""
    turn = turns[int(rng.integers(len(turns)))]
    lo, hi = (int(s * SR) for s in timing.backchannel_s)
    if len(turn) <= lo:
        return turn
    energy = _energy(turn)
    start = _quiet(energy, int(rng.integers(0, max(1, len(turn) - lo))), SR // 10, 0, len(turn))
    length = int(rng.uniform(lo, hi))
    end = _quiet(energy, start + length, SR // 20, start + lo, min(len(turn), start + hi) + 1)
    return turn[start:end]


def alternate(
    agent_turns: list[np.ndarray], cust_turns: list[np.ndarray]
) -> list[tuple[str, np.ndarray]]:
    """The turns in speaking order: agent, customer, agent, ... while either has turns left."""
    order: list[tuple[str, np.ndarray]] = []
    a, c = list(agent_turns), list(cust_turns)
    while a or c:
        if a:
            order.append(("agent", a.pop(0)))
        if c:
            order.append(("customer", c.pop(0)))
    return order


def mix(
    pieces: list[tuple[str, int, np.ndarray]],
) -> tuple[dict[str, np.ndarray], dict[str, list[tuple[float, float]]]]:
    """Placed pieces (role, first sample, audio) as stems per role, with half a second after
    the last, and each role's talk spans (s): every piece's speech, pauses under 0.3 s bridged."""
    n = max(s + len(x) for _, s, x in pieces) + int(0.5 * SR)
    stems = {"agent": np.zeros(n, np.float32), "customer": np.zeros(n, np.float32)}
    regions: dict[str, list[tuple[int, int]]] = {"agent": [], "customer": []}
    for role, s, x in pieces:
        stems[role][s : s + len(x)] += x
        regions[role].extend((s + p, s + q) for p, q in utterance_regions(x))
    spans = {r: [(p / SR, q / SR) for p, q in merge_regions(v)] for r, v in regions.items()}
    return stems, spans


def render(
    agent_turns: list[np.ndarray],
    cust_turns: list[np.ndarray],
    rng: np.random.Generator,
    timing: Timing = QUICK,
) -> tuple[dict[str, np.ndarray], dict[str, list[tuple[float, float]]], list[dict[str, object]]]:
    """Alternate the turns with drawn gaps, interruptions and backchannels: stems per role, each
    role's talk spans (s) and the backchannels placed (``{"role", "start", "end"}``)."""
    order = alternate(agent_turns, cust_turns)
    pieces: list[tuple[str, int, np.ndarray]] = []
    backchannels: list[dict[str, object]] = []
    t = int(rng.uniform(0.3, 1.0) * SR)
    for k, (role, audio) in enumerate(order):
        pieces.append((role, t, audio))
        other = "customer" if role == "agent" else "agent"
        own = agent_turns if other == "agent" else cust_turns
        if len(audio) >= timing.backchannel_host_s * SR and rng.random() < timing.backchannel_share:
            bc = backchannel_of(own, rng, timing)
            at = t + int(rng.uniform(0.3, 0.8) * (len(audio) - len(bc)))
            pieces.append((other, at, bc))
            backchannels.append({"role": other, "start": at / SR, "end": (at + len(bc)) / SR})
        end = t + len(audio)
        if k + 1 < len(order) and rng.random() < timing.interruption_share:
            early = min(rng.uniform(*timing.interruption_s), 0.5 * len(audio) / SR)
            t = end - int(early * SR)
        else:
            t = end + int(max(0.05, rng.normal(timing.gap_mode_s, timing.gap_sd_s)) * SR)
    stems, spans = mix(pieces)
    return stems, spans, backchannels
