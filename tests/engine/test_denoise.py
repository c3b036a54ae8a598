"""Denoising filters for snapshots and the final image."""

from __future__ import annotations

import numpy as np
import pytest

from neural_style.engine.denoise import denoise
from tests.helpers import noisy_flat


@pytest.mark.parametrize("method, strength", [("gaussian", 0.5), ("tv", 0.02)])
def test_denoise_removes_isolated_dots(method: str, strength: float) -> None:
    rgb = noisy_flat()
    out = denoise(rgb, method, strength)
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    assert np.abs(out.astype(int) - 128).max() < np.abs(rgb.astype(int) - 128).max()


def test_no_denoising() -> None:
    rgb = noisy_flat()
    np.testing.assert_array_equal(denoise(rgb, "none", 1.0), rgb)
    np.testing.assert_array_equal(denoise(rgb, "gaussian", 0.0), rgb)
    with pytest.raises(ValueError):
        denoise(rgb, "median", 1.0)
