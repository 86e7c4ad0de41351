"""Real hold music and telephone announcements from Debian (``simulate --sounds debian``).

Our synthetic hold music is chords; real hold music has drums, voices in songs and a mix the
front end never heard, and real call centres play recorded announcements ("your call is important
to us") that are speech but nobody's talk. Both come from Debian packages the install step adds
(deploy/setup.sh), read from disk at generation time; nothing downloads:

- ``asterisk-moh-opsound-wav``: five music-on-hold tracks, 18 minutes, 8 kHz (CC BY-SA 3.0);
- ``asterisk-core-sounds-{en,es,fr,it,ru}-wav``: 2,831 telephone prompts by professional voices
  (CC BY-SA 3.0; see each package's copyright file).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import soundfile as sf

from callroles.simulate.errors import SimulateInputError

SR = 8000
SOUND_KINDS = ("synthetic", "debian")
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
_INSTALL = (
    "run `make setup` (it installs the Debian packages asterisk-moh-opsound-wav and "
    "asterisk-core-sounds-*-wav), or generate with --sounds synthetic"
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


def _read(path: Path) -> np.ndarray:
    x, rate = sf.read(str(path), dtype="float32", always_2d=True)
    if rate != SR:
        raise SimulateInputError(f"{path} is {rate} Hz, not 8 kHz", code="missing_sounds")
    return x.mean(axis=1)


def _level(x: np.ndarray, level_db: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) or 1.0
    return (x * (10.0 ** (level_db / 20.0) / rms)).astype(np.float32)


def hold_music(seconds: float, rng: np.random.Generator, level_db: float = -22.0) -> np.ndarray:
    """``seconds`` of a real music-on-hold track from a random offset, faded in and out."""
    track = _read(music_files()[int(rng.integers(len(music_files())))])
    n = int(seconds * SR)
    if len(track) < n:
        track = np.tile(track, n // len(track) + 1)
    start = int(rng.integers(0, len(track) - n + 1))
    out = track[start : start + n].copy()
    fade = min(n // 2, int(0.05 * SR))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        out[:fade] *= ramp
        out[-fade:] *= ramp[::-1]
    return _level(out, level_db)


def announcement(
    language: str, rng: np.random.Generator, level_db: float = -20.0
) -> tuple[np.ndarray, str]:
    """One recorded telephone prompt (and its file name): speech that is nobody's talk."""
    files = prompt_files(PROMPT_VOICE.get(language, PROMPT_VOICES[0]))
    path = files[int(rng.integers(len(files)))]
    return _level(_read(path), level_db), path.stem
