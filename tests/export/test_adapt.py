"""``callroles adapt`` on a small generated archive: DBAS, the same-gender call labelled by the
enrolled agent's voiceprint, fine-tuning from a base run, ONNX export, held-out check.

Synthetic data (the small corpus): this checks the workflow, not how much adaptation helps.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callroles.agents.store import FileStore
from callroles.agents.voiceprints import make_voiceprint, speech_partials
from callroles.base.errors import ModelError
from callroles.base.settings import Settings
from callroles.call.pipeline import Models
from callroles.export.adapt import AdaptOptions, adapt, base_keras, format_report
from callroles.frontend.decode import decode
from callroles.models.crnn import RoleModel
from callroles.training.dataset import BuildOptions
from callroles.training.model import build_crnn
from callroles.training.train import start_from

AGENT = "A001"  # female agent of call00001 (opposite genders) and call00004 (same gender)


def _enrol_from_truth(corpus: Path, store_path: Path, settings: Settings) -> None:
    """A001's print from her turns in call00001, as the simulator's truth marks them."""
    truth = json.loads((corpus / "truth" / "call00001.json").read_text())
    spans = [(s["start"], s["end"]) for s in truth["segments"] if s["speaker"] == AGENT]
    frontend = Models(settings)
    audio = decode(corpus / "audio" / "call00001.gsm", frontend.limits)
    partials = speech_partials(audio, spans, frontend.encoder)
    FileStore(store_path).put(make_voiceprint(AGENT, [partials], ["call00001"]))


@pytest.fixture(scope="module")
def adapted(
    dbas_small: Any, debug_run: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("adapt")
    settings = Settings(voiceprint_store=str(out / "voiceprints.json"))
    _enrol_from_truth(dbas_small.corpus, out / "voiceprints.json", settings)
    opts = AdaptOptions(
        base=debug_run,
        debug=True,
        build=BuildOptions(min_duration_s=dbas_small.min_s, progress=False, work=dbas_small.work),
    )
    report = adapt(dbas_small.corpus, dbas_small.corpus / "calls.csv", out / "v2", opts, settings)
    return out / "v2", report


def test_adapt_labels_the_same_gender_call_by_voiceprint(
    adapted: tuple[Path, dict[str, Any]], dbas_small: Any
) -> None:
    out, report = adapted
    assert report["dbas"]["kept_calls"] == dbas_small.result.kept_calls
    vp = report["voiceprint_labels"]
    assert vp["same_gender_calls"] == 1  # call00004: DBAS cannot label it
    assert vp["labelled_calls"] == 1, vp
    agent_files = sorted((out / "dataset").glob(f"*/agent/female/{AGENT}/vp-call00004-*.npy"))
    customer_files = sorted((out / "dataset").glob("*/customer/female/*/vp-call00004-*.npy"))
    assert agent_files and customer_files
    assert np.load(agent_files[0]).shape == (96, 1000)
    # the agent keeps the split DBAS gave her in call00001
    dbas_split = {p.parts[-5] for p in (out / "dataset").glob(f"*/agent/female/{AGENT}/[0-9]*.npy")}
    assert {p.parts[-5] for p in agent_files} == dbas_split


def test_adapt_writes_a_checked_model_version(
    adapted: tuple[Path, dict[str, Any]], debug_run: Path
) -> None:
    out, report = adapted
    assert report["base"] == str(debug_run / "model.keras")
    held = report["held_out"]
    assert set(held) == {"base", "adapted"}
    assert held["adapted"]["windows"] == held["base"]["windows"] > 0
    assert report["verdict"] in {"better", "no worse", "worse"}
    scorer = RoleModel.load(out / "model.onnx")
    assert scorer.model_version == report["model"]["version"]
    window = np.load(next((out / "dataset").glob("validation/*/*/*/*.npy")))
    probs = scorer.score(window[None])
    assert probs.shape == (1, 2) and abs(float(probs.sum()) - 1.0) < 1e-4
    assert report["model"]["parity_max_abs_diff"] < 1e-3
    assert json.loads((out / "adapt.json").read_text())["model"] == report["model"]
    text = format_report(report)
    assert "voiceprints: 1 of 1 same-gender calls labelled" in text
    assert str(out / "model.onnx") in text


def test_fine_tuning_starts_from_the_base_weights(debug_run: Path) -> None:
    import keras  # noqa: PLC0415 (Keras: loaded only to train or export)

    base = keras.saving.load_model(str(debug_run / "model.keras"), compile=False)
    model = build_crnn(2, "gru")
    start_from(model, debug_run / "model.keras")
    for mine, theirs in zip(model.get_weights(), base.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    with pytest.raises(ModelError) as err:
        start_from(build_crnn(4, "gru"), debug_run / "model.keras")
    assert err.value.code == "model_mismatch"


def test_a_missing_base_is_a_typed_error(tmp_path: Path) -> None:

    with pytest.raises(ModelError) as err:
        base_keras(AdaptOptions(base=tmp_path / "nope"))
    assert err.value.code == "model_missing"
    assert base_keras(AdaptOptions(from_scratch=True)) is None
