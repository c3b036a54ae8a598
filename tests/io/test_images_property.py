"""Property: the loader returns an RGB float array of the expected shape, or raises the
project's own ImageError; nothing else, whatever the bytes."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from neural_style.errors import ImageError
from neural_style.io.images import load_rgb

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: (mode, formats that can store it)
MODES = [
    ("RGB", ["PNG", "JPEG", "BMP", "TIFF", "WEBP", "GIF"]),
    ("L", ["PNG", "JPEG", "TIFF", "GIF"]),
    ("LA", ["PNG"]),
    ("RGBA", ["PNG", "TIFF", "WEBP"]),
    ("P", ["PNG", "GIF", "BMP"]),
    ("CMYK", ["JPEG", "TIFF"]),
    ("1", ["PNG", "BMP", "TIFF"]),
    ("I;16", ["PNG", "TIFF"]),
    ("I", ["TIFF"]),
    ("F", ["TIFF"]),
]
SUFFIX = {
    "PNG": ".png",
    "JPEG": ".jpg",
    "BMP": ".bmp",
    "TIFF": ".tif",
    "WEBP": ".webp",
    "GIF": ".gif",
}


def load_bytes(data: bytes, suffix: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"x{suffix}"
        path.write_bytes(data)
        return load_rgb(path)


def check_rgb(rgb: np.ndarray) -> None:
    assert rgb.dtype == np.float32 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert np.isfinite(rgb).all() and rgb.min() >= 0 and rgb.max() <= 1


@SETTINGS
@given(
    data=st.binary(max_size=4096), suffix=st.sampled_from([".jpg", ".png", ".gif", ".tif", ".bin"])
)
def test_random_bytes(data: bytes, suffix: str) -> None:
    try:
        rgb = load_bytes(data, suffix)
    except ImageError:
        return
    check_rgb(rgb)


@st.composite
def odd_images(draw: st.DrawFn) -> tuple:
    mode, formats = draw(st.sampled_from(MODES))
    fmt = draw(st.sampled_from(formats))
    w, h = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    base = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    if mode in ("I;16", "I", "F"):
        top = {"I;16": 65535, "I": 65535, "F": 1}[mode]
        arr = rng.random((h, w)) * top
        img = (
            Image.fromarray(arr.astype(np.float32), "F")
            if mode == "F"
            else Image.fromarray(arr.astype(np.uint16 if mode == "I;16" else np.int32))
        )
    else:
        img = base.convert(mode)
    buffer = io.BytesIO()
    img.save(buffer, format=fmt)
    cut = draw(st.sampled_from([None, None, None, 0.5, 0.9]))
    data = buffer.getvalue()
    return (data if cut is None else data[: int(len(data) * cut)]), SUFFIX[fmt], (h, w), cut


@SETTINGS
@given(case=odd_images())
def test_valid_but_odd_images(case: tuple) -> None:
    data, suffix, (h, w), cut = case
    try:
        rgb = load_bytes(data, suffix)
    except ImageError:
        assert cut is not None, "a whole, valid image was refused"
        return
    check_rgb(rgb)
    if cut is None:
        assert rgb.shape[:2] == (h, w)
