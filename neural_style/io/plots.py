"""--loss-plot: the loss terms and eps per epoch, drawn with matplotlib (an optional extra)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

from ..engine.optimise import EpochInfo
from ..errors import ImageError, NeuralStyleError
from .files import write_verified

INSTALL_HINT = (
    "--loss-plot needs matplotlib: pip install 'neural-style[plot]' (or pip install matplotlib)"
)


def require_matplotlib() -> None:
    """Fail before any work, with the command that fixes it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise NeuralStyleError(INSTALL_HINT) from None


def loss_plot(history: Sequence[EpochInfo], path: Path) -> Path:
    """Content, style, TV and total loss (log scale) and eps per epoch, as a PNG."""
    require_matplotlib()
    # A bare Figure (no pyplot) draws with the Agg canvas savefig picks for PNG: the
    # process-wide backend (matplotlib.use) is left as the caller set it.
    from matplotlib.figure import Figure

    epochs = [i.epoch for i in history]
    fig = Figure(figsize=(8, 6), dpi=100)
    top, bottom = fig.subplots(2, 1, sharex=True)
    kinds = dict.fromkeys(name.split(":")[0] for i in history for name in i.terms)  # in order
    for kind in kinds:  # "style:relu1_1" is of kind "style"; "tv" is its own
        values = [sum(v for k, v in i.terms.items() if k.split(":")[0] == kind) for i in history]
        if any(values):
            top.plot(epochs, values, label=kind)
    top.plot(epochs, [i.loss for i in history], label="total", color="black", linewidth=1)
    top.set_yscale("log")
    top.set_ylabel("weighted loss")
    top.legend()
    bottom.plot(epochs, [i.eps for i in history], color="tab:red")
    bottom.set_yscale("log")
    bottom.set_ylabel("eps (relative change)")
    bottom.set_xlabel("epoch")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    from .images import decoded_size

    try:
        return write_verified(path, buffer.getvalue(), decoded_size)
    except OSError as err:
        raise ImageError(f"{path}: cannot write the loss plot ({err.strerror or err})") from None
