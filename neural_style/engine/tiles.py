"""Tiles for optimising an image larger than the graph that fits in memory: pure
geometry and blending (no MXNet here; the driver is :mod:`.tiled`).

Along each axis the image is cut into *cores* that partition it. A tile's *blend*
region is its core widened by ``overlap`` on each inner side; its *window* (what the
network sees: at most ``window`` pixels long, only what its core needs) holds
the blend region plus at least ``margin`` pixels of context on each inner side. The
window is slid inside the image rather than padded, so every window of a scale has
the same shape and one bound graph serves them all.

Blending weights are a partition of unity by construction: at each cut ``c`` a ramp
``s_c`` rises from 0 to 1 across ``[c - overlap, c + overlap]``, and the tile between
cuts ``c_j`` and ``c_j+1`` weighs ``s_cj - s_cj+1`` (telescoping, so the tiles' weights
sum to one at every pixel; 2-D weights are products of the 1-D ones).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .vgg import VGGSpec

#: VGG19 pools four times before relu5_1: feature positions are 16 pixels apart there.
ALIGN = 16

Range = Tuple[int, int]  # [start, stop) in pixels


@dataclass(frozen=True)
class Span:
    """One tile along one axis."""

    core: Range  # the pixels this tile owns (the cores partition the axis)
    blend: Range  # the core widened by the overlap: where the tile's update is pasted
    window: Range  # what the network sees: blend plus context

    @property
    def size(self) -> int:
        return self.window[1] - self.window[0]


def guard(margin: int, overlap: int) -> int:
    """Pixels a window needs beyond its core on each inner side."""
    return margin + overlap


def smallest_tile(margin: int, overlap: int) -> int:
    """The smallest window (``--tile``): an :data:`ALIGN`-pixel core with ``margin`` and
    ``overlap`` on both sides."""
    return 2 * guard(margin, overlap) + ALIGN


def fitting_guard(window: int, margin: int, overlap: int) -> Optional[Tuple[int, int]]:
    """The largest (margin, overlap), each at most the given one and in their proportion,
    that a ``window``-pixel tile holds (:func:`smallest_tile`); None if even (0, 0) does
    not fit."""
    most = (window - ALIGN) // 2  # margin + overlap
    if most < 0:
        return None
    if margin + overlap <= most:
        return margin, overlap
    smaller = margin * most // (margin + overlap)
    return smaller, most - smaller


def spans(length: int, window: int, margin: int, overlap: int) -> List[Span]:
    """The tiles along an axis of ``length`` pixels: the fewest windows that fit.

    Windows are at most ``window`` long and shrink to what the cores need (rounded up
    to :data:`ALIGN`): the cores split the length evenly, so a length just over a whole
    number of cores does not pay for whole windows (2048 px in windows of up to 512, with
    ``margin`` and ``overlap`` 16: five of 464 rather than 512, 1.13 times the pixels
    rather than 1.25). Every sweep uses these tiles: a tile's optimiser state is kept
    between its visits (:mod:`.tiled`), and one graph serves the whole size.
    """
    if length <= window:
        return [Span((0, length), (0, length), (0, length))]
    g = guard(margin, overlap)
    if window - 2 * g < 1:
        raise ValueError(
            f"a window of {window} pixels leaves no core with a margin of "
            f"{margin} and an overlap of {overlap}"
        )
    inner = length - 2 * g  # the edge tiles need no context beyond the image
    count = math.ceil(inner / (window - 2 * g))
    window = min(window, ALIGN * math.ceil((math.ceil(inner / count) + 2 * g) / ALIGN))
    cuts = [0] + [g + j * inner // count for j in range(1, count)] + [length]
    out = []
    for a, b in zip(cuts, cuts[1:]):
        start = min(max(0, (a + b) // 2 - window // 2), length - window)
        out.append(
            Span((a, b), (max(0, a - overlap), min(length, b + overlap)), (start, start + window))
        )
    return out


def _step(x: np.ndarray, cut: int, overlap: int) -> np.ndarray:
    """0 before ``cut``, 1 after it, a linear ramp over ``overlap`` pixels on each side
    (measured at pixel centres)."""
    if overlap == 0:
        return (x + 0.5 >= cut).astype(np.float64)
    return np.clip((x + 0.5 - cut) / (2 * overlap) + 0.5, 0.0, 1.0)


def span_weights(span: Span, length: int, overlap: int, hold: bool = False) -> np.ndarray:
    """The 1-D weights over the span's window, zero outside its blend region: the
    blending weights, or with ``hold`` the weights with which the span's update is pasted
    when the spans are visited in order along the axis, each from the image as the ones
    before it left it (``image += p * (result - image)``).

    The blending weights ramp over the whole ``2 * overlap`` pixels on both sides and sum
    to one over the spans. Held, the update is pasted with the blending weight s towards
    the span before it, and towards the span after it is pasted whole up to the cut and
    fades out over the far half of the ramp, so that the next span starts from it there.
    Between two spans, the image is then, after both, the first's result before the ramp,
    the second's after it, and across the ramp ``s`` of the second's result and the rest
    the first's, except over the far half, where ``(2s - 1)(1 - s)`` of it is the image as
    it was before either (at most 1/8, three quarters across the ramp; 0.142 where four
    tiles meet: property tests).

    Held departs from pasting with the blending weights both ways (as this package did
    first): that left ``s (1 - s)`` of the image before the sweep across the whole ramp, a
    quarter on the boundary and 0.316 where four tiles meet, and the first sweep at a
    size starts from the upsampled composition, without fine texture, so every ramp came
    out softer than the image (VGG19, 4 sweeps of 10 epochs, 384 px in tiles of 192:
    boundaries 0.70 to 0.88 of the lines just outside their ramps; held 0.88 to 1.06).
    Two variants that leave nothing of the start made the boundaries sharper: the next
    span fading in over the near half only, the first fading out over the far half (1.08
    to 1.20 at 768 px in tiles of 256, against 1.01 to 1.13 held), and the first pasted
    whole to the end of its blend region, which leaves a step there to the image not yet
    visited (1.97 at 2048 px).
    """
    x = np.arange(span.window[0], span.window[1], dtype=np.float64)
    rise = np.ones_like(x) if span.core[0] == 0 else _step(x, span.core[0], overlap)
    fall = np.zeros_like(x) if span.core[1] == length else _step(x, span.core[1], overlap)
    if hold:  # zero beyond the blend region already: rise before it, 1 - fall after it
        return rise * np.minimum(1.0, 2 * (1 - fall))
    return rise - fall  # not rise * (1 - fall): a core can be shorter than a ramp


@dataclass(frozen=True)
class Tile:
    rows: Span
    cols: Span

    @property
    def window(self) -> Tuple[slice, slice]:
        return slice(*self.rows.window), slice(*self.cols.window)

    @property
    def shape(self) -> Tuple[int, int]:
        return self.rows.size, self.cols.size

    def weights(self, shape: Tuple[int, int], overlap: int, hold: bool = False) -> np.ndarray:
        """(h, w) weights over the window: the blending weights, or with ``hold`` the
        paste weights for tiles visited row by row, as :func:`grid` lists them
        (:func:`span_weights` on each axis)."""
        return np.outer(
            span_weights(self.rows, shape[0], overlap, hold),
            span_weights(self.cols, shape[1], overlap, hold),
        )

    def blend_mask(self) -> np.ndarray:
        """(h, w): 1 on the blend region, 0 on the context around it (whose gradient is
        discarded: the context is read, never written)."""
        mask = np.zeros(self.shape, dtype=np.float32)
        (r0, r1), (c0, c1) = self.rows.blend, self.cols.blend
        mask[
            r0 - self.rows.window[0] : r1 - self.rows.window[0],
            c0 - self.cols.window[0] : c1 - self.cols.window[0],
        ] = 1.0
        return mask


def grid(
    shape: Tuple[int, int],
    window: int,
    margin: int,
    overlap: int,
) -> List[Tile]:
    """Every tile of an image of ``shape`` (H, W), row by row."""
    rows = spans(shape[0], window, margin, overlap)
    cols = spans(shape[1], window, margin, overlap)
    return [Tile(r, c) for r in rows for c in cols]


def weight_sum(shape: Tuple[int, int], tiles: Sequence[Tile], overlap: int) -> np.ndarray:
    """Σ of the tiles' weights at each pixel (one everywhere: for tests and checks)."""
    total = np.zeros(shape)
    for tile in tiles:
        total[tile.window] += tile.weights(shape, overlap)
    return total


# ---- exact Gram matrices of a big image, from windows --------------------------------------


def receptive_field(spec: VGGSpec, layer: str) -> int:
    """The receptive field, in pixels, of one position of ``layer`` (3x3 convolutions,
    2x2 pools of stride 2)."""
    field, jump = 1, 1
    for conv in spec.layers_up_to([layer]):
        if conv.pool_before:
            field, jump = field + jump, jump * 2
        field += 2 * jump
    return field


def context_margin(spec: VGGSpec, layers: Sequence[str]) -> int:
    """Pixels of context beyond which a window's zero padding cannot reach ``layers``'
    features: half the deepest receptive field, rounded up to :data:`ALIGN`."""
    half = max(receptive_field(spec, layer) for layer in layers) // 2
    return ALIGN * math.ceil(half / ALIGN)


def aligned_spans(length: int, window: int, margin: int) -> List[Span]:
    """Cores of a multiple of :data:`ALIGN` pixels (but the last), each seen
    with at least ``margin`` pixels of context (clipped at the image): the features of a
    core's pixels in its window are then exactly those of the whole image, if ``margin``
    is at least :func:`context_margin`. Windows start on multiples of ALIGN, so pooling
    grids agree, and have one length (core + 2 margin), except the last, which ends at
    the image (at most ALIGN - 1 pixels longer): few shapes, few bindings.

    The first and last windows need context on their inner side only, so their cores are
    a margin longer than the others', and the last window takes every core it can see:
    no two windows are the same (768 px in windows of 512 with a margin of 80: two
    windows; before, three, of which the last two were the same window)."""
    m = ALIGN * math.ceil(margin / ALIGN)
    core = max(ALIGN, (window - 2 * m) // ALIGN * ALIGN)
    size = core + 2 * m
    last = (length - size) // ALIGN * ALIGN  # where the last window starts
    if last <= 0:  # one window, at most ALIGN - 1 pixels longer than the others would be
        return [Span((0, length), (0, length), (0, length))]
    cut = (size - m) // ALIGN * ALIGN
    out = [Span((0, cut), (0, cut), (0, size))]
    while cut < last + m:  # the last window cannot yet see this core with its margin
        out.append(Span((cut, cut + core), (cut, cut + core), (cut - m, cut - m + size)))
        cut += core
    out.append(Span((cut, length), (cut, length), (last, length)))
    return out


def feature_core(span: Span, stride: int) -> slice:
    """The positions of ``span``'s core in a feature map of its window at ``stride``."""
    start = (span.core[0] - span.window[0]) // stride
    stop = (span.core[1] - span.window[0]) // stride
    return slice(start, stop)


def layer_strides(spec: VGGSpec, layers: Sequence[str]) -> List[int]:
    """How many pixels apart each layer's positions are (2 ** pools before it)."""
    out = []
    for layer in layers:
        pools = sum(conv.pool_before for conv in spec.layers_up_to([layer]))
        out.append(2**pools)
    return out


# ---- seams --------------------------------------------------------------------------------


def cuts(tiles: Sequence[Tile]) -> Tuple[List[int], List[int]]:
    """The interior core boundaries (rows, columns) of a grid."""
    rows = sorted({t.rows.core[0] for t in tiles if t.rows.core[0] > 0})
    cols = sorted({t.cols.core[0] for t in tiles if t.cols.core[0] > 0})
    return rows, cols


def _line_diffs(image: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Mean |difference| between neighbouring rows (``dy[i]``: rows i and i + 1) and
    columns of ``image`` ((H, W, C)), float64, a strip at a time."""
    h, w = image.shape[:2]
    dy = np.zeros(max(0, h - 1))
    dx = np.zeros(max(0, w - 1))
    step = max(1, 2**18 // max(1, w))
    for r0 in range(0, h, step):
        part = np.asarray(image[r0 : min(h, r0 + step + 1)], dtype=np.float64)
        dy[r0 : r0 + part.shape[0] - 1] = np.abs(np.diff(part, axis=0)).mean(axis=(1, 2))
        dx += np.abs(np.diff(part[: min(step, h - r0)], axis=1)).sum(axis=(0, 2))
    return dy, dx / max(1, h * image.shape[2])


def seam_ratios(image: np.ndarray, rows: Sequence[int], cols: Sequence[int]) -> List[float]:
    """For each boundary: the mean gradient magnitude of ``image`` ((H, W, C)) across it
    (the differences between the two pixel rows or columns that meet there) over the mean
    of the same differences everywhere else. 1 means no seam; but a boundary over a
    busy part of the picture (buildings, not sky) is above 1 without any seam: see
    :func:`local_seam_ratios` for the measure with the content controlled."""
    dy, dx = _line_diffs(image)
    out = []
    for diffs, boundaries in ((dy, rows), (dx, cols)):
        at = np.zeros(len(diffs), dtype=bool)
        at[[b - 1 for b in boundaries]] = True
        rest = diffs[~at].mean()
        out += [float(diffs[b - 1] / rest) for b in boundaries]
    return out


def band_profiles(
    image: np.ndarray, rows: Sequence[int], cols: Sequence[int], overlap: int, band: int = 8
) -> np.ndarray:
    """(boundaries, 2 overlap + 1): for each boundary (the rows, then the columns), the
    mean gradient magnitude of ``image`` ((H, W, C)) across each line of its blend ramp,
    at ``-overlap`` to ``overlap`` pixels from it, over its mean across the ``2 band``
    parallel lines just outside the ramp (``overlap + 1`` to ``overlap + band`` pixels
    away on either side; NaN for a line off the image). 1 everywhere means no seam.

    A seam need not lie on the boundary: a blend that pastes a tile's whole update up to
    the edge of its blend region leaves a line there, at ``+overlap`` (tried: 1.97 there
    at 2048x1536 while the boundary itself read 1.00), and one that fades two textures
    into each other leaves the whole ramp smoother than its surroundings.
    """
    dy, dx = _line_diffs(image)
    out = []
    for diffs, boundaries in ((dy, rows), (dx, cols)):
        for b in boundaries:
            near = [
                b - 1 + sign * k
                for k in range(overlap + 1, overlap + band + 1)
                for sign in (-1, 1)
                if 0 <= b - 1 + sign * k < len(diffs)
            ]
            ref = diffs[near].mean()
            at = range(b - 1 - overlap, b + overlap)
            out.append([diffs[i] / ref if 0 <= i < len(diffs) else np.nan for i in at])
    return np.array(out, dtype=np.float64).reshape(len(out), 2 * overlap + 1)


def local_seam_ratios(
    image: np.ndarray, rows: Sequence[int], cols: Sequence[int], overlap: int, band: int = 8
) -> List[float]:
    """For each boundary: the mean gradient magnitude of ``image`` ((H, W, C)) across it
    over its mean across the ``2 band`` parallel lines just outside the blend ramp
    (``overlap + 1`` to ``overlap + band`` pixels away on either side). The lines compared
    cross the same objects, so the content is controlled: a boundary along a skyline is
    compared with lines along that skyline, not with the sky. 1 means no seam; a tile
    mismatch of d levels feathered over the ramp adds about d / (2 overlap) at the line.
    The middle of :func:`band_profiles`, which also sees a seam beside the boundary."""
    return [float(p[overlap]) for p in band_profiles(image, rows, cols, overlap, band)]
