from __future__ import annotations

import numpy as np
import pytest

from neural_style._mxnet import mx
from neural_style.engine.losses import TVSmoothing
from tests.reference import conv3x3


def tv_energy(x: np.ndarray) -> float:
    """Σ over neighbouring pixel pairs of squared differences, the border as zeros."""
    p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    return float(np.sum(np.diff(p, axis=2) ** 2) + np.sum(np.diff(p, axis=3) ** 2))


def test_tv_gradient_is_the_examples_laplacian() -> None:
    x = np.random.default_rng(0).standard_normal((1, 3, 7, 9))
    tv = TVSmoothing(0.25, mx.cpu(), np.float64)
    got = tv.gradient(mx.nd.array(x, dtype=np.float64)).asnumpy()
    lap = np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]]) / 8.0
    for c in range(3):
        want = conv3x3(x[0, c:c + 1], lap[None, None], np.zeros(1))[0] * 0.25
        np.testing.assert_allclose(got[0, c], want, rtol=1e-12, atol=1e-12)


def test_tv_value_and_gradient_agree() -> None:
    x = np.random.default_rng(1).standard_normal((1, 3, 5, 6))
    tv = TVSmoothing(0.5, mx.cpu(), np.float64)
    nd = mx.nd.array(x, dtype=np.float64)
    grad = tv.gradient(nd)
    value = tv.value(nd, grad).asscalar()
    assert value == pytest.approx(0.5 / 16 * tv_energy(x), rel=1e-12)
    h, index = 1e-4, (0, 1, 2, 3)
    up, down = x.copy(), x.copy()
    up[index] += h
    down[index] -= h
    numeric = 0.5 / 16 * (tv_energy(up) - tv_energy(down)) / (2 * h)
    assert grad.asnumpy()[index] == pytest.approx(numeric, rel=1e-6)
