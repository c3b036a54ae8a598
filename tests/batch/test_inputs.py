"""Content and style images from paths, globs and folders, and their pairings."""

from __future__ import annotations

from pathlib import Path

import pytest

from neural_style.batch.inputs import expand_images, pair
from neural_style.errors import ConfigError
from neural_style.io.images import IMAGE_FORMATS


def test_globs_folders_and_plain_paths(photos: Path, tmp_path: Path) -> None:
    assert [p.name for p in expand_images([str(photos)], "--content-image")] == [
        "a.png",
        "b.jpg",
        "c.png",
    ]
    assert [p.name for p in expand_images([str(photos / "*.png")], "--content-image")] == [
        "a.png",
        "c.png",
    ]
    mixed = expand_images([str(photos / "b.jpg"), str(photos / "*.png")], "--content-image")
    assert [p.name for p in mixed] == ["b.jpg", "a.png", "c.png"]
    assert expand_images([str(tmp_path / "missing.jpg")], "x") == [tmp_path / "missing.jpg"]
    with pytest.raises(ConfigError, match="no file matches"):
        expand_images([str(photos / "*.gif")], "--content-image")


def test_product_and_zip() -> None:
    a, b, x, y = Path("a"), Path("b"), (Path("x"),), (Path("y"),)
    c, s = [a, b], [x, y]
    assert pair(c, s, "product") == [(a, x), (a, y), (b, x), (b, y)]
    assert pair(c, s, "zip") == [(a, x), (b, y)]
    with pytest.raises(ConfigError, match="2 content images but 1 style"):
        pair(c, s[:1], "zip")


def test_folders_pick_every_known_image_type(tmp_path: Path) -> None:
    for suffix in IMAGE_FORMATS:
        (tmp_path / f"x{suffix.upper()}").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("")
    found = expand_images([str(tmp_path)], "--content-image")
    assert sorted(p.suffix.lower() for p in found) == sorted(IMAGE_FORMATS)
