"""The network's view of an image: (1, 3, H, W) float32 in [0, 255] minus the ImageNet
mean, and the resizing and colour operations done on arrays (no files here)."""

from __future__ import annotations

from typing import Tuple

import numpy as np

from ..errors import ConfigError, ImageError
from .vgg import MIN_EDGE, RGB_MEAN


class SizeSettingError(ConfigError, ImageError):
    """An image that is fine but cannot be worked at the size a setting asks for (its
    short side below the minimum at --max-long-edge): a usage error (exit 2), found once
    the image is read; an :class:`ImageError` too, for callers that catch those."""


_MEAN = np.asarray(RGB_MEAN, dtype=np.float32).reshape(1, 3, 1, 1)


def fit_long_edge(shape: Tuple[int, int], long_edge: int) -> Tuple[int, int]:
    """(H, W) scaled so the longer side is ``long_edge`` (as the example: up or down)."""
    h, w = shape
    factor = long_edge / max(h, w)
    return max(1, int(round(h * factor))), max(1, int(round(w * factor)))


def check_min_edge(rgb: np.ndarray, what: str) -> None:
    """An :class:`ImageError` if either side of ``rgb`` is below :data:`MIN_EDGE`."""
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_EDGE:
        raise ImageError(
            f"{what}: {w}x{h} pixels is too small; the minimum is {MIN_EDGE}x{MIN_EDGE}"
        )


def check_size(rgb: np.ndarray, long_edge: int, what: str) -> Tuple[int, int]:
    """The working size of an image, or an :class:`ImageError` if it is too small.

    VGG19 halves the image four times before relu5_1: each side must be at least
    :data:`~neural_style.engine.vgg.MIN_EDGE` pixels, in the file and after resizing.
    """
    check_min_edge(rgb, what)
    h, w = rgb.shape[:2]
    shape = fit_long_edge((h, w), long_edge)
    if min(shape) < MIN_EDGE:
        raise SizeSettingError(
            f"{what}: at --max-long-edge {long_edge} its short side would be "
            f"{min(shape)} pixels (minimum {MIN_EDGE}); raise --max-long-edge "
            f"to at least {smallest_long_edge(rgb)}"
        )
    return shape


def smallest_long_edge(rgb: np.ndarray) -> int:
    """The smallest long edge at which the image's short side is still
    :data:`~neural_style.engine.vgg.MIN_EDGE` pixels."""
    h, w = rgb.shape[:2]
    edge = int(np.ceil(MIN_EDGE * max(h, w) / min(h, w)))
    while min(fit_long_edge((h, w), edge)) < MIN_EDGE:  # rounding: at most a step or two
        edge += 1
    return edge


def resize(rgb: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Resize an (H, W, 3) array with anti-aliasing (scikit-image); a uint8 array (the
    tiled path keeps its inputs so) is read as [0, 1]. :mod:`.strips` gives the same
    resize window by window."""
    from skimage.transform import resize as sk_resize

    if rgb.dtype == np.uint8:
        rgb = rgb.astype(np.float32) / np.float32(255)
    if rgb.shape[:2] == tuple(shape):
        return rgb
    out = sk_resize(rgb, shape, order=1, mode="reflect", anti_aliasing=True)
    return out.astype(np.float32)


def resize_network(x: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Resize a (1, 3, H, W) image in network units (to warm-start the next scale)."""
    rgb = (np.transpose(x[0] + _MEAN[0], (1, 2, 0)) / 255.0).astype(np.float32)
    return to_network(np.clip(resize(rgb, shape), 0.0, 1.0))


def keep_colors(stylized: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Luminance of ``stylized`` with the chroma of ``content`` (both (H, W, 3) uint8), in
    YCbCr: --original-colors (Gatys et al., "Preserving Color in Neural Artistic Style
    Transfer", 2016, luminance-only transfer)."""
    from skimage.color import rgb2ycbcr, ycbcr2rgb

    if content.shape != stylized.shape:
        h, w = stylized.shape[:2]
        content = resize(content.astype(np.float32) / 255.0, (h, w)) * 255.0
    y = rgb2ycbcr(stylized)
    y[..., 1:] = rgb2ycbcr(np.asarray(content, dtype=np.float64) / 255.0)[..., 1:]
    return np.clip(np.rint(ycbcr2rgb(y) * 255.0), 0, 255).astype(np.uint8)


def to_network(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) in [0, 1] -> (1, 3, H, W) float32, [0, 255] minus the mean.

    The example scaled by 256; 255 is the range the VGG weights were trained on.
    """
    chw = np.transpose(rgb, (2, 0, 1))[None].astype(np.float32) * 255.0
    return chw - _MEAN


def from_network(x: np.ndarray) -> np.ndarray:
    """(1, 3, H, W) network units -> (H, W, 3) uint8, rounded and clipped."""
    rgb = np.transpose(x[0] + _MEAN[0], (1, 2, 0))
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
