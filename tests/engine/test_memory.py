"""The memory model (engine/memory.py): sizes, budgets, free memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from neural_style.engine.memory import available_bytes, parse_size, tile_for_budget


def test_sizes_parse() -> None:
    assert parse_size("2G") == 2 * 2**30
    assert parse_size("1500M") == 1500 * 2**20
    assert parse_size("1.5gb") == int(1.5 * 2**30)
    with pytest.raises(ValueError):
        parse_size("lots")


def test_a_budget_picks_a_bigger_tile_when_bigger() -> None:
    small = tile_for_budget(2 * 2**30, (3072, 4096), 3000)
    assert small % 16 == 0 and 256 <= small < tile_for_budget(4 * 2**30, (3072, 4096), 3000)


def test_free_memory_is_read_from_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24000000 kB\nMemAvailable:   1000 kB\n")
    assert available_bytes(meminfo) in (1000 * 1024, available_bytes())  # psutil wins if there
    assert available_bytes(tmp_path / "missing") is None or available_bytes() is not None
