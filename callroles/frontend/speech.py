"""The front end's first stage after decoding: where somebody speaks, and what is not speech.

Three opinions, one decision:

- inaSpeechSegmenter (trained on real broadcast audio; ``callroles.models.ina``) labels whole
  stretches speech (female, male), music, noise or no energy. Its speech/music decision holds
  on real audio; its boundaries carry a few hundred milliseconds of hangover.
- silero-vad (``callroles.models.vad``, trained on thousands of hours of real audio) decides
  every 32 ms; it runs both ways over a finished recording, so its causal lag is not one-sided.
- our activity model (``callroles.models.activity``) is frame-precise on generated calls and
  the only one that hears two voices at once, but it has heard no real audio.

Somebody speaks where ina hears speech and either frame model agrees, and also where ina says
noise or no energy but both frame models hear a voice (a quiet voice on a phone line); never in
ina's music. Then the music check (``callroles.models.music``, trained on real music and real
voices) takes back, as music, stretches of 1 s or more that are music to it and voiceless to
silero-vad. The call centre's own hold music and announcements, when given
(``CALLROLES_KNOWN_SOUNDS``, :mod:`callroles.frontend.known`), are never speech.
Stereo calls get ina alone per channel: each channel is one voice. Why each rule is as it is:
docs/decisions.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import uniform_filter1d

from callroles.frontend.decode import SAMPLE_RATE, DecodedAudio
from callroles.frontend.known import KnownMatch, LiveKnownSounds, relabel
from callroles.frontend.segmentation import FRAME_S, drop_short_runs, raw_to_grid, runs
from callroles.frontend.separate import SPEECH
from callroles.frontend.talk import DEFAULT_TALK
from callroles.models.activity import Activity, ActivityModel
from callroles.models.ina import InaSegmenter
from callroles.models.music import MUSIC_SPEC, MusicModel
from callroles.models.vad import SileroVad

#: ina's labels that both frame models together may overrule; music is never overruled
RESCUABLE = ("noise", "silence")
VAD_THRESHOLD = 0.5  # silero's own default
MUSIC_THRESHOLD = 0.5  # the music check's own decision: music is the likelier class
WINDOW_FRAMES = int(round(MUSIC_SPEC.window_s / FRAME_S))  # the shortest veto: one window
SAMPLES_PER_FRAME = int(SAMPLE_RATE * FRAME_S)


@dataclass(frozen=True)
class Speech:
    """What the ``speech`` stage found, on the 10 ms frame grid.

    ``grids``: per channel (one for a mono call), a label per frame: ``female``, ``male``,
    ``music``, ``noise``, ``silence`` or ``announcement``. ``signals``: the 8 kHz signal of each
    grid; ``layout``: the call's channel layout (``call_finished.v1``). Mono only: ``activity`` (the
    frame model's opinion) and ``frames`` (where somebody speaks, by the rule above);
    ``music_check_s``: speech the music check took back.
    """

    stereo: bool
    layout: str
    grids: list[np.ndarray]
    signals: np.ndarray
    n_frames: int
    activity: Activity | None = None
    frames: np.ndarray | None = None
    known: list[KnownMatch] = field(default_factory=list)
    music_check_s: float | None = None
    timings: dict[str, float] = field(default_factory=dict)


def same_channels(channels: np.ndarray) -> bool:
    """A 'stereo' file whose two channels carry the same signal is mono in disguise."""
    a, b = channels[0], channels[1]
    scale = float(np.max(np.abs(channels))) or 1.0
    return bool(np.max(np.abs(a - b)) <= 1e-3 * scale)


def find_speech(
    audio: DecodedAudio,
    layout: str,
    segmenter: InaSegmenter,
    *,
    activity: ActivityModel | None = None,
    vad: SileroVad | None = None,
    music: MusicModel | None = None,
    known: LiveKnownSounds | None = None,
) -> Speech:
    """The ``speech`` stage. Without ``activity`` (a front end loaded without its frame models,
    or a stereo call) speech is ina's alone; ``vad`` and ``music`` need ``activity``."""
    timings: dict[str, float] = {}
    stereo = audio.channels.shape[0] == 2 and layout != "mono" and not same_channels(audio.channels)
    n = int(audio.channels.shape[1] // SAMPLES_PER_FRAME)
    t0 = time.perf_counter()
    wides = audio.wide if stereo else audio.wide.mean(axis=0, keepdims=True)
    grids = [raw_to_grid(segmenter(w), n) for w in wides]
    timings["segment"] = time.perf_counter() - t0
    signals = audio.channels if stereo else audio.channels.mean(axis=0, keepdims=True)
    found: list[KnownMatch] = []
    if known is not None:  # the call centre's own music and announcements: nobody talks
        t0 = time.perf_counter()
        index = known.current()  # a library learnt again is picked up here
        for i, signal in enumerate(signals):
            matches = index.find(signal)
            grids[i], found = relabel(grids[i], matches), found + matches
        timings["known"] = time.perf_counter() - t0
    if activity is None or stereo:  # stereo: one voice per channel, ina's speech per channel
        return Speech(stereo, layout, grids, signals, n, known=found, timings=timings)

    t0 = time.perf_counter()
    act = activity(signals[0]).cut(n)
    timings["activity"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    p_voice = vad(signals[0], n, both_ways=True) if vad is not None else None
    timings["vad"] = time.perf_counter() - t0
    heard = 1.0 - act.count[:, 0] > DEFAULT_TALK.speech
    frames = speech_frames(grids[0], heard, p_voice)
    checked = None
    if music is not None and p_voice is not None:  # real hold music ina and the activity model
        t0 = time.perf_counter()  # hear as a voice: music, before anybody is separated
        p_music = music(signals[0], n, veto_candidates(frames, p_voice))
        kept = frames & ~music_stretches(p_voice, p_music, len(frames))
        grids[0] = np.where(frames & ~kept, "music", grids[0])
        checked = round(float((frames & ~kept).sum()) * FRAME_S, 2)
        frames = kept
        timings["music"] = time.perf_counter() - t0
    return Speech(stereo, layout, grids, signals, n, act, frames, found, checked, timings)


def speech_frames(
    grid: np.ndarray, activity_speech: np.ndarray, p_voice: np.ndarray | None
) -> np.ndarray:
    """Per 10 ms frame: does somebody speak? ``grid`` is ina's label per frame,
    ``activity_speech`` the activity model's decision, ``p_voice`` silero's P(speech) (None:
    not run; then the activity model alone confirms ina)."""
    n = len(grid)
    ina = np.isin(grid, SPEECH)
    act = np.asarray(activity_speech[:n], dtype=bool)
    if p_voice is None:
        return act & ina
    sil = np.asarray(p_voice[:n]) > VAD_THRESHOLD
    # ina calls a quiet voice on a phone line "noise" or no-energy "silence" (real voices in
    # generated calls: a customer's 5 s turn at -6 dB became noise); both frame models
    # hearing a voice there outvote it. Music stays a veto: hold music is never talk.
    return ((act | sil) & ina) | (act & sil & np.isin(grid, RESCUABLE))


def music_stretches(p_voice: np.ndarray, p_music: np.ndarray, n: int) -> np.ndarray:
    """Frames in stretches of at least one window (1 s) where most of the window around each
    frame is music to the check and voiceless to silero-vad: a lone frame is not a verdict (0.17
    s of a real reader in lamartine.wav went otherwise), nor is a flicker of silero inside music
    a voice."""
    heard = np.zeros(n, bool)
    m = min(n, len(p_voice), len(p_music))
    quiet = np.asarray(p_voice[:m]) <= VAD_THRESHOLD
    heard[:m] = (np.asarray(p_music[:m]) > MUSIC_THRESHOLD) & quiet
    most = uniform_filter1d(heard.astype(np.float32), WINDOW_FRAMES, mode="constant") > 0.5
    return drop_short_runs(most, WINDOW_FRAMES)


def veto_candidates(frames: np.ndarray, p_voice: np.ndarray) -> np.ndarray:
    """The frames worth a music check: stretches of a whole window or more where silero-vad
    hears no voice and speech was heard somewhere (a veto lies in one of them)."""
    quiet = np.zeros(len(frames), bool)
    m = min(len(frames), len(p_voice))
    quiet[:m] = np.asarray(p_voice[:m]) <= VAD_THRESHOLD
    out = np.zeros(len(frames), bool)
    for a, b in runs(quiet):
        if b - a >= WINDOW_FRAMES and frames[a:b].any():
            out[a:b] = True
    return out
