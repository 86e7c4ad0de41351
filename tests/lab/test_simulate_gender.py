"""inaSpeechSegmenter hears the intended gender on the generated speech (the paper relies on it)."""

from __future__ import annotations

from pathlib import Path

from callroles.base.settings import Settings
from callroles.lab.simulate.gender_check import agreement, segmenter


def test_ina_labels_intended_gender_on_small_calls(small_corpus: Path) -> None:
    seg = segmenter(Settings())
    total = correct = 0.0
    for call in ("call00002",):  # de: male agent, female customer (bench covers every family)
        per_speaker = agreement(
            seg, small_corpus / "audio" / f"{call}.gsm", small_corpus / "truth" / f"{call}.json"
        )
        for sid, (speech, right) in per_speaker.items():
            assert speech > 5.0, (call, sid)
            total, correct = total + speech, correct + right
    assert correct / total >= 0.90, f"{correct:.1f} of {total:.1f} s labelled correctly"
