from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neural_style.engine.denoise import denoise
from neural_style.io.snapshots import SnapshotWriter, snapshot_name


def noisy_flat(seed: int = 0) -> np.ndarray:
    """A grey image with isolated bright dots."""
    rgb = np.full((32, 32, 3), 128, np.uint8)
    rng = np.random.default_rng(seed)
    ys, xs = rng.integers(0, 32, size=(2, 20))
    rgb[ys, xs] = 255
    return rgb


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


def test_writer_uses_the_examples_names(tmp_path: Path) -> None:
    writer = SnapshotWriter(tmp_path / "snaps")
    writer(50, noisy_flat())
    writer(100, noisy_flat())
    assert snapshot_name(50) == "e_50.jpg"
    assert sorted(p.name for p in (tmp_path / "snaps").iterdir()) == ["e_100.jpg", "e_50.jpg"]
    assert writer.written == [tmp_path / "snaps" / "e_50.jpg", tmp_path / "snaps" / "e_100.jpg"]
