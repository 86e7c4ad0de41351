"""The CRNN of the paper's Figure 4, rebuilt so that its parameter counts match Table 4 exactly.

The paper gives the layer types but not the filter counts. Its counts (118,478 GRU and 135,782
LSTM for 2 classes, +170 for 4) fit one reading exactly: two bidirectional recurrent layers of
42 units per direction on 42-feature steps, a softmax on 84 inputs, and a convolutional trunk of
64,380 parameters. Many trunks of four 3x3 convolutions reach 64,380; ``DEFAULT_TRUNK`` is the
one we chose (see training/README.md for the search and why). The first pool is (3, 1) so that
96 mel bins end at height 1 and the 42 channels of the last convolution become the 42 features of
each of 37 time steps (the paper prints (32, 42)).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from callroles.models.features import DEFAULT_SPEC
from callroles.training.labels import LabelError, class_names

PAPER_PARAMS = {
    ("gru", 2): 118_478,
    ("gru", 4): 118_648,
    ("lstm", 2): 135_782,
    ("lstm", 4): 135_952,
}
RNN_UNITS = 42
TRUNK_PARAMS = 64_380


@dataclass(frozen=True)
class Trunk:
    """Filter counts and pools of the four conv blocks (conv 3x3 same, BN, ELU, pool, dropout)."""

    filters: tuple[int, int, int, int] = (5, 8, 140, 42)
    first_pool: tuple[int, int] = (3, 1)
    pool: tuple[int, int] = (3, 3)
    dropout: float = 0.1
    batch_norm: bool = True
    bn_momentum: float = 0.9  # Keras' 0.99 leaves inference statistics unconverged in short runs
    input_offset: float = 40.0  # (dB + 40) / 20: a parameter-free scaling of absolute dB input
    input_scale: float = 0.05

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_TRUNK = Trunk()


def trunk_param_count(trunk: Trunk = DEFAULT_TRUNK) -> int:
    """Parameters of the conv trunk, by arithmetic (BN counts 4 per channel, as Keras does)."""
    total, c_in = 0, 1
    for f in trunk.filters:
        total += 9 * c_in * f + f + (4 * f if trunk.batch_norm else 0)
        c_in = f
    return total


def expected_params(n_classes: int, rnn: str, trunk: Trunk = DEFAULT_TRUNK) -> int:
    """Total parameters of ``build_crnn`` computed without TensorFlow."""
    u, d = RNN_UNITS, trunk.filters[-1]
    gates, biases = (3, 2) if rnn == "gru" else (4, 1)
    per_dir = lambda inp: gates * (u * (inp + u) + biases * u)  # noqa: E731
    rnn_params = 2 * per_dir(d) + 2 * per_dir(2 * u)
    return trunk_param_count(trunk) + rnn_params + (2 * u + 1) * n_classes


def _input_shape(spec: Any) -> tuple[int, int]:
    if spec is None:
        return (96, 1000)
    n_mels = int(getattr(spec, "n_mels", 96))
    frames = getattr(spec, "frames_per_window", None)
    return (n_mels, int(frames) if frames else 1000)


def _default_spec() -> Any:
    return DEFAULT_SPEC


def build_crnn(
    n_classes: int = 2, rnn: str = "gru", spec: Any = None, trunk: Trunk = DEFAULT_TRUNK
) -> Any:
    """The paper's CRNN: input (batch, 96, 1000) float32 log-mel, softmax over the classes."""
    import keras  # noqa: PLC0415 (Keras: loaded only to train or export)
    from keras import layers  # noqa: PLC0415 (Keras: loaded only to train or export)

    class_names(n_classes)
    if rnn not in ("gru", "lstm"):
        raise LabelError(f"rnn must be 'gru' or 'lstm', got {rnn!r}")
    n_mels, frames = _input_shape(spec if spec is not None else _default_spec())
    inputs = keras.Input(shape=(n_mels, frames), dtype="float32", name="logmel")
    x = layers.Reshape((n_mels, frames, 1), name="add_channel")(inputs)
    x = layers.Rescaling(
        trunk.input_scale, trunk.input_offset * trunk.input_scale, name="db_scale"
    )(x)
    for i, f in enumerate(trunk.filters, start=1):
        x = layers.Conv2D(f, (3, 3), padding="same", name=f"conv{i}")(x)
        if trunk.batch_norm:
            x = layers.BatchNormalization(momentum=trunk.bn_momentum, name=f"bn{i}")(x)
        x = layers.Activation("elu", name=f"elu{i}")(x)
        pool = trunk.first_pool if i == 1 else trunk.pool
        x = layers.MaxPooling2D(pool, name=f"pool{i}")(x)
        x = layers.Dropout(trunk.dropout, name=f"drop{i}")(x)
    _, h, w, c = x.shape
    x = layers.Permute((2, 1, 3), name="time_first")(x)
    x = layers.Reshape((int(w), int(h) * int(c)), name="to_sequence")(x)
    cell = layers.GRU if rnn == "gru" else layers.LSTM
    x = layers.Bidirectional(cell(RNN_UNITS, return_sequences=True), name=f"{rnn}1")(x)
    x = layers.Bidirectional(cell(RNN_UNITS), name=f"{rnn}2")(x)
    x = layers.Dropout(0.3, name="drop_rnn")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="softmax")(x)
    return keras.Model(inputs, outputs, name=f"crnn_{rnn}_{n_classes}")


def param_report(model: Any, n_classes: int, rnn: str) -> str:
    """One line: our parameter count next to the paper's."""
    ours = int(model.count_params())
    paper = PAPER_PARAMS[(rnn, n_classes)]
    mark = "exact" if ours == paper else f"differs by {ours - paper:+,}"
    return f"parameters: {ours:,} (paper, {rnn.upper()} {n_classes}-class: {paper:,}; {mark})"
