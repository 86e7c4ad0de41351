"""The front end in one call: decode, segment, separate, window, features.

``FrontEnd`` loads its models once (ina's CNNs in ONNX Runtime, the voice encoder lazily) and
``process`` is a plain synchronous, CPU-bound function: streaming runs it in an executor,
training and ``callroles analyze`` call it directly, so both see identical features.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from callroles.base.errors import InputError
from callroles.base.settings import Settings
from callroles.call.windows import stream_windows
from callroles.frontend import separate
from callroles.frontend.count import SpeakerCount, count_speakers, voice_samples
from callroles.frontend.decode import SAMPLE_RATE, AudioFacts, DecodedAudio, DecodeLimits, decode
from callroles.frontend.known import KnownMatch, LiveKnownSounds, relabel
from callroles.frontend.segmentation import (
    FRAME_S,
    Segment,
    Segmentation,
    SpeakerTrack,
    build,
    raw_to_grid,
)
from callroles.frontend.speech import music_veto, speech_frames, veto_candidates
from callroles.frontend.talk import DEFAULT_TALK, overlap_share, talk_tracks
from callroles.frontend.turns import align, by_turns, embed_turns, one_voice_split, turn_owners
from callroles.frontend.voicing import trim_tracks
from callroles.models.activity import Activity, ActivityModel
from callroles.models.embeddings import VoiceEncoder
from callroles.models.features import DEFAULT_SPEC, FeatureSpec
from callroles.models.ina import OnnxSegmenter
from callroles.models.music import MusicModel
from callroles.models.vad import SileroVad
from callroles.schemas import LAYOUTS

#: ina's labels that are never a speaker's talk (see _without_background); "silence" is ina's
#: noEnergy: talk is only where inaSpeechSegmenter hears speech
NOT_TALK = ("music", "noise", "silence", "announcement")
#: what a caller may force for a mono call ("auto" picks; the result names the one used)
SEPARATION_CHOICES = ("auto", "gender", "embedding")
SAMPLES_PER_FRAME = int(SAMPLE_RATE * FRAME_S)
#: voices to split a mono call into: a number (1-4), "auto" (count them), "setting" (the
#: settings' ``speaker_count``)
SpeakerChoice = int | Literal["auto", "setting"]


def resolve_speakers(choice: SpeakerChoice, settings: Settings) -> int | None:
    """The number of voices asked for, None to count them; a bad choice is the caller's error."""
    if choice == "setting":
        choice = "auto" if settings.speaker_count == "auto" else 2
    if choice == "auto":
        return None
    if isinstance(choice, bool) or not isinstance(choice, int) or not 1 <= choice <= 4:
        raise InputError("n_speakers must be between 1 and 4, or auto", code="invalid_n_speakers")
    return choice


@dataclass
class SpeakerStream:
    """One speaker's bundled speech as (N, 96, 1000) windows sliding by 1 s."""

    speaker: str
    gender: str | None
    talk_time_s: float
    windows: np.ndarray
    window_starts_s: np.ndarray
    padded: bool
    segments: list[Segment]
    channel: int = 0
    source: str = ""
    role_hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "speaker": self.speaker,
            "gender": self.gender,
            "talk_time_s": self.talk_time_s,
            "n_windows": int(len(self.windows)),
            "padded": self.padded,
            "channel": self.channel,
            "source": self.source,
            "role_hint": self.role_hint,
        }


@dataclass
class FrontEndResult:
    segmentation: Segmentation
    speakers: list[SpeakerStream]
    budget: dict[str, Any]
    strategy: str
    facts: AudioFacts
    timings: dict[str, float] = field(default_factory=dict)
    spec: FeatureSpec = DEFAULT_SPEC

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no window arrays)."""
        return {
            "strategy": self.strategy,
            "facts": self.facts.to_dict(),
            "budget": self.budget,
            "speakers": [s.to_dict() for s in self.speakers],
            "segments": self.segmentation.to_dicts(),
            "timings": self.timings,
            "feature_spec": self.spec.fingerprint(),
        }


def _same_channels(channels: np.ndarray) -> bool:
    """A 'stereo' file whose two channels carry the same signal is mono in disguise."""
    a, b = channels[0], channels[1]
    scale = float(np.max(np.abs(channels))) or 1.0
    return bool(np.max(np.abs(a - b)) <= 1e-3 * scale)


class FrontEnd:
    """Models loaded once per process; ``process`` may be called from several threads."""

    def __init__(
        self,
        settings: Settings,
        *,
        spec: FeatureSpec = DEFAULT_SPEC,
        limits: DecodeLimits | None = None,
        segmenter: OnnxSegmenter | None = None,
        trim: bool = True,
        activity: ActivityModel | None | bool = True,
    ) -> None:
        self.settings = settings
        self.spec = spec
        self.limits = limits or DecodeLimits.from_settings(self.settings)
        self.segmenter = segmenter or OnnxSegmenter(self.settings, threads=settings.onnx_threads)
        self.trim = trim  # talk time from voiced frames only (callroles.frontend.voicing)
        # mono talk time and same-voice turns from the speaker-count model, when there is one
        self.activity = self._activity(activity)
        # silero-vad, the real-data opinion on where somebody speaks (callroles.frontend.speech)
        needs_vad = self.activity is not None and settings.speech_evidence != "activity"
        self.vad = SileroVad.load(settings, settings.onnx_threads) if needs_vad else None
        # the music check: real hold music is not a voice (callroles.models.music)
        self.music = (
            MusicModel.load(settings.music_model_path)
            if self.vad is not None and settings.music_check
            else None
        )
        # the call centre's own hold music and announcements, when it gave them
        self.known = (
            LiveKnownSounds(settings.known_sounds, settings.home / "cache")
            if settings.known_sounds
            else None
        )
        self._encoder: Any = None
        self._lock = threading.Lock()
        stream_windows(np.zeros(SAMPLE_RATE, np.float32), spec)  # pay librosa's JIT at load

    def _activity(self, given: ActivityModel | None | bool) -> ActivityModel | None:
        if isinstance(given, ActivityModel) or given is None:
            return given
        if not given or self.settings.talk_time != "activity" or not self.trim:
            return None
        return ActivityModel.load(self.settings.activity_model_path, "cpu")

    @property
    def encoder(self) -> Any:
        with self._lock:
            if self._encoder is None:
                self._encoder = VoiceEncoder(self.settings, self.settings.onnx_threads)
            return self._encoder

    def process(
        self,
        source: Path | bytes | DecodedAudio,
        layout: str = "auto",
        n_speakers: SpeakerChoice = "setting",
        strategy: str = "auto",
        anchor: np.ndarray | None = None,
    ) -> FrontEndResult:
        """Recording -> segmentation, per-speaker windows, time budget, strategy, timings.

        ``strategy`` "auto" picks stereo, gender or embedding; "gender" or "embedding" force
        one for a mono call (evaluation, or a caller who knows the genders). ``n_speakers``
        "auto" counts the voices of a mono call (``audio.count``), a number imposes it,
        "setting" does what ``Settings.speaker_count`` says. ``anchor``: a voice the call is
        known to hold (the enrolled agent's print); a mono two-speaker call is then split into
        that voice and the rest when plain clustering would split one voice in two (strategy
        "voiceprint", ``turns.one_voice_split``, ``turns.anchored_turns``).
        """
        if strategy not in SEPARATION_CHOICES:
            raise InputError(
                f"strategy must be one of {SEPARATION_CHOICES}", code="invalid_strategy"
            )
        if layout not in LAYOUTS:
            raise InputError(
                f"layout must be one of {LAYOUTS}, not {layout!r}", code="invalid_layout"
            )
        wanted = resolve_speakers(n_speakers, self.settings)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        audio = source if isinstance(source, DecodedAudio) else decode(source, self.limits)
        timings["decode"] = time.perf_counter() - t0
        stereo = (
            audio.channels.shape[0] == 2 and layout != "mono" and not _same_channels(audio.channels)
        )
        n_frames = int(audio.channels.shape[1] // SAMPLES_PER_FRAME)

        t0 = time.perf_counter()
        if stereo:
            grids = [raw_to_grid(self.segmenter(w), n_frames) for w in audio.wide]
        else:
            grids = [raw_to_grid(self.segmenter(audio.wide.mean(axis=0)), n_frames)]
        timings["segment"] = time.perf_counter() - t0
        signals = audio.channels if stereo else audio.channels.mean(axis=0, keepdims=True)
        known: list[KnownMatch] = []
        if self.known is not None:  # the call centre's own music and announcements: nobody
            t0 = time.perf_counter()
            index = self.known.current()  # a library learnt again is picked up here
            for i, signal in enumerate(signals):
                found = index.find(signal)
                grids[i], known = relabel(grids[i], found), known + found
            timings["known"] = time.perf_counter() - t0

        act = None
        if self.activity is not None and not stereo:  # stereo: one voice per channel, energy
            t0 = time.perf_counter()
            act = self.activity(signals[0]).cut(n_frames)
            timings["activity"] = time.perf_counter() - t0
        speech, checked = None, None
        if act is not None:
            t0 = time.perf_counter()
            vad = (
                self.vad(signals[0], n_frames, both_ways=self.settings.vad_both_ways)
                if self.vad is not None
                else None
            )
            timings["vad"] = time.perf_counter() - t0
            heard = 1.0 - act.count[:, 0] > DEFAULT_TALK.speech
            speech = speech_frames(grids[0], heard, vad, self.settings.speech_evidence)
            if self.music is not None:  # real hold music that ina and the activity model hear
                t0 = time.perf_counter()  # as a voice: music, before anybody is separated
                music = self.music(signals[0], n_frames, veto_candidates(speech, vad))
                kept = music_veto(speech, vad, music)
                grids[0] = np.where(speech & ~kept, "music", grids[0])
                checked = round(float((speech & ~kept).sum()) * FRAME_S, 2)
                speech = kept
                timings["music"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        tracks, strategy, owner, count = self._separate(
            grids, audio, stereo, layout, wanted, strategy, act, anchor
        )
        if act is not None:
            rescued = speech if self.settings.speech_evidence == "rescue" else None
            talk = _without_background(
                talk_tracks(tracks, act, owner, speech=speech), grids[0], rescued
            )
        elif self.trim:
            talk = trim_tracks(tracks, signals, grids, SAMPLES_PER_FRAME)
        else:
            talk = tracks
        segmentation, budget = build(talk, _background(grids))
        budget["talk_time_method"] = _method(act, self.trim)
        budget["speaker_count"] = count.to_dict()
        if checked is not None:  # seconds ina and a frame model took for a voice: music
            budget["music_check_s"] = checked
        if self.known is not None:
            budget["known_sounds"] = [m.to_dict() for m in known]
        timings["separate"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        speakers = [
            self._stream(t, v, signals, segmentation) for t, v in zip(tracks, talk, strict=True)
        ]
        timings["features"] = time.perf_counter() - t0
        timings["total"] = sum(timings.values())
        timings = {k: round(v, 4) for k, v in timings.items()}
        return FrontEndResult(
            segmentation, speakers, budget, strategy, audio.facts, timings, self.spec
        )

    def _separate(
        self,
        grids: list[np.ndarray],
        audio: DecodedAudio,
        stereo: bool,
        layout: str,
        n_speakers: int | None,
        strategy: str,
        act: Activity | None,
        anchor: np.ndarray | None = None,
    ) -> tuple[list[SpeakerTrack], str, np.ndarray | None, SpeakerCount]:
        """Tracks, the strategy used, (same-voice calls) the frame owners for talk time, and
        how many voices the call was split into and why."""
        given = SpeakerCount(n_speakers or 2, False, None, "given")
        if stereo:
            tracks = separate.by_channel(grids, layout)
            return tracks, "stereo", None, replace(given, n=len(tracks), method="channels")
        grid = grids[0]
        speech = np.isin(grid, separate.SPEECH)
        if not speech.any():
            return [], "embedding", None, replace(given, n=0, method="no speech")
        wide = audio.wide.mean(axis=0)
        count = given
        if n_speakers is None:
            count = count_speakers(*voice_samples(speech, wide, self.encoder))
        n = count.n
        # the turns' voices, embedded once for both the split and the gender path's talk time
        found = None
        if act is not None and (n > 1 or n_speakers is None):
            found = embed_turns(len(grid), wide, self.encoder, act)
        if (
            anchor is not None and found is not None and n == 2 and strategy == "auto"
            and one_voice_split(found)
        ):  # fmt: skip
            split = by_turns(grid, found, n, anchor)
            if split is not None and len(split[0]) == 2:  # else every turn is the print's
                return split[0], "voiceprint", split[1], count
        if strategy == "gender" or (
            strategy == "auto" and n == 2 and separate.opposite_genders(grid)
        ):
            tracks = separate.by_gender(grid)  # the role model's windows, as in training
            # talk: clustered turns beat ina's frame genders (frontend.md)
            owners = None if found is None else turn_owners(len(grid), found)
            return tracks, "gender", None if owners is None else align(owners, tracks), count
        if found is not None:
            split = by_turns(grid, found, n)
            if split is not None:
                return split[0], "embedding", split[1], count
        return separate.by_embedding(grid, wide, self.encoder, n), "embedding", None, count

    def _stream(
        self,
        track: SpeakerTrack,
        talk: SpeakerTrack,
        signals: np.ndarray,
        segmentation: Segmentation,
    ) -> SpeakerStream:
        """Windows from ina's runs (what the model was trained on); talk time from ``talk``."""
        signal = signals[track.channel if len(signals) > 1 else 0]
        mask = np.repeat(track.active, SAMPLES_PER_FRAME)
        stream = signal[: len(mask)][mask[: len(signal)]]
        win = stream_windows(stream, self.spec)
        segs = [s for s in segmentation.speech if s.speaker == track.speaker]
        return SpeakerStream(
            track.speaker,
            track.gender,
            round(float(talk.active.sum()) * FRAME_S, 3),
            win.windows,
            win.starts_s,
            win.padded,
            segs,
            track.channel,
            track.source,
            track.role_hint,
        )


def _method(act: Activity | None, trim: bool) -> str:
    """How talk time was measured, for the budget (and whoever audits a result)."""
    if act is None:
        return "energy" if trim else "ina"
    share = overlap_share(act)
    if share > DEFAULT_TALK.max_overlap_share:
        return f"activity; overlap ignored (heard in {share:.0%} of speech, implausible)"
    return "activity"


def _without_background(
    talk: list[SpeakerTrack], grid: np.ndarray, rescued: np.ndarray | None = None
) -> list[SpeakerTrack]:
    """Talk is only where inaSpeechSegmenter hears speech: music, noise and its no-energy
    silence are never a speaker's talk. The activity model has heard only our generated calls
    and hears speech in real music and in quiet stretches (ina's MUSAN reference: 39 s of its
    music and noise became talk); ina's speech/music/noise model and its energy detector were
    made on real audio. Measured (docs/frontend.md, "On real audio"): real calls DER 0.168 ->
    0.108; the synthetic sets keep their figures (59/60 within 5% on seed 4242)."""
    background = np.isin(grid, NOT_TALK)
    if rescued is not None:  # the "rescue" speech rule overruled ina on these frames
        background &= ~(np.asarray(rescued[: len(grid)], dtype=bool) & ~np.isin(grid, "music"))
    if not background.any():
        return talk
    return [replace(t, active=t.active & ~background[: len(t.active)]) for t in talk]


def _background(grids: list[np.ndarray]) -> np.ndarray:
    """Per-frame non-speech label across channels: announcement over music over noise over
    silence."""
    out = np.full(len(grids[0]), "silence", dtype=object)
    for label in ("noise", "music", "announcement"):
        for g in grids:
            out[g == label] = label
    return out
