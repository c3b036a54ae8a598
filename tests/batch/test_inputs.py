"""Content and style images from paths, globs and folders, and their pairings."""

from __future__ import annotations

from pathlib import Path

import pytest

from neural_style.batch.inputs import expand_images, pair
from neural_style.errors import ConfigError


def test_globs_folders_and_plain_paths(photos: Path, tmp_path: Path) -> None:
    assert [p.name for p in expand_images([str(photos)], "--content-image")] == ["a.png", "b.jpg", "c.png"]
    assert [p.name for p in expand_images([str(photos / "*.png")], "--content-image")] == ["a.png", "c.png"]
    mixed = expand_images([str(photos / "b.jpg"), str(photos / "*.png")], "--content-image")
    assert [p.name for p in mixed] == ["b.jpg", "a.png", "c.png"]
    assert expand_images([str(tmp_path / "missing.jpg")], "x") == [tmp_path / "missing.jpg"]
    with pytest.raises(ConfigError, match="no file matches"):
        expand_images([str(photos / "*.gif")], "--content-image")


def test_product_and_zip() -> None:
    c, s = [Path("a"), Path("b")], [Path("x"), Path("y")]
    assert pair(c, s, "product") == [(Path("a"), Path("x")), (Path("a"), Path("y")),
                                     (Path("b"), Path("x")), (Path("b"), Path("y"))]
    assert pair(c, s, "zip") == [(Path("a"), Path("x")), (Path("b"), Path("y"))]
    with pytest.raises(ConfigError, match="2 content images but 1 style"):
        pair(c, s[:1], "zip")

