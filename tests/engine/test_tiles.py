"""Tile geometry and blending (engine/tiles.py): cover, overlap, weights, receptive
field, the aligned windows of the style targets, and the seam measure."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_style.engine import tiles

PRIMES = [2, 3, 17, 97, 101, 257, 509, 1021, 2053]


@st.composite
def axes(draw: Any) -> Dict[str, int]:
    margin = draw(st.integers(0, 40))
    overlap = draw(st.integers(0, 40))
    window = draw(st.integers(2 * (margin + overlap) + 16, 700))
    length = draw(st.one_of(st.sampled_from(PRIMES), st.integers(1, 6000)))
    return dict(length=length, window=window, margin=margin, overlap=overlap)


@settings(max_examples=300, deadline=None)
@given(axes())
def test_spans_cover_the_axis_exactly_with_the_stated_overlap_and_margin(a: Dict[str, int]) -> None:
    length, window, margin, overlap = a["length"], a["window"], a["margin"], a["overlap"]
    out = tiles.spans(length, window, margin, overlap)
    cores = [s.core for s in out]
    assert cores[0][0] == 0 and cores[-1][1] == length
    assert all(c[0] < c[1] for c in cores)
    assert all(p[1] == n[0] for p, n in zip(cores, cores[1:]))  # a partition
    # one window shape for the whole axis, at most the window, and no longer than the
    # longest core and its guard need (rounded up to the alignment)
    assert len({s.size for s in out}) == 1
    # each core with the guard on its inner sides (an edge core has one)
    g = tiles.guard(margin, overlap)
    longest = max(c[1] - c[0] + g * ((c[0] > 0) + (c[1] < length)) for c in cores)
    need = tiles.ALIGN * -(-longest // tiles.ALIGN)
    assert out[0].size == length if length <= window else out[0].size <= min(window, need)
    for s in out:
        assert 0 <= s.window[0] and s.window[1] <= length
        assert (
            s.blend == (max(0, s.core[0] - overlap), min(length, s.core[1] + overlap))
            or len(out) == 1
        )
        # the context: at least the margin beyond the blend region, unless at the image edge
        assert s.window[0] <= max(0, s.blend[0] - margin)
        assert s.window[1] >= min(length, s.blend[1] + margin)


def test_windows_shrink_to_their_cores() -> None:
    """1024 px in windows of up to 512 with 32 px of guard each side: 960 px between the
    outer guards in three parts of 320 (cores of 352, 320, 352; windows of 384, not 512:
    1.13 times the pixels, not 1.5)."""
    out = tiles.spans(1024, 512, 16, 16)
    assert len(out) == 3
    assert out[0].size == 16 * -(-(-(-960 // 3) + 64) // 16) == 384
    assert tiles.spans(4096, 512, 16, 16)[0].size == 512  # 9 cores of 448 need it all


@settings(max_examples=150, deadline=None)
@given(axes(), st.integers(1, 400), st.floats(0.01, 100))
def test_blending_weights_sum_to_one_everywhere(
    a: Dict[str, int], short: int, aspect: float
) -> None:
    length = min(a["length"], 3000)
    shape = (max(1, min(3000, int(length / aspect))), length) if aspect > 1 else (length, short)
    grid = tiles.grid(shape, a["window"], a["margin"], a["overlap"])
    total = tiles.weight_sum(shape, grid, a["overlap"])
    np.testing.assert_allclose(total, 1.0, atol=1e-9)
    for tile in grid:
        w = tile.weights(shape, a["overlap"])
        assert w.min() >= 0
        assert np.all(w[tile.blend_mask() == 0] == 0)  # nothing pasted from the context


def _paste_in_order(grid: Any, shape: Any, overlap: int, start: np.ndarray, results: Any) -> Any:
    image = start.copy()
    for tile, result in zip(grid, results):
        pasted = tile.weights(shape, overlap, hold=True)
        image[tile.window] += pasted * (result - image[tile.window])
    return image


@settings(max_examples=60, deadline=None)
@given(axes(), st.integers(1, 400), st.integers(0, 2**32 - 1))
def test_pasting_in_order_keeps_little_of_the_start(
    a: Dict[str, int], height: int, seed: int
) -> None:
    """Tiles pasted row by row, each from the image as the ones before it left it: the
    image after the last is a mix of the tiles' results and at most 0.142 of the image
    before the first (where four tiles meet; pasted with the blending weights, 0.316),
    with the weights in [0, 1], none on a tile's context."""
    shape = (height, min(a["length"], 1000))
    overlap = a["overlap"]
    grid = tiles.grid(shape, a["window"], a["margin"], overlap)
    rng = np.random.default_rng(seed)
    # what is left of a start of ones when every tile's result is zero
    left = _paste_in_order(grid, shape, overlap, np.ones(shape), [np.zeros(t.shape) for t in grid])
    assert left.min() >= 0 and left.max() <= 0.142, left.max()
    # linear in the start and the results: a random start and results, and the parts
    start, results = rng.random(shape), [rng.random(t.shape) for t in grid]
    mixed = _paste_in_order(grid, shape, overlap, start, results)
    without = _paste_in_order(grid, shape, overlap, np.zeros(shape), results)
    np.testing.assert_allclose(mixed, without + left * start, rtol=0, atol=1e-9)
    for tile in grid:
        p = tile.weights(shape, overlap, hold=True)
        assert p.min() >= 0 and p.max() <= 1
        assert np.all(p[tile.blend_mask() == 0] == 0)  # nothing pasted from the context


def test_two_tiles_blend_over_the_whole_ramp() -> None:
    """Two tiles side by side: left of the ramp the first's result, right of it the
    second's, across it s of the second's and the rest the first's, except (2s - 1)(1 - s)
    of the start over the far half (at most 1/8); pasted with the blending weights
    instead, a quarter of the start stays on the cut."""
    shape = (40, 100)
    grid = tiles.grid(shape, 80, 8, 8)
    assert len(grid) == 2
    cut = grid[1].cols.core[0]
    results = [np.full(t.shape, 10.0 * (i + 1)) for i, t in enumerate(grid)]
    start = 1000.0
    image = _paste_in_order(grid, shape, 8, np.full(shape, start), results)[0]
    np.testing.assert_allclose(image[: cut - 8], 10.0)
    np.testing.assert_allclose(image[cut + 8 :], 20.0)
    s = (np.arange(cut - 8, cut + 8) + 0.5 - cut) / 16 + 0.5
    kept = np.where(s > 0.5, (2 * s - 1) * (1 - s), 0.0)
    expected = (1 - s - kept) * 10 + s * 20 + kept * start
    np.testing.assert_allclose(image[cut - 8 : cut + 8], expected)
    assert kept.max() <= 1 / 8 and kept[:8].max() == 0
    naive = np.ones(shape)
    for tile in grid:
        naive[tile.window] -= tile.weights(shape, 8) * naive[tile.window]
    assert naive[0, cut - 1] == naive[0, cut] == 0.25 - 1 / 1024  # s = 1/2 -+ 1/32


def test_a_tile_smaller_than_the_window_is_the_whole_image() -> None:
    grid = tiles.grid((20, 33), 64, 8, 8)
    assert len(grid) == 1 and grid[0].shape == (20, 33)
    np.testing.assert_array_equal(grid[0].weights((20, 33), 8), 1.0)
    np.testing.assert_array_equal(grid[0].weights((20, 33), 8, hold=True), 1.0)


def test_receptive_field_of_vgg19() -> None:
    from neural_style.engine.vgg import VGG19

    assert tiles.receptive_field(VGG19, "relu1_1") == 3
    # 1 + 2·2 (block 1) + 1 + 2·2·2 + 2 + 4·2·4 + 4 + 4·2·8 + 8 + 2·16 (conv5_1)
    assert tiles.receptive_field(VGG19, "relu5_1") == 156
    assert tiles.context_margin(VGG19, ["relu5_1"]) == 80


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3000), st.integers(32, 600), st.sampled_from([0, 16, 48, 80]))
def test_aligned_spans_partition_on_the_pooling_grid(length: int, window: int, margin: int) -> None:
    out = tiles.aligned_spans(length, window, margin)
    assert out[0].core[0] == 0 and out[-1].core[1] == length
    assert all(p.core[1] == n.core[0] for p, n in zip(out, out[1:]))
    for s in out:
        assert s.window[0] % tiles.ALIGN == 0 and s.core[0] % tiles.ALIGN == 0
        assert s.window[0] <= max(0, s.core[0] - margin)
        assert s.window[1] >= min(length, s.core[1] + margin)
    assert len({s.size for s in out}) <= 2
    assert all(p.window[0] < n.window[0] for p, n in zip(out, out[1:]))  # no window twice


def test_aligned_spans_use_the_free_side_of_the_edge_windows() -> None:
    # the edge windows need context on one side only: 768 px in windows of 512 with the
    # margin of relu5_1 (80) take two windows, 1024 px three
    assert [s.window for s in tiles.aligned_spans(768, 512, 80)] == [(0, 512), (256, 768)]
    assert len(tiles.aligned_spans(1024, 512, 80)) == 3


def test_the_seam_measure_sees_a_seam() -> None:
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (64, 64, 3))
    image[:, 32:] += 0.2  # a step at column 32
    assert tiles.seam_ratios(image, [], [32])[0] > 1.1
    assert abs(tiles.seam_ratios(image, [], [20])[0] - 1) < 0.1


def test_the_band_profile_sees_a_seam_beside_the_boundary() -> None:
    """A step where a tile's blend region ends (column 40 + 8) is missed by the measure on
    the boundary and seen by the profile across the ramp; plain noise is flat."""
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (400, 96, 3))
    flat = tiles.band_profiles(image, [200], [40], 8)
    assert flat.shape == (2, 17)
    assert np.all(np.abs(flat - 1) < 0.1)
    image[:, 48:] += 0.6
    profile = tiles.band_profiles(image, [], [40], 8)[0]
    assert (
        abs(profile[8] - 1) < 0.1 and tiles.local_seam_ratios(image, [], [40], 8)[0] == profile[8]
    )
    assert profile[16] > 1.3  # the line between columns 47 and 48
    assert np.all(np.abs(profile[:16] - 1) < 0.1)
    assert np.isnan(tiles.band_profiles(image[:, :48], [], [40], 8)[0][-1])  # off the image


@settings(max_examples=200, deadline=None)
@given(window=st.integers(0, 3000), margin=st.integers(0, 1024), overlap=st.integers(0, 1024))
def test_fitting_guard_is_the_most_a_tile_holds(window: int, margin: int, overlap: int) -> None:
    """The margin and overlap a tile error suggests: each at most the given one, and the
    tile holds them with one more pixel of either it would not (when it had to lower)."""
    fits = tiles.fitting_guard(window, margin, overlap)
    if window < tiles.ALIGN:
        assert fits is None
        return
    assert fits is not None
    m, o = fits
    assert 0 <= m <= margin and 0 <= o <= overlap
    assert tiles.smallest_tile(m, o) <= window
    if (m, o) != (margin, overlap):
        assert tiles.smallest_tile(m + 1, o) > window and tiles.smallest_tile(m, o + 1) > window
