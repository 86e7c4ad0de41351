"""Training curves of the small frame models: losses on the left, validation figures right."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def draw(
    history: list[dict[str, Any]],
    dst: Path,
    *,
    title: str,
    loss: str,
    metrics: tuple[str, ...],
    metrics_title: str,
) -> None:
    """One PNG: train and validation loss per epoch, and each of ``metrics`` (0 to 1)."""
    import matplotlib  # noqa: PLC0415 (matplotlib: loaded only when drawing)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 (matplotlib: loaded only when drawing)

    ep = [r["epoch"] for r in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    a.plot(ep, [r["loss"] for r in history], label="train")
    a.plot(ep, [r["val_loss"] for r in history], label="validation")
    a.set(xlabel="epoch", ylabel=loss, title=title)
    a.legend()
    for key in metrics:
        b.plot(ep, [r[key] for r in history], label=key.replace("_", " "))
    b.set(xlabel="epoch", title=metrics_title)
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)
    plt.close(fig)
