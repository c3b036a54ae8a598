from __future__ import annotations

import os
from pathlib import Path
from typing import List, Tuple

import numpy as np
import pytest
from PIL import Image

from neural_style.errors import ImageError
from neural_style.io.images import (
    IMAGE_FORMATS,
    OUTPUT_SUFFIXES,
    load_rgb,
    output_format,
    save_image,
)
from tests.helpers import INPUT, write_image


def test_loads_the_shipped_cat() -> None:
    rgb = load_rgb(INPUT / "cat.jpg")
    assert rgb.shape == (300, 451, 3) and rgb.dtype == np.float32
    assert 0 <= rgb.min() and rgb.max() <= 1


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "I;16"])
def test_any_mode_becomes_rgb(tmp_path: Path, mode: str) -> None:
    suffix = ".jpg" if mode == "CMYK" else ".png"
    path = write_image(tmp_path / f"x{suffix}", mode=mode)
    rgb = load_rgb(path)
    assert rgb.shape == (32, 48, 3) and 0 <= rgb.min() and rgb.max() <= 1


def test_exif_rotation_is_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise for display
    img.save(tmp_path / "phone.jpg", exif=exif)
    assert load_rgb(tmp_path / "phone.jpg").shape == (40, 20, 3)


def test_arrays_are_accepted() -> None:
    assert load_rgb(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
    assert load_rgb(np.ones((4, 5, 4), np.float32)).shape == (4, 5, 3)
    assert load_rgb(np.zeros((4, 5, 2), np.uint8)).shape == (4, 5, 3)  # grey + alpha
    with pytest.raises(ImageError):
        load_rgb(np.zeros((4, 5, 5)))


def test_unreadable_inputs_raise_image_error(tmp_path: Path) -> None:
    (tmp_path / "text.jpg").write_text("hello")
    (tmp_path / "empty.png").write_bytes(b"")
    good = write_image(tmp_path / "good.png")
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[:100])
    cases = {
        "missing.jpg": "no such file",
        "text.jpg": "not an image",
        "empty.png": "not an image",
        "cut.png": "cannot decode",
        ".": "is a folder",
    }
    for name, message in cases.items():
        with pytest.raises(ImageError, match=message):
            load_rgb(tmp_path / name)


def test_save_is_atomic_and_by_extension(tmp_path: Path) -> None:
    rgb = np.zeros((4, 6, 3), np.uint8)
    for ext, fmt in [(".jpg", "JPEG"), (".png", "PNG")]:
        path = save_image(rgb, tmp_path / "sub" / f"out{ext}")
        with Image.open(path) as img:
            assert img.format == fmt and img.size == (6, 4)
    assert sorted(os.listdir(tmp_path / "sub")) == ["out.jpg", "out.png"]
    with pytest.raises(ImageError, match="unknown output extension '.xyz'"):
        output_format("a.xyz")


def test_failed_save_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_image(np.zeros((4, 4, 3), np.uint8), tmp_path / "out.png")
    before = path.read_bytes()

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", disk_full)
    with pytest.raises(ImageError, match="No space left on device"):
        save_image(np.full((4, 4, 3), 255, np.uint8), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["out.png"]


@pytest.mark.parametrize("suffix", OUTPUT_SUFFIXES)
def test_every_output_extension_round_trips(tmp_path: Path, suffix: str) -> None:
    rgb = np.full((8, 12, 3), (200, 100, 50), np.uint8)
    path = save_image(rgb, tmp_path / f"out{suffix.upper()}")  # case does not matter
    with Image.open(path) as img:
        assert img.format == IMAGE_FORMATS[suffix].pillow
    assert np.abs(load_rgb(path) * 255 - rgb).max() < 4  # lossy formats at quality 95


def test_readable_but_not_writable_formats_are_refused_as_outputs() -> None:
    read_only = [s for s, f in IMAGE_FORMATS.items() if not f.writable]
    assert read_only == [".gif"]
    with pytest.raises(ImageError, match="unknown output extension '.gif'"):
        output_format("x.gif")


def test_shape_reader_gives_the_loaders_shapes_decoding_each_image_once(tmp_path: Path) -> None:
    """A dry run's reader: the shape load_inputs would give (here a 200x90 image at long
    edges 64 and 50), no pixels held, each image and size decoded once, a failure raised
    again each time."""
    from neural_style.io.images import ShapeReader, load_inputs

    path = write_image(tmp_path / "c.png", (200, 90))
    calls: List[Tuple[object, ...]] = []

    def counting(*args: object) -> np.ndarray:
        calls.append(args)
        return load_rgb(*args)  # type: ignore[arg-type]

    read = ShapeReader(counting)
    for edge in (64, 64, 50):
        content, styles = load_inputs(path, [path], edge, load=read)
        real, real_styles = load_inputs(path, [path], edge)
        assert content.shape == real.shape and styles[0].shape == real_styles[0].shape
        assert content.strides == (0, 0, 0)  # the same zero everywhere: no pixels
    assert len(calls) == 4  # content and style at 64, then at 50
    with pytest.raises(ImageError, match="no such file"):
        read(tmp_path / "absent.png", 64)
    with pytest.raises(ImageError, match="no such file"):
        read(tmp_path / "absent.png", 64)
    assert len(calls) == 5
