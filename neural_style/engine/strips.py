"""Image-sized work in strips, so the tiled path never holds a float copy of the output.

The tiled path (:mod:`.tiled`) keeps three things as big as the picture: the image being
optimised (float16, :data:`CANVAS_DTYPE`), the content and the style (their loaded pixels
as uint8, resampled window by window, :class:`Resampled`), and at the end the uint8
output. Everything else (resizing, the upsampled start, colours, denoising) is made one
strip or one window at a time, with enough margin to give what the whole-image operation
gives:

- :func:`resize_region` is scikit-image's ``resize(order=1, mode="reflect",
  anti_aliasing=True)`` (the one :func:`.pixels.resize` calls) rebuilt from the same
  scipy.ndimage steps, a Gaussian prefilter of sigma ``(factor - 1) / 2`` and linear
  interpolation at ``(i + 0.5) * factor - 0.5``, evaluated on a window of the output
  only: the source is cut with the filter's radius plus the interpolation's two pixels
  around the window, so the result equals the whole-image one up to float rounding
  (a property test checks 1e-5 on [0, 1]).
- :func:`finish_strips` is :func:`neural_style.api.finish` by rows: the Gaussian denoiser
  with its radius as margin is exact; TV-Chambolle is iterative over the whole image
  and stops on a whole-image criterion, so strips with a margin of
  :data:`.denoise.TV_MARGIN` agree within one 8-bit level (a test states it).

Why float16 for the image: outputs are 8-bit, and float16 holds network units (pixel
values minus the ImageNet mean, |x| < 256 for every value that is not clipped away)
to within 1/16 of a level (spacing 1/8 from 128 to 256, finer below). Each tile is
optimised in float32 in its graph; only the image between tiles is stored in float16,
so rounding happens once per paste, not per step.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator, Optional, Tuple

import numpy as np

from .pixels import _MEAN

#: How the tiled path stores the image between tiles (see the module's docstring).
CANVAS_DTYPE = np.float16
#: Pixels handled at once by the strip-wise operations (a strip of float64 RGB: 6 MB),
#: whatever the image's size.
STRIP_PIXELS = 2**18

Range = Tuple[int, int]


def strips(length: int, width: int, rows: Optional[int] = None) -> Iterator[Range]:
    """Row ranges over ``length`` rows of ``width`` pixels, :data:`STRIP_PIXELS` at a
    time (or ``rows`` rows)."""
    step = rows or max(1, STRIP_PIXELS // max(1, width))
    for start in range(0, length, step):
        yield start, min(length, start + step)


def _axis(n_in: int, n_out: int, span: Range) -> Tuple[float, float, Range, float]:
    """For output positions ``span`` along an axis resized from ``n_in`` to ``n_out``:
    the factor, the prefilter's sigma, the source range to read and the source
    coordinate (relative to that range) of the span's first position."""
    factor = n_in / n_out
    sigma = max(0.0, (factor - 1) / 2) if factor > 1 else 0.0
    radius = int(4.0 * sigma + 0.5)  # scipy's gaussian_filter, truncate=4
    first = (span[0] + 0.5) * factor - 0.5
    last = (span[1] - 0.5) * factor - 0.5
    start = max(0, math.floor(first) - radius - 1)
    stop = min(n_in, math.ceil(last) + radius + 2)
    return factor, sigma, (start, stop), first - start


def resize_plane(plane: np.ndarray, shape: Tuple[int, int], rows: Range, cols: Range) -> np.ndarray:
    """The window ``rows`` x ``cols`` of ``plane`` (2-D, any real dtype, values as they
    are) resized to ``shape``, as float32."""
    from scipy import ndimage as ndi

    fr, sr, (r0, r1), orow = _axis(plane.shape[0], shape[0], rows)
    fc, sc, (c0, c1), ocol = _axis(plane.shape[1], shape[1], cols)
    part = np.asarray(plane[r0:r1, c0:c1], dtype=np.float32)
    if sr > 0 or sc > 0:
        # the whole-image filter sees mirrored pixels only at the image's own edges; the
        # cut is wide enough that its inner edges are never reached
        part = ndi.gaussian_filter(part, (sr, sc), mode="mirror")
    return ndi.affine_transform(
        part,
        (fr, fc),
        offset=(orow, ocol),
        output_shape=(rows[1] - rows[0], cols[1] - cols[0]),
        order=1,
        mode="mirror",
    )


def resize_region(rgb: np.ndarray, shape: Tuple[int, int], rows: Range, cols: Range) -> np.ndarray:
    """(h, w, C) float32: the window of ``rgb`` ((H, W, C)) resized to ``shape``, as
    :func:`.pixels.resize` gives it for the whole image (values as they are: a uint8
    source gives [0, 255])."""
    out = np.empty((rows[1] - rows[0], cols[1] - cols[0], rgb.shape[2]), dtype=np.float32)
    for c in range(rgb.shape[2]):
        out[..., c] = resize_plane(rgb[..., c], shape, rows, cols)
    lo, hi = _range(rgb)
    return np.clip(out, lo, hi, out=out)  # scikit-image clips to the input's range


def _range(rgb: np.ndarray) -> Tuple[float, float]:
    if rgb.dtype == np.uint8:
        return 0.0, 255.0
    return 0.0, 1.0


def compact(rgb: np.ndarray) -> np.ndarray:
    """An (H, W, 3) [0, 1] float image as uint8 (exact for pixels read from 8-bit files;
    within half a level otherwise), the form the tiled path keeps its inputs in."""
    if rgb.dtype == np.uint8:
        return rgb
    out = np.empty(rgb.shape, dtype=np.uint8)
    for r0, r1 in strips(rgb.shape[0], rgb.shape[1]):
        out[r0:r1] = np.rint(np.clip(rgb[r0:r1], 0.0, 1.0) * 255.0)
    return out


class Resampled:
    """An image (uint8 (H, W, 3), as loaded) seen at another ``shape``, one window at a
    time: nothing of the output's size is ever made."""

    def __init__(self, source: np.ndarray, shape: Tuple[int, int]) -> None:
        self.source = compact(source)
        self.shape = (int(shape[0]), int(shape[1]))

    def window(self, rows: Range, cols: Range) -> np.ndarray:
        """(h, w, 3) float32 in [0, 1]."""
        if self.source.shape[:2] == self.shape:
            part = self.source[rows[0] : rows[1], cols[0] : cols[1]].astype(np.float32)
        else:
            part = resize_region(self.source, self.shape, rows, cols)
        part *= np.float32(1 / 255)
        return part

    def whole(self) -> np.ndarray:
        return self.window((0, self.shape[0]), (0, self.shape[1]))

    def network_window(self, rows: Range, cols: Range) -> np.ndarray:
        from .pixels import to_network

        return to_network(self.window(rows, cols))


def upsample(x: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """:func:`.pixels.resize_network` into a float16 canvas, strip by strip: ``x``
    ((1, 3, h, w), network units, any float dtype) resized to ``shape`` and clipped to
    the pixel range."""
    out = np.empty((1, 3) + tuple(shape), dtype=CANVAS_DTYPE)
    mean = _MEAN[0, :, 0, 0]
    for r0, r1 in strips(shape[0], shape[1]):
        for c in range(3):
            plane = resize_plane(x[0, c], shape, (r0, r1), (0, shape[1]))
            plane += mean[c]
            np.clip(plane, 0.0, 255.0, out=plane)
            plane -= mean[c]
            out[0, c, r0:r1] = plane
    return out


def to_canvas(x: np.ndarray) -> np.ndarray:
    """``x`` (network units) as a float16 canvas, strip by strip."""
    out = np.empty(x.shape, dtype=CANVAS_DTYPE)
    for r0, r1 in strips(x.shape[2], x.shape[3]):
        out[:, :, r0:r1] = x[:, :, r0:r1]
    return out


def square_norm(x: np.ndarray) -> float:
    """Σ x² in float64, strip by strip (float16 would overflow; no float copy of ``x``)."""
    total = 0.0
    for r0, r1 in strips(x.shape[2], x.shape[3]):
        part = x[:, :, r0:r1].astype(np.float64)
        total += float(np.vdot(part, part))
    return total


def finish_strips(
    x: np.ndarray,
    finish: Callable[[np.ndarray, Optional[np.ndarray]], np.ndarray],
    margin: int,
    content: Optional[Resampled],
    rows: Optional[int] = None,
) -> np.ndarray:
    """``finish(x_strip, content_strip_uint8)`` (network units -> uint8 image) applied
    strip by strip (``rows`` rows, or :data:`STRIP_PIXELS`) with ``margin`` rows of
    context on each side, into one uint8 image. ``content``: passed (as uint8 at ``x``'s
    size) only when given."""
    h, w = x.shape[2], x.shape[3]
    out = np.empty((h, w, 3), dtype=np.uint8)
    for r0, r1 in strips(h, w, rows):
        a, b = max(0, r0 - margin), min(h, r1 + margin)
        part = np.asarray(x[:, :, a:b], dtype=np.float32)
        content_part = (
            None
            if content is None
            else np.rint(content.window((a, b), (0, w)) * 255.0).astype(np.uint8)
        )
        out[r0:r1] = finish(part, content_part)[r0 - a : r1 - a]
    return out


def tv_strips(view: Resampled, rows: Optional[int] = None) -> float:
    """:func:`.losses.tv_value` of the whole of ``view`` (the TV term at weight 1: half the
    sum of each pixel times its Laplacian / 8, zero beyond the border), strip by strip
    (of ``rows`` rows, by default :data:`STRIP_PIXELS`) with one row of context, in
    float64."""
    h, w = view.shape
    total = 0.0
    for r0, r1 in strips(h, w, rows):
        a, b = max(0, r0 - 1), min(h, r1 + 1)
        x = view.network_window((a, b), (0, w))[0].astype(np.float64)
        # zero rows beyond the image, zero columns at both sides
        x = np.pad(x, ((0, 0), (int(a == r0), int(b == r1)), (1, 1)))
        centre = x[:, 1:-1, 1:-1]
        laplacian = 4 * centre - x[:, :-2, 1:-1] - x[:, 2:, 1:-1] - x[:, 1:-1, :-2] - x[:, 1:-1, 2:]
        total += float(np.sum(centre * laplacian))
    return 0.5 * total / 8.0
