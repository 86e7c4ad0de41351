"""Draw a corpus plan: agents who recur, customers who mostly call once, languages, lengths.

The plan is drawn in one process from the seed alone (no engine runs), so that calls can then be
rendered in parallel and still come out identical for the same seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from callroles.lab.simulate import scripts
from callroles.lab.simulate.dialogue import CallPlan, Party
from callroles.lab.simulate.errors import SimulateInputError
from callroles.lab.simulate.voices import Voice

LANGUAGE_WEIGHTS = {"tr": 0.5, "de": 0.25, "en": 0.25}  # the paper: Turkish archive, DE/EN tests
CALLS_PER_AGENT = 6
SAME_GENDER_P = 0.3
REPEAT_CUSTOMER_P = 0.1
HOLD_P = 0.35
COUNTRY = {"tr": ("+90", "5"), "de": ("+49", "15"), "en": ("+44", "7")}
PRESETS = ("small", "default")


@dataclass(frozen=True)
class SmallCall:
    """One call of the small preset, chosen to cover every case the tests need."""

    language: str
    agent: tuple[str, str]  # gender, engine
    customer: tuple[str, str]
    channels: int
    target_s: float
    hold: bool
    agent_slot: int  # calls with the same slot share the agent


SMALL = (
    SmallCall("tr", ("female", "espeak"), ("male", "espeak"), 1, 64.0, True, 0),
    SmallCall("de", ("male", "espeak"), ("female", "espeak"), 1, 38.0, False, 1),
    SmallCall("en", ("female", "espeak"), ("male", "festival"), 1, 40.0, False, 2),
    SmallCall("tr", ("female", "espeak"), ("female", "espeak"), 1, 40.0, False, 0),
    SmallCall("en", ("male", "espeak"), ("female", "espeak"), 2, 45.0, False, 3),
)


def _duration(rng: np.random.Generator) -> float:
    """Log-normal around 3 minutes: about 92% in 60-600 s, the rest shorter or longer."""
    return float(np.clip(math.exp(rng.normal(math.log(170.0), 0.65)), 25.0, 900.0))


def _phone(language: str, rng: np.random.Generator) -> str:
    cc, prefix = COUNTRY[language]
    digits = "".join(str(int(d)) for d in rng.integers(0, 10, size=10 - len(prefix)))
    return f"{cc}{prefix}{digits}"


class _Pool:
    def __init__(self, voices: list[Voice], rng: np.random.Generator) -> None:
        self.voices = voices
        self.rng = rng
        self.agent_voices: set[str] = set()
        self.agents: dict[str, list[Party]] = {}
        self.customers: dict[str, list[Party]] = {}
        self.n_agents = 0

    def _choose(self, language: str, gender: str, engine: str | None, for_agent: bool) -> Voice:
        cands = [
            v
            for v in self.voices
            if v.language == language
            and v.gender == gender
            and (engine is None or v.engine == engine)
        ]
        free = [v for v in cands if v.name not in self.agent_voices]
        pool = free or cands
        if not pool:
            raise SimulateInputError(
                f"no {gender} {engine or ''} voice for {language}", code="unknown_voice"
            )
        return pool[int(self.rng.integers(len(pool)))]

    def new_agent(self, language: str, gender: str, engine: str | None = None) -> Party:
        voice = self._choose(language, gender, engine, True)
        self.agent_voices.add(voice.name)
        self.n_agents += 1
        names = scripts.LINES[language].agent_names[gender]
        party = Party(
            f"A{self.n_agents:03d}",
            "agent",
            voice,
            round(float(self.rng.uniform(-5.0, -1.0)), 2),
            names[int(self.rng.integers(len(names)))],
        )
        self.agents.setdefault(language, []).append(party)
        return party

    def customer(self, language: str, gender: str, engine: str | None = None) -> Party:
        old = [c for c in self.customers.get(language, []) if c.gender == gender]
        if old and engine is None and self.rng.random() < REPEAT_CUSTOMER_P:
            return old[int(self.rng.integers(len(old)))]
        party = Party(
            _phone(language, self.rng),
            "customer",
            self._choose(language, gender, engine, False),
            0.0,
        )
        self.customers.setdefault(language, []).append(party)
        return party


def draw_plan(
    *,
    calls: int,
    seed: int,
    preset: str,
    voices: list[Voice],
    languages: tuple[str, ...],
    stereo_fraction: float,
) -> list[CallPlan]:
    """Every call's parameters, drawn from ``seed`` only."""
    rng = np.random.default_rng(seed)
    pool = _Pool(voices, rng)
    clock = datetime(2024, 3, 4, 8, 30) + timedelta(minutes=int(rng.integers(0, 600)))
    weights = np.array([LANGUAGE_WEIGHTS[lang] for lang in languages])
    weights /= weights.sum()
    n_lang_agents = {
        lang: max(
            2,
            min(
                math.ceil(calls * w / CALLS_PER_AGENT), sum(v.language == lang for v in voices) // 2
            ),
        )
        for lang, w in zip(languages, weights, strict=True)
    }
    slots: dict[int, Party] = {}
    plans: list[CallPlan] = []
    for i in range(calls):
        if preset == "small":
            spec = SMALL[i % len(SMALL)]
            lang = spec.language if spec.language in languages else languages[i % len(languages)]
            key = spec.agent_slot + 100 * (i // len(SMALL))
            if key not in slots or slots[key].voice.language != lang:
                engine = (
                    spec.agent[1]
                    if any(
                        v.engine == spec.agent[1]
                        and v.language == lang
                        and v.gender == spec.agent[0]
                        for v in voices
                    )
                    else None
                )
                slots[key] = pool.new_agent(lang, spec.agent[0], engine)
            agent = slots[key]
            c_engine = (
                spec.customer[1]
                if any(
                    v.engine == spec.customer[1]
                    and v.language == lang
                    and v.gender == spec.customer[0]
                    for v in voices
                )
                else None
            )
            customer = pool.customer(lang, spec.customer[0], c_engine)
            target, hold = spec.target_s, spec.hold
            channels = 2 if spec.channels == 2 or rng.random() < stereo_fraction else 1
        else:
            lang = str(languages[int(rng.choice(len(languages), p=weights))])
            agents = pool.agents.get(lang, [])
            if len(agents) < n_lang_agents[lang] and (not agents or rng.random() < 0.5):
                agent = pool.new_agent(lang, ("female", "male")[len(agents) % 2])
            else:
                agent = agents[int(rng.integers(len(agents)))]
            same = rng.random() < SAME_GENDER_P
            other = "male" if agent.gender == "female" else "female"
            customer = pool.customer(lang, agent.gender if same else other)
            target, hold = _duration(rng), bool(rng.random() < HOLD_P)
            channels = 2 if rng.random() < stereo_fraction else 1
        customer = Party(
            customer.speaker_id,
            "customer",
            customer.voice,
            round(float(rng.uniform(-12.0, -3.0)), 2),
        )
        clock += timedelta(seconds=int(rng.integers(60, 2400)))
        companies = scripts.LINES[lang].companies
        plans.append(
            CallPlan(
                call_id=f"call{i + 1:05d}",
                index=i,
                seed=seed,
                language=lang,
                agent=agent,
                customer=customer,
                company=companies[seed % len(companies)],
                target_s=target,
                channels=channels,
                hold=hold,
                started_at=clock.isoformat(timespec="seconds"),
            )
        )
    return plans
