"""Writing snapshots as the optimisation goes, and the progress sheet that tiles them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Sequence, Tuple

import numpy as np

from .images import save_image


def snapshot_name(epoch: int) -> str:
    """``e_<epoch>.jpg``, the example's snapshot file name."""
    return f"e_{epoch}.jpg"


class SnapshotWriter:
    """A callback target that writes each snapshot it is given to ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.written: List[Path] = []

    def __call__(self, epoch: int, rgb: np.ndarray) -> Any:
        path = save_image(rgb, self.folder / snapshot_name(epoch))
        self.written.append(path)
        return path


def progress_sheet(snapshots: Sequence[Tuple[int, np.ndarray]], columns: int = 4) -> np.ndarray:
    """The snapshots tiled in order, each labelled with its epoch (like the figure of the
    painting forming over the epochs); tiles take the last snapshot's size."""
    from PIL import Image, ImageDraw

    if not snapshots:
        raise ValueError("no snapshots to tile")
    h, w = snapshots[-1][1].shape[:2]
    rows = -(-len(snapshots) // columns)
    cols = min(columns, len(snapshots))
    sheet = Image.new("RGB", (cols * w, rows * h), "white")
    for n, (epoch, rgb) in enumerate(snapshots):
        tile = Image.fromarray(rgb).resize((w, h), Image.Resampling.BILINEAR)
        draw = ImageDraw.Draw(tile)
        label = f"epoch {epoch}"
        draw.rectangle((0, 0, 7 * len(label) + 6, 13), fill=(0, 0, 0))
        draw.text((3, 1), label, fill=(255, 255, 255))
        sheet.paste(tile, ((n % columns) * w, (n // columns) * h))
    return np.asarray(sheet)
