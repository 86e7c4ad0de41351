"""Windows of concurrent calls share scoring batches, and each call gets its own rows back."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from callroles.streaming.batching import ScoreBatcher


def _score(windows: np.ndarray) -> np.ndarray:
    """A deterministic stand-in for the CRNN: probability from the window mean."""
    p = 1.0 / (1.0 + np.exp(-windows.mean(axis=(1, 2))))
    return np.stack([1.0 - p, p], axis=1).astype(np.float32)


def test_batches_mix_calls_and_split_back() -> None:
    sizes: list[int] = []

    def score(windows: np.ndarray) -> np.ndarray:
        sizes.append(len(windows))
        return _score(windows)

    async def scenario() -> None:
        with ThreadPoolExecutor(1) as pool:
            batcher = ScoreBatcher(score, pool, max_windows=8, max_wait_s=0.2)
            rng = np.random.default_rng(1)
            calls = [
                rng.normal(i, 1.0, (n, 4, 5)).astype(np.float32) for i, n in enumerate((3, 2, 11))
            ]
            outs = await asyncio.gather(*(batcher.score(w, f"c{i}") for i, w in enumerate(calls)))
            await batcher.stop()
        for w, out in zip(calls, outs, strict=True):
            np.testing.assert_allclose(out, _score(w), rtol=1e-6)
        assert max(sizes) <= 8  # never above the batch limit
        assert sizes[0] > 3  # the first batch held windows of more than one call
        assert sum(sizes) == 16

    asyncio.run(scenario())


def test_scoring_errors_reach_every_waiting_call() -> None:
    def broken(_windows: np.ndarray) -> np.ndarray:
        raise RuntimeError("onnx failed")

    async def scenario() -> None:
        with ThreadPoolExecutor(1) as pool:
            batcher = ScoreBatcher(broken, pool, max_windows=4, max_wait_s=0.05)
            results = await asyncio.gather(
                batcher.score(np.zeros((2, 3, 3), np.float32), "a"),
                batcher.score(np.zeros((1, 3, 3), np.float32), "b"),
                return_exceptions=True,
            )
            assert all(isinstance(r, RuntimeError) for r in results)
            ok = ScoreBatcher(_score, pool, max_windows=4)
            assert (await ok.score(np.zeros((1, 3, 3), np.float32))).shape == (1, 2)
            await ok.stop()
            await batcher.stop()

    asyncio.run(scenario())


def test_empty_input() -> None:
    async def scenario() -> None:
        with ThreadPoolExecutor(1) as pool:
            batcher = ScoreBatcher(_score, pool)
            out = await batcher.score(np.zeros((0, 3, 3), np.float32))
            assert out.shape[0] == 0  # nothing queued, nothing scored
            await batcher.stop()

    asyncio.run(scenario())


def test_trunk_once_speaker_scoring_matches_windows(small_corpus) -> None:
    """scoring=trunk-once: a speaker's stream in one run, close to window-by-window scoring."""
    from callroles.audio.pipeline import FrontEnd
    from callroles.export.scorer import Scorer

    scorer = Scorer.load(None, stream_trunk=True)  # the shipped default model
    front = FrontEnd().process(next((small_corpus / "audio").glob("call00001.*")))
    stream = max(front.speakers, key=lambda s: len(s.windows))
    assert len(stream.windows) >= 5

    async def scenario() -> np.ndarray:
        with ThreadPoolExecutor(1) as pool:
            batcher = ScoreBatcher(scorer.score, pool, speaker_fn=scorer.score_speaker)
            return await batcher.score(stream.windows, "call00001")

    fast = asyncio.run(scenario())
    exact = scorer.score(stream.windows)
    assert fast.shape == exact.shape
    assert float(np.max(np.abs(fast - exact))) < 0.2  # one window: 0.14 on call00001
    assert (fast.argmax(1) == exact.argmax(1)).mean() >= 0.9
    assert abs(float(fast[:, 1].mean() - exact[:, 1].mean())) < 0.02  # the paper's Eq. 4
