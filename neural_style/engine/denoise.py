"""Denoising filters for snapshots and the final image."""

from __future__ import annotations

import numpy as np

#: Denoising filters and, for each, the strength used when --remove-noise is not given.
#: Gaussian: sigma in pixels, 0.2 as documented for the example in 2016 (MXNet's
#: example/neural-style documentation: ``--remove-noise``, "the radius of the Gaussian
#: denoising", default 0.2, 0.15 for less); a sigma of 0.5 blurred the brush strokes and
#: measurably raised the style error (issue 8). TV: Chambolle's weight on the [0, 1]
#: scale, nstyle.py's 0.02.
DENOISE_DEFAULT_STRENGTH = {"gaussian": 0.2, "tv": 0.02, "none": 0.0}
DENOISERS = tuple(DENOISE_DEFAULT_STRENGTH)


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
