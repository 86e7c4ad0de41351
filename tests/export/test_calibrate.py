"""The role confidence's calibration: the temperature fit, ECE, and the scorer reading its file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from callroles.agents.voiceprints import EMBEDDING_MODEL
from callroles.call.roles import (
    SpeakerRole,
    VoiceprintScale,
    by_voiceprint,
    pair_confidence,
    voiceprint_scale,
)
from callroles.export.calibrate import (
    PairScore,
    ceiling_of,
    ece,
    ece_floor,
    fit_temperature,
    nll,
    summary,
    voiceprint_margin,
)
from callroles.models.crnn import RoleModel, calibration_path
from callroles.models.shipped import ROLE_MODEL


def test_a_model_confidently_wrong_half_the_time_gets_a_high_temperature() -> None:
    """Margins of +-12 (the CRNN on calls whose channel misleads it): right half the time.
    At temperature 1 every decision claims ~1.0 (ECE ~0.5); the fit brings it near 0.5."""
    margins = np.array([12.0, -11.0, 13.0, -12.5, 11.5, -10.0, 12.0, 9.0, -13.0, 14.0])
    assert ece(margins, 1.0) > 0.35
    t = fit_temperature(margins)
    assert t > 10 and nll(margins, t) < nll(margins, 1.0)
    assert ece(margins, t) < 0.15


def test_a_model_that_is_right_keeps_its_confidence() -> None:
    margins = np.linspace(3.0, 15.0, 20)
    t = fit_temperature(margins)
    assert t <= 1.0 and ece(margins, t) < 0.05


def test_pair_confidence_uses_the_temperature() -> None:
    a = SpeakerRole("S0", "agent", probabilities={"customer": 0.01, "agent": 0.99})
    c = SpeakerRole("S1", "customer", probabilities={"customer": 0.9, "agent": 0.1})
    assert pair_confidence(a, c) > 0.99
    assert 0.5 < pair_confidence(a, c, temperature=20.0) < 0.6
    assert pair_confidence(a, c, ceiling=0.83) == 0.83  # never more than its held-out accuracy
    assert pair_confidence(a, c, ceiling=0.2) == 0.5  # a ceiling under a coin toss means 0.5


def test_the_ceiling_is_the_accuracy_on_the_calibration_calls() -> None:
    """A model right on 25 of 30 held-out calls may claim at most 0.83, however large its
    margins: a confidently wrong call (margin -4, 0.98 at T = 1) is no longer 'sure'."""
    margins = np.array([4.0] * 25 + [-4.0] * 5)
    assert ceiling_of(margins) == 0.83
    assert ceiling_of(np.array([-1.0, -2.0, 1.0])) == 0.5
    scores = [PairScore(f"c{i}", float(m), False, "real") for i, m in enumerate(margins)]
    assert summary(scores, 1.0)["wrong_at_0_9_or_more"] == 5
    capped = summary(scores, 1.0, ceiling=0.83)
    assert capped["wrong_at_0_9_or_more"] == 0 and capped["ece"] < 0.01


def test_the_ece_floor_is_what_a_perfectly_calibrated_model_shows() -> None:
    """Binned ECE on a few calls is mostly noise: margins spread over 0.55-0.95 confidence give
    a perfectly calibrated model an ECE near 0.2 on 20 calls and under 0.03 on 2000; outcomes
    drawn from the confidences themselves land inside that floor."""
    few = ece_floor(np.linspace(0.2, 3.0, 20), 1.0)
    many = ece_floor(np.linspace(0.2, 3.0, 2000), 1.0)
    assert few is not None and many is not None
    assert few["median"] > 0.15 and many["p90"] < 0.03
    assert few["median"] <= few["p90"]
    margins = np.linspace(0.2, 3.0, 2000)
    right = np.random.default_rng(1).random(2000) < 1.0 / (1.0 + np.exp(-margins))
    drawn = np.where(right, margins, -margins)
    assert ece(drawn, 1.0) < many["p90"]
    assert summary([PairScore("c", 1.0, False, "x")], 1.0)["ece_if_calibrated"] is not None
    assert ece_floor(np.array([]), 1.0) is None


def test_the_scorer_reads_a_calibration_fitted_for_its_version_only(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    shutil.copyfile(ROLE_MODEL, model)
    assert RoleModel.load(model, execution_provider="cpu").temperature == 1.0  # none fitted
    version = RoleModel.load(model, execution_provider="cpu").model_version
    calibration_path(model).write_text(json.dumps({"model_version": "other", "temperature": 7}))
    model.touch()  # a new file identity: loaded anew
    assert RoleModel._create(model, "cpu").temperature == 1.0  # another model's fit is ignored
    calibration_path(model).write_text(json.dumps({"model_version": version, "temperature": 7}))
    assert RoleModel._create(model, "cpu").temperature == 7.0
    assert RoleModel._create(model, "cpu").confidence_ceiling == 1.0  # a fit without a ceiling
    fit = {"model_version": version, "temperature": 1.2, "ceiling": 0.83}
    calibration_path(model).write_text(json.dumps(fit))
    scorer = RoleModel._create(model, "cpu")
    assert (scorer.temperature, scorer.confidence_ceiling) == (1.2, 0.83)


def test_voiceprint_confidence_from_a_fitted_scale(tmp_path: Path) -> None:
    """Uncalibrated, a similarity margin of 0.2 reads 0.70; with a fitted scale it is a rate
    (sigmoid(margin / scale)), capped at the voiceprint's accuracy on the fit calls. A file for
    another embedding model is ignored."""

    decisions = [SpeakerRole("S0"), SpeakerRole("S1")]
    plain = by_voiceprint(decisions, {"S0": 0.80, "S1": 0.60})
    assert [d.role for d in plain] == ["agent", "customer"]
    assert plain[0].confidence == pytest.approx(0.70)
    fitted = by_voiceprint(decisions, {"S0": 0.80, "S1": 0.60}, VoiceprintScale(0.05, 0.97))
    assert fitted[0].confidence == 0.97 and fitted[1].source == "voiceprint"
    assert VoiceprintScale(0.05).confidence(0.02) == pytest.approx(1 / (1 + np.exp(-0.4)))
    path = tmp_path / "voiceprint.calibration.json"
    path.write_text(
        json.dumps({"embedding_model": EMBEDDING_MODEL, "scale": 0.05, "ceiling": 0.97})
    )
    assert voiceprint_scale(path) == VoiceprintScale(0.05, 0.97)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"embedding_model": "ecapa-1.0", "scale": 0.05}))
    assert voiceprint_scale(other) == VoiceprintScale()
    assert voiceprint_scale(tmp_path / "absent.json") == VoiceprintScale()


def test_voiceprint_margin_is_signed_by_the_truth() -> None:

    event = {
        "speakers": [
            {"speaker": "S1", "role_source": "voiceprint", "voiceprint_similarity": 0.62},
            {"speaker": "S2", "role_source": "voiceprint", "voiceprint_similarity": 0.81},
        ]
    }
    assert voiceprint_margin(event, "S2") == pytest.approx(0.19)
    assert voiceprint_margin(event, "S1") == pytest.approx(-0.19)  # the print chose wrong
    assert voiceprint_margin(event, None) is None
    event["speakers"][0]["role_source"] = "model"
    assert voiceprint_margin(event, "S2") is None
