"""Train the music check (``callroles.models.music``): real music against real voices.

Every clip is 2 s of real audio through a random telephone line of the simulator (any codec,
lost packets, level steps, line noise) or the agent's headset:
- music: the game-music tracks Debian ships (``singularity-music``, ``wesnoth-1.16-music``,
  ``warzone2100-music``: 87 tracks, CC BY-SA / GPL). Never the music on hold of
  ``asterisk-moh-opsound``, which the evaluation sets play;
- voices: LibriSpeech readers (``train-clean-100``, 251 readers; ``../shared/data/speakers``;
  never ``test-other``, which the tests hold out) and, for a fifth of the clips, the recorded
  es/fr/it/ru telephone prompts of ``asterisk-core-sounds`` (never the English ones, which the
  evaluation sets play).

The model is small (four 3x3 convolutions, global pooling, softmax over voice/music) and sees
1 s windows cropped at random from each clip. Clips are split by source file for validation,
so a validation clip never comes from a track or a reader the model trained on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

from callroles.lab.simulate import channel
from callroles.lab.simulate.sounds import _read, prompt_files
from callroles.models.music import CLASSES, MUSIC_SPEC, music_features, windows_at
from callroles.training.curves import draw

SR = 8000
MUSIC_ROOT = Path("/usr/share/games")
#: the music folders of the three Debian packages (their other files are not all music)
MUSIC_DIRS = ("singularity/music", "warzone2100/music", "wesnoth/1.16/data/core/music")
PROMPT_VOICES = ("es_MX_f_Allison", "fr_CA_f_June", "it_IT_m_Carlo", "ru_RU_f_IvrvoiceRU")


@dataclass(frozen=True)
class MusicConfig:
    pairs: int = 3000  # clips of music and as many of voices
    clip_s: float = 2.0
    epochs: int = 14
    batch: int = 64
    learning_rate: float = 1e-3
    validation_share: float = 0.12  # of the source files, held out whole
    prompt_share: float = 0.2  # of the voice clips: recorded prompts (4 voices); else readers
    seed: int = 2612
    workers: int = 2


DEBUG = MusicConfig(pairs=24, epochs=2, batch=16)


@dataclass(frozen=True)
class Sources:
    music: tuple[Path, ...]
    readers: tuple[Path, ...]
    prompts: tuple[Path, ...]

    @classmethod
    def find(cls, speech_root: Path, music_root: Path = MUSIC_ROOT) -> Sources:
        """The training audio on this machine; a plain error naming what to install if absent."""

        music = tuple(
            sorted(
                p
                for d in MUSIC_DIRS
                for p in (music_root / d).rglob("*")
                if p.suffix in (".ogg", ".opus")
            )
        )
        readers = tuple(sorted(speech_root.rglob("*.flac"))) if speech_root.is_dir() else ()
        if not music:
            raise FileNotFoundError(
                f"no game music under {music_root}: apt-get install singularity-music "
                "wesnoth-1.16-music warzone2100-music (deploy/setup.sh installs the first)"
            )
        if not readers:
            raise FileNotFoundError(
                f"no LibriSpeech .flac files under {speech_root} (../shared/data/speakers/"
                "librispeech is there for developers and CI, not in a user's clone)"
            )
        prompts = tuple(p for v in PROMPT_VOICES for p in prompt_files(v))
        return cls(music, readers, prompts)


def _split(
    files: tuple[Path, ...], share: float, rng: np.random.Generator, by_reader: bool = False
) -> tuple[list, list]:
    """Training and validation files; ``by_reader``: a LibriSpeech reader (the file name's
    first field) lands wholly on one side."""
    units = sorted({f.name.split("-")[0] if by_reader else f.name for f in files})
    order = rng.permutation(len(units))
    held = {units[i] for i in order[: max(1, int(round(share * len(units))))]}
    unit = (lambda f: f.name.split("-")[0]) if by_reader else (lambda f: f.name)
    return [f for f in files if unit(f) not in held], [f for f in files if unit(f) in held]


def render_clip(job: tuple[int, str, tuple[int, int, int], float]) -> tuple[int, np.ndarray]:
    """(label, 2 s of 8 kHz audio): a random stretch of one file through a random line."""

    label, path, seed, clip_s = job
    rng = np.random.default_rng(seed)
    if path.endswith(".flac"):
        x, rate = sf.read(path, dtype="float32")
        x = soxr.resample(x, rate, SR).astype(np.float32)
    else:
        x = _read(Path(path))
    n = int(clip_s * SR)
    if len(x) < n:
        x = np.tile(x, n // max(1, len(x)) + 1)
    a = int(rng.integers(0, len(x) - n + 1))
    x = x[a : a + n].astype(np.float32)
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) or 1.0
    x = x / rms * 10 ** (rng.uniform(-30, -16) / 20)
    if rng.random() < 0.8:
        noise = float(rng.uniform(-65, -45))
        y = channel.phone_line(x, rng, 0.0, noise, channel.draw_line(rng))
    else:
        y = channel.headset(x, rng, 0.0)
    return label, np.asarray(y, np.float32)


def jobs(files: list[Path], label: int, n: int, config: MusicConfig, offset: int) -> list:
    """``n`` clips of ``files``; each clip's own seed (seed, group, k) draws its stretch, level
    and phone line, so no two clips anywhere share a line."""
    rng = np.random.default_rng([config.seed, offset])
    picks = rng.integers(len(files), size=n)
    return [
        (label, str(files[i]), (config.seed, offset, k), config.clip_s) for k, i in enumerate(picks)
    ]


def render(
    todo: list, workers: int, progress: Callable[[int, int], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(labels, (N, n_mels, frames) log-mel) of every job; grouped by file so each track is
    decoded once per worker."""
    todo = sorted(todo, key=lambda j: j[1])
    labels, mels = [], []
    with ProcessPoolExecutor(workers) as pool:
        for k, (label, audio) in enumerate(pool.map(render_clip, todo, chunksize=16)):
            labels.append(label)
            mels.append(music_features(audio))
            if progress and (k + 1) % 200 == 0:
                progress(k + 1, len(todo))
    return np.array(labels, np.int64), np.stack(mels)


def crops(mels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random 1 s window of every clip, as the runtime cuts them."""
    w = MUSIC_SPEC.frames_per_window
    starts = rng.integers(0, mels.shape[2] - w + 1, size=len(mels))
    return np.concatenate([windows_at(m, np.array([s])) for m, s in zip(mels, starts, strict=True)])


def build_model() -> Any:
    import keras  # noqa: PLC0415 (Keras: loaded only to train or export)

    inp = keras.Input((MUSIC_SPEC.n_mels, MUSIC_SPEC.frames_per_window, 1), name="logmel")
    x = keras.layers.Rescaling(1.0 / 20.0)(inp)  # dB about the window's mean, to about +-3
    for filters in (16, 32, 32):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    out = keras.layers.Dense(len(CLASSES), activation="softmax", name="music")(x)
    return keras.Model(inp, out, name="music")


def train(
    sources: Sources, out: Path, config: MusicConfig = MusicConfig(), log: Callable = print
) -> dict[str, Any]:
    """Render the clips, train, keep the best epoch (validation loss) in out/model.keras."""
    import keras  # noqa: PLC0415 (Keras: loaded only to train or export)

    rng = np.random.default_rng(config.seed)
    music_tr, music_va = _split(sources.music, config.validation_share, rng)
    readers_tr, readers_va = _split(sources.readers, config.validation_share, rng, by_reader=True)
    prompts_tr, prompts_va = _split(sources.prompts, config.validation_share, rng)
    n_va = max(2, int(config.pairs * config.validation_share))

    def voices(readers: list[Path], prompts: list[Path], n: int, offset: int) -> list:
        n_prompts = int(round(n * config.prompt_share))
        return jobs(readers, 0, n - n_prompts, config, offset) + jobs(
            prompts, 0, n_prompts, config, offset + 1
        )

    train_jobs = jobs(music_tr, 1, config.pairs, config, 0)
    train_jobs += voices(readers_tr, prompts_tr, config.pairs, 1)
    val_jobs = jobs(music_va, 1, n_va, config, 3) + voices(readers_va, prompts_va, n_va, 4)
    t0 = time.time()
    labels, mels = render(train_jobs, config.workers, lambda k, n: log(f"[music] clip {k}/{n}"))
    val_labels, val_mels = render(val_jobs, config.workers)
    log(
        f"[music] {len(labels)} training and {len(val_labels)} validation clips "
        f"in {time.time() - t0:.0f} s"
    )
    model = build_model()
    model.compile(
        keras.optimizers.Adam(config.learning_rate),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    out.mkdir(parents=True, exist_ok=True)
    val_x = crops(val_mels, np.random.default_rng(config.seed + 1))[..., None]
    history, best = [], None
    for epoch in range(config.epochs):
        fit = model.fit(
            crops(mels, rng)[..., None], labels, batch_size=config.batch, epochs=1, verbose=0
        )
        val_loss, val_acc = model.evaluate(val_x, val_labels, verbose=0)
        row = {
            "epoch": epoch + 1,
            "loss": float(fit.history["loss"][0]),
            "val_loss": float(val_loss),
            "val_accuracy": float(val_acc),
        }
        history.append(row)
        log(f"[music] epoch {epoch + 1}/{config.epochs}: {json.dumps(row)}")
        if best is None or row["val_loss"] < best["val_loss"]:
            best = row
            model.save(out / "model.keras")
    (out / "history.json").write_text(json.dumps(history, indent=1))
    return {
        "config": asdict(config),
        "best": best,
        "clips": {"train": int(len(labels)), "validation": int(len(val_labels))},
        "sources": {
            "music_files": len(sources.music),
            "readers": len(sources.readers),
            "prompts": len(sources.prompts),
        },
        "probe": np.concatenate([val_x[val_labels == c][:4] for c in (0, 1)]),
    }


def curves(history: list[dict[str, Any]], dst: Path) -> None:
    """Training curve: losses and validation accuracy per epoch."""
    draw(
        history, dst, title="music check (real music, real voices)", loss="cross-entropy",
        metrics=("val_accuracy",), metrics_title="validation: held-out tracks and readers",
    )  # fmt: skip
