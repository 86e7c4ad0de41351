"""Train the speaker-count model (``callroles.models.activity``) on generated calls.

The simulator's truth is exact to the sample: every utterance's speech regions, overlaps
included. So each 10 ms frame of a generated mono call gets two labels: how many people speak
(0, 1, 2) and whether it lies where one speaker hands over to the other (the gap between two
single-voice stretches of different speakers, and 50 ms either side). A small convolutional
model learns both from the call's log-mel frames: a 2-D trunk over (time, mel), then dilated
1-D convolutions (about +-0.7 s of context). It trains on random 8 s crops, stops early on a
separate validation corpus and is exported to ONNX with its feature spec in the metadata.

The shipped model heard only synthetic speech (espeak-ng and Festival voices through a simulated
phone line). Generated calls may also carry real voices (``simulate --real-voices``) and real
sounds (``--sounds training``); a recorded announcement nobody speaks over gets no weight
(``IGNORE``). Retrain on real annotated calls before trusting it there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from callroles.frontend.decode import decode
from callroles.frontend.segmentation import FRAME_S, runs
from callroles.models.activity import ACTIVITY_SPEC, CLASSES, MODEL_NAME, activity_features
from callroles.training.curves import draw

CHANGE_PAD = 5  # frames either side of a hand-over that count as "change"
#: count label of frames that teach nothing: a recorded announcement nobody speaks over. It is a
#: human voice, and calling it "nobody" taught the model to miss real voices (docs/frontend.md,
#: "The activity model retrained on real sounds and real voices"); such frames weigh 0.
IGNORE = 3


@dataclass(frozen=True)
class ActivityConfig:
    """Every knob of one run; stored in the run's report."""

    epochs: int = 30
    steps_per_epoch: int = 211  # 211 x 16 x 8 s: about the training corpus once
    batch_size: int = 16
    crop_s: float = 8.0
    patience: int = 4
    learning_rate: float = 1e-3
    seed: int = 2026
    width: int = 64
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    validation_crops: int = 400


DEBUG = ActivityConfig(epochs=2, steps_per_epoch=3, batch_size=4, crop_s=4.0, validation_crops=8)


def frame_labels(truth: dict[str, Any], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(count, change) per frame from a generated call's truth; frame t is the time 10 t ms."""
    t = np.arange(n) * FRAME_S
    speakers = list(truth["speakers"])
    grid = np.zeros((len(speakers), n), bool)
    for s in truth["segments"]:
        grid[speakers.index(s["speaker"]), (t >= s["start"]) & (t < s["end"])] = True
    count = np.minimum(grid.sum(0), 2).astype(np.uint8)
    single = grid.sum(0) == 1
    who = np.where(single, grid.argmax(0), -1)
    change = np.zeros(n, np.uint8)
    pieces = runs(single)
    for (a0, b0), (a1, _b1) in zip(pieces, pieces[1:], strict=False):
        if who[a0] != who[a1]:
            change[max(0, b0 - CHANGE_PAD) : min(n, a1 + CHANGE_PAD)] = 1
    return count, change


def announced(truth: dict[str, Any], n: int) -> np.ndarray:
    """Frames inside a recorded announcement of the truth's events (``simulate --sounds``)."""
    t = np.arange(n) * FRAME_S
    out = np.zeros(n, bool)
    for e in truth.get("events", []):
        if e["kind"] == "announcement":
            out |= (t >= e["start"]) & (t < e["end"])
    return out


def load_corpus(
    corpus: Path, cache: Path, skip: int = 0, limit: int | None = None, progress: bool = True
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(features float16, count, change) per mono call of a simulated corpus, cached as .npz."""
    cache.mkdir(parents=True, exist_ok=True)
    truths = sorted((corpus / "truth").glob("*.json"))[skip:]
    truths = truths[:limit] if limit is not None else truths
    out = []
    for i, path in enumerate(truths):
        truth = json.loads(path.read_text())
        if truth.get("channels", 1) != 1:
            continue  # stereo calls keep the energy trim (one voice per channel)
        dst = cache / f"{truth['call_id']}.npz"
        if not dst.is_file():
            audio = decode(next((corpus / "audio").glob(truth["call_id"] + ".*")))
            feats = activity_features(audio.channels.mean(axis=0), ACTIVITY_SPEC)
            np.savez(dst, features=feats.astype(np.float16))
        feats = np.load(dst)["features"]
        count, change = frame_labels(truth, len(feats))
        count[announced(truth, len(feats)) & (count == 0)] = IGNORE
        out.append((feats, count, change))
        if progress:
            print(f"\r[activity] {corpus.name}: {i + 1}/{len(truths)} calls", end="", flush=True)
    if progress:
        print()
    return out


def build_model(config: ActivityConfig = ActivityConfig()) -> Any:
    """Conv trunk over (time, mel), dilated 1-D residual stack, two per-frame heads."""
    import keras  # noqa: PLC0415 (Keras: loaded only to train or export)
    from keras import layers  # noqa: PLC0415 (Keras: loaded only to train or export)

    keras.utils.set_random_seed(config.seed)
    inputs = keras.Input((None, ACTIVITY_SPEC.n_mels), name="logmel")
    x = layers.Rescaling(0.05)(inputs)
    x = layers.Reshape((-1, ACTIVITY_SPEC.n_mels, 1))(x)
    for filters, pool in ((16, 4), (32, 4), (32, 6)):  # 96 mel bands -> 1
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D((1, pool))(x)
    x = layers.Reshape((-1, 32))(x)
    x = layers.Conv1D(config.width, 3, padding="same", activation="relu")(x)
    for rate in config.dilations:
        y = layers.Conv1D(config.width, 3, padding="same", dilation_rate=rate, activation="relu")(x)
        x = layers.Add()([x, layers.Dropout(0.1)(y)])
    count = layers.Conv1D(len(CLASSES), 1, activation="softmax", name="count")(x)
    change = layers.Conv1D(1, 1, activation="sigmoid", name="change")(x)
    return keras.Model(inputs, [count, change], name=MODEL_NAME)


def crops(
    data: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n: int, frames: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n`` random crops, calls drawn in proportion to their length (zero-padded at the end):
    features, count, change and each frame's weight (0 where the count is ``IGNORE``)."""
    rng = np.random.default_rng(seed)
    lengths = np.array([len(c) for _, c, _ in data], float)
    x = np.zeros((n, frames, ACTIVITY_SPEC.n_mels), np.float32)
    count = np.zeros((n, frames), np.int32)
    change = np.zeros((n, frames, 1), np.float32)
    for k, i in enumerate(rng.choice(len(data), size=n, p=lengths / lengths.sum())):
        feats, c, ch = data[i]
        a = int(rng.integers(0, max(1, len(c) - frames)))
        m = len(c[a : a + frames])
        x[k, :m], count[k, :m], change[k, :m, 0] = feats[a : a + m], c[a : a + m], ch[a : a + m]
    weight = (count != IGNORE).astype(np.float32)
    count[count == IGNORE] = 0
    return x, count, change, weight


def scores(count: np.ndarray, change: np.ndarray, p: np.ndarray, pc: np.ndarray) -> dict:
    """Frame accuracy, and precision/recall of overlap and change at 0.5 (validation crops)."""
    pred = p.argmax(-1)
    ov, pov = count == 2, pred == 2
    ch, pch = change[..., 0] > 0.5, pc[..., 0] > 0.5
    speech, pspeech = count > 0, pred > 0

    def ratio(a: np.ndarray, b: np.ndarray) -> float:
        return round(float((a & b).sum() / max(1, b.sum())), 4)

    return {
        "frame_accuracy": round(float((pred == count).mean()), 4),
        "speech_precision": ratio(speech, pspeech),
        "speech_recall": ratio(pspeech, speech),
        "overlap_precision": ratio(ov, pov),
        "overlap_recall": ratio(pov, ov),
        "change_precision": ratio(ch, pch),
        "change_recall": ratio(pch, ch),
    }


def train(
    train_data: list,
    val_data: list,
    out: Path,
    config: ActivityConfig = ActivityConfig(),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Fit with early stopping on validation loss; leaves model.keras and history.json."""
    import keras  # noqa: PLC0415 (Keras: loaded only to train or export)

    out.mkdir(parents=True, exist_ok=True)
    frames = int(round(config.crop_s / FRAME_S))
    xv, cv, chv, wv = crops(val_data, config.validation_crops, frames, seed=1)
    model = build_model(config)
    losses = {"count": "sparse_categorical_crossentropy", "change": "binary_crossentropy"}
    model.compile(keras.optimizers.Adam(config.learning_rate), loss=losses)
    history: list[dict[str, Any]] = []
    best, waited = float("inf"), 0
    for epoch in range(config.epochs):
        t0 = time.perf_counter()
        x, c, ch, w = crops(train_data, config.steps_per_epoch * config.batch_size, frames, epoch)
        fit = model.fit(
            x, [c, ch], sample_weight=[w, w],
            batch_size=config.batch_size, verbose=0,
        )  # fmt: skip
        p, pc = model.predict(xv, batch_size=32, verbose=0)
        keep = wv > 0
        val = float(keras.losses.sparse_categorical_crossentropy(cv, p).numpy()[keep].mean())
        val += float(keras.losses.binary_crossentropy(chv, pc).numpy()[keep].mean())
        row = {"epoch": epoch + 1, "loss": float(fit.history["loss"][0]), "val_loss": val}
        row |= scores(cv[keep], chv[keep], p[keep], pc[keep])
        row |= {"seconds": round(time.perf_counter() - t0, 1)}
        history.append(row)
        log(json.dumps(row))
        if val < best:
            best, waited = val, 0
            model.save(out / "model.keras")
        else:
            waited += 1
            if waited >= config.patience:
                break
    (out / "history.json").write_text(json.dumps(history, indent=1))
    best_row = min(history, key=lambda r: r["val_loss"])
    return {"config": asdict(config), "best": best_row, "epochs_run": len(history)}


def curves(history: list[dict[str, Any]], dst: Path) -> None:
    """Training curve: losses and the validation overlap/change recall per epoch."""
    draw(
        history, dst, title="activity model (synthetic)", loss="loss (count + change)",
        metrics=("frame_accuracy", "overlap_recall", "overlap_precision", "change_recall"),
        metrics_title="validation frames",
    )  # fmt: skip
