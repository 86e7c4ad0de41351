"""The front end's last stage: who speaks when, and for how long.

A stereo call is one voice per channel. A mono call of two opposite genders is split by
inaSpeechSegmenter's gender labels, as the paper does; otherwise by voice: the activity model
cuts the call into turns, each turn is embedded (GE2E) and the turns are clustered
(:mod:`callroles.frontend.turns`). With the agent's voiceprint, a call whose clustering would
split one voice in two is dealt around the print instead (strategy ``voiceprint``). Two voices
split by turns are then resegmented frame by frame (:mod:`callroles.frontend.resegment`), so a
quick answer can belong to the other speaker, and a split whose two voices sound like one makes
the count uncertain. Then, where the activity model hears two voices in more of the speech than
conversation holds (its guard: voices unlike its training voices), a mono call's talk is
relabelled frame by frame by a model trained on real conversation, which hears short turns and
decides the overlap (:mod:`callroles.frontend.relabel`). Last, each of two speakers is asked
whether its turns hold a second voice (:mod:`callroles.frontend.third_voice`): a transfer or a
supervisor the count did not make a speaker of its own is flagged, its talk left where it is.

Two things come out per speaker, and they differ on purpose. The stream the role model scores
is the speaker's ina speech, bundled (what the CRNN was trained on); their talk time is where
somebody speaks (the ``speech`` stage) and the separation says it is them, plus every overlap
they are in (:mod:`callroles.frontend.talk`). Talk is never music, noise or ina's silence unless
the ``speech`` stage overruled ina there. Segments, RTTM and the time budget are read from one
frame grid (:mod:`callroles.frontend.segmentation`), so they never disagree.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from callroles.frontend import separate
from callroles.frontend.count import (
    SpeakerCount,
    VoiceAsk,
    count_speakers,
    two_or_more,
    voice_samples,
)
from callroles.frontend.decode import AudioFacts, DecodedAudio
from callroles.frontend.relabel import relabel
from callroles.frontend.resegment import frame_evidence, resegment
from callroles.frontend.segmentation import FRAME_S, Segment, Segmentation, SpeakerTrack, build
from callroles.frontend.speech import SAMPLES_PER_FRAME, Speech
from callroles.frontend.talk import (
    heard_overlap_s,
    overlap_ignored,
    overlap_share,
    speech_and_overlap,
    talk_tracks,
)
from callroles.frontend.third_voice import Embed, find_third_voice
from callroles.frontend.turns import (
    TurnEmbeddings,
    align,
    by_turns,
    cut_turns,
    embed_turns,
    one_voice_split,
    tracks_of,
    turn_owners,
)
from callroles.frontend.voicing import trim_tracks
from callroles.models.activity import Activity
from callroles.models.local_speakers import LocalSpeakerModel

#: labels that are never a speaker's talk; "silence" is ina's no-energy
NOT_TALK = ("music", "noise", "silence", "announcement")
#: what a caller may force for a mono call ("auto" picks; the result names the one used)
SEPARATION_CHOICES = ("auto", "gender", "embedding")


@dataclass
class SpeakerStream:
    """One speaker: their bundled speech (``audio``, 8 kHz: what the role model scores), their
    talk time and segments, and where the voice came from."""

    speaker: str
    gender: str | None
    talk_time_s: float
    audio: np.ndarray
    segments: list[Segment]
    channel: int = 0
    source: str = ""
    role_hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "speaker": self.speaker,
            "gender": self.gender,
            "talk_time_s": self.talk_time_s,
            "stream_s": round(len(self.audio) / 8000, 3),
            "channel": self.channel,
            "source": self.source,
            "role_hint": self.role_hint,
        }


@dataclass
class FrontEndResult:
    """The front end's output: segments, speakers, the time budget, how they were separated."""

    segmentation: Segmentation
    speakers: list[SpeakerStream]
    budget: dict[str, Any]
    strategy: str
    facts: AudioFacts
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no audio)."""
        return {
            "strategy": self.strategy,
            "facts": self.facts.to_dict(),
            "budget": self.budget,
            "speakers": [s.to_dict() for s in self.speakers],
            "segments": self.segmentation.to_dicts(),
            "timings": self.timings,
        }


def find_speakers(
    audio: DecodedAudio,
    speech: Speech,
    encoder: Any,
    n_speakers: VoiceAsk = "two-or-more",
    strategy: str = "auto",
    anchor: np.ndarray | None = None,
    local: LocalSpeakerModel | None = None,
    voices: Embed | None = None,
) -> FrontEndResult:
    """The ``speakers`` stage. ``n_speakers`` "auto" counts the voices of a mono call, and
    "two-or-more" takes two unless more are counted (:mod:`callroles.frontend.count`);
    ``strategy`` "gender" or "embedding" forces one for a mono call; ``anchor`` is a voice the
    call is known to hold (the enrolled agent's print); ``local`` relabels a mono call's talk
    where the activity model's overlap is implausible; ``voices`` (CAM++) listens for a third
    voice inside either of two speakers."""
    t0 = time.perf_counter()
    own: dict[str, float] = {}  # steps timed on their own, out of "separate"
    relabelled = False  # the relabel step ran: it decided who speaks, and the overlap
    tracks, strategy, owner, count, found = _separate(
        speech, audio, encoder, n_speakers, strategy, anchor
    )
    if owner is not None and len(tracks) == 2 and count.n == 2 and speech.frames is not None:
        tracks, owner, count = _resegment(speech, tracks, owner, strategy, count)
    act = speech.activity
    if act is not None:
        talk = _without_background(
            talk_tracks(tracks, act, owner, speech=speech.frames), speech.grids[0], speech.frames
        )
        if local is not None and len(talk) > 1 and overlap_ignored(act):
            t1 = time.perf_counter()
            talk = relabel(talk, local(audio.wide.mean(axis=0)))
            own["relabel"] = time.perf_counter() - t1
            relabelled = True
    else:  # stereo, or no frame models: voiced frames of ina's speech
        talk = trim_tracks(tracks, speech.signals, speech.grids, SAMPLES_PER_FRAME)
    segmentation, budget = build(talk, _background(speech.grids))
    budget["talk_time_method"], budget["overlap_method"] = _methods(act, strategy, relabelled)
    if act is not None:  # what the model heard, kept or not
        budget["overlap_heard_s"] = round(heard_overlap_s(act), 3)
    budget["speaker_count"] = count.to_dict()
    if voices is not None and found is not None and len(talk) == 2:
        t1 = time.perf_counter()
        third = find_third_voice(found, talk, audio.wide, voices)
        budget["third_voice"] = None if third is None else third.to_dict()
        own["third_voice"] = time.perf_counter() - t1
    if speech.music_check_s is not None:  # seconds ina and a frame model took for a voice
        budget["music_check_s"] = speech.music_check_s
    if speech.known:
        budget["known_sounds"] = [m.to_dict() for m in speech.known]
    streams = [
        _stream(t, v, speech.signals, segmentation) for t, v in zip(tracks, talk, strict=True)
    ]
    timings = {**speech.timings, "separate": time.perf_counter() - t0 - sum(own.values()), **own}
    return FrontEndResult(segmentation, streams, budget, strategy, audio.facts, timings)


def _separate(
    speech: Speech,
    audio: DecodedAudio,
    encoder: Any,
    n_speakers: VoiceAsk,
    strategy: str,
    anchor: np.ndarray | None,
) -> tuple[list[SpeakerTrack], str, np.ndarray | None, SpeakerCount, TurnEmbeddings | None]:
    """Tracks, the strategy used, (voice-separated calls) the frame owners for talk time, how
    many voices the call was split into and why, and (mono calls) the turns' voices."""
    given = SpeakerCount(n_speakers if isinstance(n_speakers, int) else 2, False, None, "given")
    if speech.stereo:
        tracks = separate.by_channel(speech.grids, speech.layout)
        return tracks, "stereo", None, replace(given, n=len(tracks), method="channels"), None
    grid, act = speech.grids[0], speech.activity
    voiced = np.isin(grid, separate.SPEECH)
    if not voiced.any():
        return [], "embedding", None, replace(given, n=0, method="no speech"), None
    wide = audio.wide.mean(axis=0)
    count = given
    if n_speakers == "auto":
        count = count_speakers(*voice_samples(voiced, wide, encoder))
    # the turns' voices, embedded once for the count's screen, the split and the gender path
    found = None
    if act is not None and (count.n > 1 or not isinstance(n_speakers, int)):
        found = embed_turns(len(grid), wide, encoder, act)
    if n_speakers == "two-or-more":
        count = two_or_more(found, voiced, wide, encoder)
    n = count.n
    if (
        anchor is not None and found is not None and n == 2 and strategy == "auto"
        and one_voice_split(found)
    ):  # fmt: skip
        split = by_turns(grid, found, n, anchor)
        if split is not None and len(split[0]) == 2:  # else every turn is the print's
            return split[0], "voiceprint", split[1], count, found
    if strategy == "gender" or (strategy == "auto" and n == 2 and separate.opposite_genders(grid)):
        tracks = separate.by_gender(grid)  # the role model's streams, as in training
        # talk: clustered turns beat ina's frame genders (docs/decisions.md)
        owners = None if found is None else turn_owners(len(grid), found)
        return tracks, "gender", None if owners is None else align(owners, tracks), count, found
    if found is not None:
        split = by_turns(grid, found, n)
        if split is not None:
            return split[0], "embedding", split[1], count, found
    return separate.by_embedding(grid, wide, encoder, n), "embedding", None, count, found


def _resegment(
    speech: Speech,
    tracks: list[SpeakerTrack],
    owners: np.ndarray,
    strategy: str,
    count: SpeakerCount,
) -> tuple[list[SpeakerTrack], np.ndarray, SpeakerCount]:
    """The ``resegment`` step (:mod:`callroles.frontend.resegment`): every speech frame of two
    voices may move to the other speaker, in a call of quick turns (their median under one 1.6 s
    partial, where a turn's embedding is weakest). The role model's streams follow the frames,
    except the gender path's (ina's genders, as in training). In every call, two voices that
    explain the speech no better than one make a given count of two uncertain (the flag
    ``speaker_count_uncertain``)."""
    grid, act = speech.grids[0], speech.activity
    if act is None or speech.frames is None:
        return tracks, owners, count
    n = len(grid)
    act = act.cut(n)
    heard = np.asarray(speech.frames[:n], dtype=bool)
    evidence = frame_evidence(speech.signals[0], heard, speech_and_overlap(act)[1])
    done = resegment(owners, evidence)
    count = replace(count, split_gain=done.gain)
    if done.one_voice and count.method in ("given", "two-or-more"):
        count = replace(count, uncertain=True)
    turns = [b - a for a, b in cut_turns(act)]
    if not turns or np.median(turns) * FRAME_S >= separate.PARTIAL_S:  # long turns: embeddings
        return tracks, owners, count  # hold; the mixtures moved 4-5% of talk (docs/decisions.md)
    if strategy == "gender":
        return tracks, align(done.owners, tracks), count
    moved = tracks_of(grid, done.owners, 2)
    if len(moved) < 2:  # one mixture took every frame: keep the clustering's split
        return tracks, owners, count
    return moved, align(done.owners, moved), count


def _stream(
    track: SpeakerTrack, talk: SpeakerTrack, signals: np.ndarray, segmentation: Segmentation
) -> SpeakerStream:
    """The speaker's ina speech bundled into one signal (what the model was trained on); talk
    time from ``talk``."""
    signal = signals[track.channel if len(signals) > 1 else 0]
    mask = np.repeat(track.active, SAMPLES_PER_FRAME)
    stream = signal[: len(mask)][mask[: len(signal)]]
    return SpeakerStream(
        track.speaker,
        track.gender,
        round(float(talk.active.sum()) * FRAME_S, 3),
        np.ascontiguousarray(stream, dtype=np.float32),
        [s for s in segmentation.speech if s.speaker == track.speaker],
        track.channel,
        track.source,
        track.role_hint,
    )


def _methods(act: Activity | None, strategy: str, relabelled: bool) -> tuple[str, str]:
    """How talk time was measured (the budget's ``talk_time_method``, for whoever audits a
    result) and how overlap was decided (the result's ``call.overlap_method``)."""
    if act is None:  # stereo: where both channels speak; else no frame model, one voice at a time
        return "energy", "channels" if strategy == "stereo" else "none"
    share = overlap_share(act)
    if relabelled:  # the guard fired: two voices where two tied local speakers talk at once
        note = f"model's overlap in {share:.0%} of speech, implausible"
        return f"activity; {note}: speakers per frame from local speakers", "local speakers"
    if overlap_ignored(act):
        return f"activity; overlap ignored (heard in {share:.0%} of speech, implausible)", "ignored"
    return "activity", "model"  # where the model hears two voices (P(two) > 0.5, runs of 0.2 s)


def _without_background(
    talk: list[SpeakerTrack], grid: np.ndarray, rescued: np.ndarray | None
) -> list[SpeakerTrack]:
    """Talk is only where inaSpeechSegmenter hears speech, unless the ``speech`` stage overruled
    its noise or silence: music, noise and its no-energy silence are never a speaker's talk (the
    activity model hears speech in real music and in quiet stretches: docs/decisions.md)."""
    background = np.isin(grid, NOT_TALK)
    if rescued is not None:
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
