"""Real hold music and telephone announcements from Debian (``simulate --sounds debian``).

Our synthetic hold music is chords; real hold music has drums, voices in songs and a mix the
front end never heard, and real call centres play recorded announcements ("your call is important
to us") that are speech but nobody's talk. Both come from Debian packages the install step adds
(deploy/setup.sh), read from disk at generation time; nothing downloads:

- ``asterisk-moh-opsound-wav``: five music-on-hold tracks, 18 minutes, 8 kHz (CC BY-SA 3.0);
- ``asterisk-core-sounds-{en,es,fr,it,ru}-wav``: 2,831 telephone prompts by professional voices
  (CC BY-SA 3.0; see each package's copyright file);
- ``singularity-music``: 16 game-music tracks, 64 minutes (CC BY-SA 3.0).

``--sounds debian`` plays the music on hold and the en_US prompts: the evaluation sets
(``callroles bench eval``, ``bench roles``) are made with it. ``--sounds training`` plays real
sounds none of those sets contain, so a model trained on them is still measured on music and
prompts it never heard: the game music as hold music and the es/fr/it/ru prompt voices.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from callroles.lab.simulate.errors import SimulateInputError

SR = 8000
SOUND_KINDS = ("synthetic", "debian", "training")
#: the kinds that play real recordings from Debian
REAL_SOUNDS = ("debian", "training")
GAME_MUSIC = Path("/usr/share/games/singularity/music")
ROOT = Path("/usr/share/asterisk")
# the prompt voice used for each call language; Turkish and German have no Debian prompts, so
# their calls get English ones (as many international call centres play)
PROMPT_VOICE = {"en": "en_US_f_Allison", "tr": "en_US_f_Allison", "de": "en_US_f_Allison"}
PROMPT_VOICES = (
    "en_US_f_Allison",
    "es_MX_f_Allison",
    "fr_CA_f_June",
    "it_IT_m_Carlo",
    "ru_RU_f_IvrvoiceRU",
)
#: --sounds training: prompt voices that no evaluation set plays (those use PROMPT_VOICE)
TRAINING_PROMPT_VOICES = PROMPT_VOICES[1:]
_INSTALL = (
    "run `make setup` (it installs the Debian packages asterisk-moh-opsound-wav, "
    "asterisk-core-sounds-*-wav and singularity-music), or generate with --sounds synthetic"
)


@functools.cache
def music_files(root: Path = ROOT) -> tuple[Path, ...]:
    files = tuple(sorted((root / "moh").glob("*.wav")))
    if not files:
        raise SimulateInputError(
            f"no hold music in {root / 'moh'}: {_INSTALL}", code="missing_sounds"
        )
    return files


@functools.cache
def game_music_files(root: Path = GAME_MUSIC) -> tuple[Path, ...]:
    files = tuple(sorted(root.rglob("*.ogg")))
    if not files:
        raise SimulateInputError(f"no game music in {root}: {_INSTALL}", code="missing_sounds")
    return files


@functools.cache
def prompt_files(voice: str, root: Path = ROOT) -> tuple[Path, ...]:
    # top-level prompts only: the digits/ and letters/ folders are fragments, not announcements
    files = tuple(p for p in sorted((root / "sounds" / voice).glob("*.wav")) if _long(p))
    if not files:
        raise SimulateInputError(
            f"no telephone prompts in {root / 'sounds' / voice}: {_INSTALL}",
            code="missing_sounds",
        )
    return files


def _long(path: Path) -> bool:
    """Prompts of 1.5 s or more: the announcements, not the beeps and single words."""
    info = sf.info(str(path))
    return info.samplerate == SR and info.frames >= int(1.5 * SR)


@functools.lru_cache(maxsize=4)
def _read(path: Path) -> np.ndarray:
    x, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = x.mean(axis=1)
    if rate != SR:  # the game music is 48 kHz stereo Ogg; the telephone sounds are 8 kHz
        mono = soxr.resample(mono, rate, SR).astype(np.float32)
    return mono


def _level(x: np.ndarray, level_db: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) or 1.0
    return (x * (10.0 ** (level_db / 20.0) / rms)).astype(np.float32)


def hold_music(
    seconds: float,
    rng: np.random.Generator,
    level_db: float = -22.0,
    kind: str = "debian",
    from_start: bool = False,
) -> np.ndarray:
    """``seconds`` of a real music-on-hold track (``kind`` "training": a game-music track) from
    a random offset (``from_start``: from its beginning, as a telephone system plays it to each
    caller), faded in and out."""
    files = game_music_files() if kind == "training" else music_files()
    track = _read(files[int(rng.integers(len(files)))])
    n = int(seconds * SR)
    if len(track) < n:
        track = np.tile(track, n // len(track) + 1)
    start = 0 if from_start else int(rng.integers(0, len(track) - n + 1))
    out = track[start : start + n].copy()
    fade = min(n // 2, int(0.05 * SR))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        out[:fade] *= ramp
        out[-fade:] *= ramp[::-1]
    return _level(out, level_db)


def announcement(
    language: str, rng: np.random.Generator, level_db: float = -20.0, kind: str = "debian"
) -> tuple[np.ndarray, str]:
    """One recorded telephone prompt and its name ("voice/prompt"): speech that is nobody's
    talk. ``kind`` "training" draws the voice from ``TRAINING_PROMPT_VOICES`` instead."""
    if kind == "training":
        voice = TRAINING_PROMPT_VOICES[int(rng.integers(len(TRAINING_PROMPT_VOICES)))]
    else:
        voice = PROMPT_VOICE.get(language, PROMPT_VOICES[0])
    files = prompt_files(voice)
    path = files[int(rng.integers(len(files)))]
    return _level(_read(path), level_db), f"{voice}/{path.stem}"
