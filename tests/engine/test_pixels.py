"""The network's view of an image: layout, mean, resizing, colours."""

from __future__ import annotations

import numpy as np
import pytest

from neural_style.engine.pixels import fit_long_edge, from_network, resize, to_network
from neural_style.engine.vgg import RGB_MEAN


def test_network_round_trip() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, size=(5, 7, 3)).astype(np.uint8)
    x = to_network(rgb.astype(np.float32) / 255.0)
    assert x.shape == (1, 3, 5, 7) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, :, 0, 0], rgb[0, 0] - np.array(RGB_MEAN), atol=1e-3)
    np.testing.assert_array_equal(from_network(x), rgb)


def test_from_network_clips() -> None:
    x = np.full((1, 3, 2, 2), 1000.0, dtype=np.float32)
    assert from_network(x).max() == 255
    assert from_network(-x).min() == 0


@pytest.mark.parametrize(
    "shape, edge, want",
    [((300, 451), 600, (399, 600)), ((300, 451), 128, (85, 128)), ((640, 480), 64, (64, 48))],
)
def test_fit_long_edge(shape: tuple, edge: int, want: tuple) -> None:
    assert fit_long_edge(shape, edge) == want


def test_resize_shape_and_range() -> None:
    rgb = np.random.default_rng(1).random((30, 40, 3)).astype(np.float32)
    out = resize(rgb, (15, 20))
    assert out.shape == (15, 20, 3) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
