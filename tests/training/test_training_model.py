"""The CRNN reproduces the paper's parameter counts (Table 4) exactly."""

from __future__ import annotations

import numpy as np
import pytest

from callroles.training.labels import LabelError
from callroles.training.model import (
    PAPER_PARAMS,
    TRUNK_PARAMS,
    Trunk,
    build_crnn,
    expected_params,
    param_report,
    trunk_param_count,
)


def test_trunk_matches_the_papers_residual() -> None:
    assert trunk_param_count() == TRUNK_PARAMS == 64_380
    assert trunk_param_count(Trunk(filters=(8, 16, 32, 42))) != TRUNK_PARAMS


@pytest.mark.parametrize(("rnn", "n"), sorted(PAPER_PARAMS))
def test_parameter_counts_are_the_papers(rnn: str, n: int) -> None:
    model = build_crnn(n, rnn)
    assert model.count_params() == PAPER_PARAMS[(rnn, n)] == expected_params(n, rnn)
    assert "exact" in param_report(model, n, rnn)
    assert model.input_shape == (None, 96, 1000)
    assert model.output_shape == (None, n)
    seq = model.get_layer("to_sequence").output.shape
    assert tuple(seq[1:]) == (37, 42)  # 37 steps of 42 features (the paper prints (32, 42))


def test_output_is_a_distribution() -> None:
    model = build_crnn(4, "gru")
    x = np.random.default_rng(0).normal(-40, 10, (2, 96, 1000)).astype(np.float32)
    p = np.asarray(model.predict(x, verbose=0))
    assert p.shape == (2, 4)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(LabelError, match="2 or 4"):
        build_crnn(3)
    with pytest.raises(LabelError, match="gru"):
        build_crnn(2, "rnn")
