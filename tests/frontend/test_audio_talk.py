"""Talk masks from speaker counts, turns for same-voice calls, and the front end's two modes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from callroles.base.settings import get_settings
from callroles.call.pipeline import Models, front_end
from callroles.frontend.resegment import viterbi
from callroles.frontend.segmentation import SpeakerTrack
from callroles.frontend.talk import DEFAULT_TALK, nearest_owner, talk_tracks
from callroles.frontend.turns import align, cluster_turns, cut_turns
from callroles.models.activity import Activity


def _act(
    n: int,
    one: list[tuple[int, int]],
    two: list[tuple[int, int]] | None = None,
    change: list[tuple[int, int]] | None = None,
) -> Activity:
    count = np.tile(np.array([[0.9, 0.05, 0.05]], np.float32), (n, 1))
    for spans, row in ((one, [0.05, 0.9, 0.05]), (two or [], [0.05, 0.1, 0.85])):
        for a, b in spans:
            count[a:b] = row
    ch = np.zeros(n, np.float32)
    for a, b in change or []:
        ch[a:b] = 0.9
    return Activity(count, ch)


def _track(n: int, a: int, b: int, name: str) -> SpeakerTrack:
    active = np.zeros(n, bool)
    active[a:b] = True
    return SpeakerTrack(name, None, 0, active, name)


def test_overlap_counts_for_both_speakers() -> None:
    n = 300
    tracks = [_track(n, 0, 150, "A"), _track(n, 150, 300, "B")]  # ina gives overlap to one
    act = _act(n, [(10, 290)], two=[(130, 160)])
    a, b = talk_tracks(tracks, act)
    assert a.active[130:160].all() and b.active[130:160].all()
    assert a.active.sum() == 160 - 10 and b.active.sum() == 290 - 130


def test_hangover_is_not_talk_and_missed_speech_goes_to_the_nearest_speaker() -> None:
    n = 400
    tracks = [_track(n, 0, 200, "A"), _track(n, 250, 400, "B")]  # ina: A runs 40 frames long
    act = _act(n, [(10, 160), (230, 380)])  # the model: A ends at 160, B starts at 230
    a, b = talk_tracks(tracks, act)
    assert a.active.sum() == 150 and not a.active[160:].any()
    assert b.active[230:250].all() and b.active.sum() == 150


def test_nearest_owner_ranks_speakers_by_distance() -> None:
    n = 100
    own = nearest_owner([_track(n, 0, 10, "A"), _track(n, 90, 100, "B")], n)
    assert own[0, 20] == 0 and own[1, 20] == 1 and own[0, 80] == 1 and own[1, 80] == 0


def test_turns_cut_at_silence_overlap_and_change() -> None:
    n = 1000
    act = _act(n, [(0, 400), (450, 1000)], two=[(600, 650)], change=[(200, 210)])
    assert cut_turns(act) == [(0, 200), (210, 400), (450, 600), (650, 1000)]


def test_viterbi_changes_state_once_when_the_scores_do() -> None:
    scores = np.r_[np.tile([0.8, 0.6], (10, 1)), np.tile([0.6, 0.8], (10, 1))]
    assert viterbi(scores, 0.05).tolist() == [0] * 10 + [1] * 10
    assert len(set(viterbi(scores, 5.0).tolist())) == 1  # a huge penalty: no change pays


def test_the_two_state_viterbi_takes_the_general_paths_choices() -> None:
    """Two states run in plain floats; a third state nobody can be in sends the same scores
    through the general path, which must choose the same, ties included."""
    rng = np.random.default_rng(0)
    for trial in range(60):
        scores = rng.standard_normal((int(rng.integers(1, 200)), 2)) * rng.choice([0.1, 1, 10])
        if trial % 3 == 0:
            scores = np.round(scores)  # ties
        penalty = float(rng.choice([0.0, 0.5, 2.0, 20.0]))
        general = viterbi(np.c_[scores, np.full(len(scores), -1e9)], penalty)
        assert viterbi(scores, penalty).tolist() == general.tolist(), (trial, penalty)


def test_cluster_turns_separates_two_voices() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(2, 32))
    truth = rng.integers(0, 2, 40)
    emb = centres[truth] + 0.4 * rng.normal(size=(40, 32))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    frames = rng.integers(30, 500, 40)
    labels = cluster_turns(emb, frames, 2)
    agree = (labels == truth).mean()
    assert max(agree, 1 - agree) == 1.0


def test_without_frame_models_talk_is_energy_trimmed(small_corpus: Path) -> None:
    """A front end loaded without its frame models (enrolment, DBAS) measures talk on voiced
    frames of ina's speech, as a stereo call does, and says so."""

    audio = small_corpus / "audio" / "call00002.gsm"
    energy = Models(get_settings(), frame_models=False)
    model = Models(get_settings())
    assert energy.activity is None and model.activity is not None
    a, b = front_end(audio, models=energy), front_end(audio, models=model)
    assert "activity" in b.timings and "activity" not in a.timings
    assert a.budget["talk_time_method"] == "energy" and b.budget["talk_time_method"] == "activity"
    assert [s.talk_time_s for s in a.speakers] != [s.talk_time_s for s in b.speakers]


def test_align_renumbers_clusters_to_the_gender_tracks() -> None:

    n = 100
    tracks = [_track(n, 0, 40, "female"), _track(n, 40, 100, "male")]
    owners = np.vstack([np.r_[np.ones(45, int), np.zeros(55, int)], np.zeros(n, int)])
    got = align(owners, tracks)
    assert (got[0][:40] == 0).all() and (got[0][50:] == 1).all()  # cluster 1 is the female track


def test_implausible_overlap_is_ignored() -> None:
    """A model hearing two voices in most of the speech is out of its domain: no double count."""
    n = 300
    tracks = [_track(n, 0, 150, "A"), _track(n, 150, 300, "B")]
    act = _act(n, [(0, 300)], two=[(50, 250)])
    a, b = talk_tracks(tracks, act)
    assert a.active.sum() + b.active.sum() == 300


def test_overlap_counts_only_in_the_share_the_training_voices_show() -> None:
    """Heard in 6% of the speech (generated calls of the training voices: 2-11%) overlap counts
    for both speakers; heard in 20% (the phantom overlap of voices the model never heard: 0.17-0.21
    median on held-out MBROLA and real LibriSpeech voices, docs/frontend.md) it is ignored."""
    n = 1000
    tracks = [_track(n, 0, 500, "A"), _track(n, 500, n, "B")]
    plausible = _act(n, [(0, n)], two=[(470, 530)])
    a, b = talk_tracks(tracks, plausible)
    assert a.active.sum() + b.active.sum() == n + 60
    phantom = _act(n, [(0, n)], two=[(100, 200), (600, 700)])
    a, b = talk_tracks(tracks, phantom)
    assert a.active.sum() + b.active.sum() == n


def test_real_read_speech_gets_no_implausible_overlap(reference_dir: Path, frontend) -> None:
    """lamartine.wav: two real readers one after the other, no telephone line, unlike our
    training calls (the activity model heard two voices in half of it). The local speakers decide
    the overlap of a mono call, and report it in at most ``max_overlap_share`` of the speech."""
    result = front_end(reference_dir / "lamartine.wav", models=frontend)
    budget = result.budget
    assert budget["talk_time_method"].startswith("activity")
    assert budget["overlap_s"] <= DEFAULT_TALK.max_overlap_share * budget["speech_s"], budget
    # the result says how its overlap was decided, and what the activity model heard
    assert budget["overlap_method"] == "local speakers"
    assert budget["overlap_heard_s"] > budget["overlap_s"]


def test_short_pauses_of_one_speaker_count_as_talk_but_not_gaps_between_speakers() -> None:
    n = 800
    tracks = [_track(n, 0, 400, "A"), _track(n, 420, 800, "B")]
    # A: 100-200, 20-frame pause, 220-300, 60-frame pause, 360-400; then B after a 20-frame gap
    act = _act(n, [(100, 200), (220, 300), (360, 400), (420, 700)])
    a, b = talk_tracks(tracks, act)
    assert a.active[200:220].all()  # 0.2 s pause inside A's speech: talk (the truth's convention)
    assert not a.active[300:360].any()  # 0.6 s pause: not talk
    assert not a.active[400:420].any() and not b.active[400:420].any()  # the hand-over gap
    assert a.active.sum() == 100 + 20 + 80 + 40 and b.active.sum() == 280
