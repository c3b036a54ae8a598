"""Denoising, and writing snapshots as the optimisation goes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

import numpy as np

from .images import save_image

DENOISERS = ("gaussian", "tv", "none")


def denoise(rgb: np.ndarray, method: str, strength: float) -> np.ndarray:
    """Filter an (H, W, 3) uint8 image; ``strength`` is sigma (pixels) or the TV weight.

    MXNet's example ran scikit-image's TV-Chambolle filter on snapshots only; here
    the same filter (or a Gaussian) is applied to the final image as well.
    """
    if method not in DENOISERS:
        raise ValueError(f"unknown denoiser {method!r}")
    if method == "none" or strength <= 0:
        return rgb
    if method == "gaussian":
        from skimage.filters import gaussian

        out = gaussian(rgb, sigma=strength, channel_axis=-1, preserve_range=True) / 255.0
    else:
        from skimage.restoration import denoise_tv_chambolle

        out = denoise_tv_chambolle(rgb.astype(np.float64) / 255.0, weight=strength,
                                   channel_axis=-1)
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


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
