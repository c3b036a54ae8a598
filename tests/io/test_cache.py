"""The style-target cache: computed once, kept in memory and on disk, keyed by its inputs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import List

import numpy as np
import pytest

from neural_style.io.cache import StyleCache, style_key

STYLE = np.random.default_rng(0).standard_normal((1, 3, 8, 8)).astype(np.float32)
LAYERS = ("relu1_1", "relu2_1")


class Counting:
    """A compute function that counts its calls."""

    def __init__(self, seed: int = 1) -> None:
        self.calls = 0
        self.seed = seed

    def __call__(self) -> List[np.ndarray]:
        self.calls += 1
        rng = np.random.default_rng(self.seed)
        return [rng.standard_normal((4, 4)).astype(np.float32), rng.standard_normal((6, 6))]


def test_the_key_changes_with_every_input() -> None:
    base = style_key(STYLE, LAYERS, "avg", "w1")
    assert base == style_key(STYLE.copy(), list(LAYERS), "avg", "w1")  # values, not identity
    other_pixels = STYLE.copy()
    other_pixels[0, 0, 0, 0] += 1
    changed = [
        style_key(other_pixels, LAYERS, "avg", "w1"),
        style_key(STYLE[:, :, :4], LAYERS, "avg", "w1"),
        style_key(STYLE, LAYERS[:1], "avg", "w1"),
        style_key(STYLE, LAYERS, "max", "w1"),
        style_key(STYLE, LAYERS, "avg", "w2"),
    ]
    assert len({base, *changed}) == 6


def test_memory_only_cache_computes_once(tmp_path: Path) -> None:
    cache, compute = StyleCache(), Counting()
    first = cache.get_or_compute("k", compute)
    second = cache.get_or_compute("k", compute)
    assert compute.calls == 1 and second is first
    cache.get_or_compute("other", compute)
    assert compute.calls == 2
    assert list(tmp_path.iterdir()) == []


def test_disk_cache_survives_a_new_process(tmp_path: Path) -> None:
    key = style_key(STYLE, LAYERS, "avg", "w")
    first = StyleCache(tmp_path / "cache").get_or_compute(key, Counting())
    compute = Counting(seed=99)  # would give other values: proves they come from disk
    again = StyleCache(tmp_path / "cache").get_or_compute(key, compute)
    assert compute.calls == 0
    assert len(again) == 2 and all(np.array_equal(a, b) for a, b in zip(first, again))
    assert [a.dtype for a in again] == [np.float32, np.float64]


@pytest.mark.parametrize("content", [b"", b"not a zip file", b"PK\x03\x04 truncated"])
def test_an_unreadable_entry_is_recomputed(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    key = "ab" * 32
    folder = tmp_path / "cache"
    StyleCache(folder).get_or_compute(key, Counting())
    (entry,) = folder.iterdir()
    entry.write_bytes(content)
    compute = Counting()
    with caplog.at_level(logging.WARNING):
        grams = StyleCache(folder).get_or_compute(key, compute)
    assert compute.calls == 1 and len(grams) == 2
    assert "ignoring unreadable style cache" in caplog.text


def test_keys_sharing_a_file_name_do_not_mix(tmp_path: Path) -> None:
    """Files are named by the key's first 32 characters; the full key is checked."""
    a, b = "0" * 32 + "a" * 32, "0" * 32 + "b" * 32
    StyleCache(tmp_path).get_or_compute(a, Counting(seed=1))
    compute = Counting(seed=2)
    StyleCache(tmp_path).get_or_compute(b, compute)
    assert compute.calls == 1


def test_an_unwritable_folder_is_only_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING):
        grams = StyleCache(blocker / "cache").get_or_compute("k" * 64, Counting())
    assert len(grams) == 2
    assert "could not write the style cache" in caplog.text
