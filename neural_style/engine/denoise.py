"""Denoising filters for snapshots and the final image: one registry, :data:`DENOISERS`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, Optional

import numpy as np


def _gaussian(rgb: np.ndarray, sigma: float) -> np.ndarray:
    from skimage.filters import gaussian

    return gaussian(rgb, sigma=sigma, channel_axis=-1, preserve_range=True)


def _tv(rgb: np.ndarray, weight: float) -> np.ndarray:
    from skimage.restoration import denoise_tv_chambolle

    return denoise_tv_chambolle(rgb, weight=weight, channel_axis=-1)


@dataclass(frozen=True)
class Denoiser:
    """One choice of ``--denoise``: its filter on [0, 1] floats (None: no filter) and the
    strength used when --remove-noise is not given."""

    default_strength: float
    filter: Optional[Callable[[np.ndarray, float], np.ndarray]]
    unit: str = ""
    #: Rows of context a strip needs to come out as in the whole image (the tiled path
    #: denoises in strips, :func:`neural_style.engine.strips.finish_strips`).
    margin: Callable[[float], int] = lambda strength: 0


#: TV-Chambolle is iterative over the whole image (and stops on a whole-image criterion),
#: so no margin makes a strip exact; with this one strips agree with the whole image
#: within one 8-bit level (tests/engine/test_strips.py).
TV_MARGIN = 32


#: Gaussian: sigma in pixels, 0.2 as documented for the example in 2016 (MXNet's
#: example/neural-style documentation: ``--remove-noise``, "the radius of the Gaussian
#: denoising", default 0.2, 0.15 for less); a sigma of 0.5 blurred the brush strokes and
#: measurably raised the style error (issue 8). TV: Chambolle's weight on the [0, 1]
#: scale, nstyle.py's 0.02.
DENOISERS: Dict[str, Denoiser] = {
    # scikit-image's gaussian truncates at 4 sigma
    "gaussian": Denoiser(0.2, _gaussian, "sigma in pixels", lambda s: math.ceil(4 * s) + 1),
    "tv": Denoiser(0.02, _tv, "TV weight", lambda s: TV_MARGIN),
    "none": Denoiser(0.0, None),
}

#: Each filter's default strength (a view of :data:`DENOISERS`).
DENOISE_DEFAULT_STRENGTH: Dict[str, float] = {k: d.default_strength for k, d in DENOISERS.items()}


def denoise(rgb: np.ndarray, method: str, strength: float) -> np.ndarray:
    """Filter an (H, W, 3) uint8 image; ``strength`` is sigma (pixels) or the TV weight.

    MXNet's example ran scikit-image's TV-Chambolle filter on snapshots only; here
    the same filter (or a Gaussian) is applied to the final image as well.
    """
    if method not in DENOISERS:
        raise ValueError(f"unknown denoiser {method!r}; choose from {', '.join(DENOISERS)}")
    apply = DENOISERS[method].filter
    if apply is None or strength <= 0:
        return rgb
    out = apply(rgb.astype(np.float64) / 255.0, strength)
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


def margin(method: str, strength: float) -> int:
    """Rows of context :func:`denoise` needs around a strip (see :class:`Denoiser`)."""
    return DENOISERS[method].margin(strength) if strength > 0 else 0
