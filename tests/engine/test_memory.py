"""The memory model (engine/memory.py): sizes, budgets, free memory."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import List, Tuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_style.config import CONTENT_LAYERS, STYLE_LAYERS, Config
from neural_style.engine.memory import (
    LOW_PRECISION_BYTES,
    available_bytes,
    bytes_per_pixel,
    format_size,
    graph_bytes,
    host_precision,
    parse_size,
    tile_for_budget,
)
from neural_style.engine.precision import BF16_CPU_FLAGS, cpu_flags
from neural_style.engine.tiled import check_fits, tile_edge, whole_bytes
from neural_style.engine.vgg import VGG19
from neural_style.errors import ConfigError, DeviceError


def test_sizes_parse() -> None:
    assert parse_size("2G") == 2 * 2**30
    assert parse_size("1500M") == 1500 * 2**20
    assert parse_size("1.5gb") == int(1.5 * 2**30)
    assert parse_size("1P") == 2**50  # the top of --max-memory's range
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


def test_bf16_adds_a_fixed_part_and_scales_the_pixels() -> None:
    """The bf16 model: LOW_PRECISION_BYTES' fixed bytes more at the start, its factor on
    the bytes per pixel; a larger budget is needed for the same tile when the fixed part
    dominates, and fp16 (GPU memory, not modelled) counts as fp32."""
    layers = STYLE_LAYERS + CONTENT_LAYERS
    fixed, factor = LOW_PRECISION_BYTES["bf16"]
    fp32_rate = bytes_per_pixel(VGG19, layers)
    bf16_rate = bytes_per_pixel(VGG19, layers, precision="bf16")
    assert bf16_rate == pytest.approx(fp32_rate * factor)
    assert bytes_per_pixel(VGG19, layers, precision="fp16") == fp32_rate
    shape = (384, 512)
    assert graph_bytes(shape, bf16_rate, "bf16") - graph_bytes(shape, bf16_rate) == fixed
    budget = 3 * 2**30
    assert tile_for_budget(budget, (3072, 4096), bf16_rate, "bf16") == tile_for_budget(
        budget - fixed, (3072, 4096), bf16_rate
    )


def test_host_precision_resolves_on_this_cpu() -> None:
    has_bf16 = any(flag in cpu_flags() for flag in BF16_CPU_FLAGS)
    assert host_precision("auto") == ("bf16" if has_bf16 else "fp32")
    assert host_precision("fp32") == "fp32"
    assert host_precision("fp16") == "fp32"  # refused on a CPU: counts as fp32


#: CPUs as /proc/cpuinfo would describe them, for the precision a width resolves to.
AMX_FLAGS = frozenset({"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"})
BF16_ONLY_FLAGS = frozenset({"avx512f", "avx512_bf16"})


def _cpu(monkeypatch: pytest.MonkeyPatch, flags: frozenset, isa: str = "AVX512_CORE_AMX") -> None:
    from neural_style.engine import precision

    monkeypatch.setattr(precision, "cpu_flags", lambda: flags)
    monkeypatch.setenv("DNNL_MAX_CPU_ISA", isa)


def test_host_precision_follows_the_amx_width_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """As the stylizer's own choice (Stylizer.precision with a width): with AMX, auto is
    bf16 up to the width limit and fp32 above it; an explicit bf16 above it is refused by
    the run, and counts as fp32 here."""
    from neural_style.engine.precision import AMX_BF16_MAX_WIDTH as LIMIT

    _cpu(monkeypatch, AMX_FLAGS)
    assert host_precision("auto") == "bf16"
    assert host_precision("auto", LIMIT) == "bf16"
    assert host_precision("auto", LIMIT + 1) == "fp32"
    assert host_precision("bf16", LIMIT + 1) == "fp32"
    _cpu(monkeypatch, BF16_ONLY_FLAGS)  # no AMX: no width limit
    assert host_precision("auto", 4096) == "bf16"
    _cpu(monkeypatch, AMX_FLAGS, isa="AVX512_CORE_BF16")  # AMX left out by the user
    assert host_precision("auto", 4096) == "bf16"


@pytest.mark.parametrize("text", ["2X", "-1G", "0", "abc", "", "1.5.2G", "-0.5M"])
def test_a_bad_size_says_how_sizes_are_written(text: str) -> None:
    from neural_style.errors import ConfigError

    with pytest.raises(ConfigError, match="expected a size such as 2G, 1500M or 2147483648"):
        parse_size(text)


@given(st.text(max_size=12))
def test_any_text_is_a_size_or_an_error_with_an_example(text: str) -> None:
    from neural_style.engine.memory import SIZE_EXAMPLE
    from neural_style.errors import ConfigError

    try:
        assert parse_size(text) > 0
    except ConfigError as err:
        assert SIZE_EXAMPLE in str(err)


# ---- every size a message prints is one a user can type back --------------------------------

#: A size as a message writes it: "705 MiB", "1.5 GiB", or a flag's value ("810M", "2G").
_SIZE = re.compile(r"\b(\d+(?:\.\d+)?)( ?[KMGTP]i?B|[KMGTP])(?![A-Za-z])")


def _sizes(message: str) -> List[Tuple[str, int]]:
    """Every size in ``message``: its text, and the bytes parse_size reads from it; each
    in the one convention (binary units, written MiB/GiB, or M/G as --max-memory takes)."""
    found = [m.group(0) for m in _SIZE.finditer(message)]
    for text in found:
        assert re.fullmatch(r"\d+ MiB|\d+\.\d GiB|\d+[MG]", text), (text, message)
    assert not re.search(r"\d ?[KMGT]B\b", message), message  # "705 MB" beside "810 MiB"
    return [(text, parse_size(text)) for text in found]


@given(st.integers(1, 2**50))
def test_a_printed_size_parses_back_to_what_it_means(count: int) -> None:
    """An amount needed is printed rounded up, one available rounded down, to the last
    digit shown: typed back (--max-memory), each is on its side of the true figure."""
    up, down = format_size(count), format_size(count, up=False)
    step = 2**20 if count < 2**30 else 2**30 // 10 + 1
    assert count <= parse_size(up) < count + step
    assert _sizes(up)
    if count >= 2**20:  # below 1 MiB "0 MiB" is not a size (nor free memory to speak of)
        assert count - step < parse_size(down) <= count and _sizes(down)


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(200, 6000),
    w=st.integers(200, 6000),
    free=st.integers(200 * 2**20, 8 * 2**30),
)
def test_memory_messages_print_sizes_that_parse_back(h: int, w: int, free: int) -> None:
    """The refusals of a whole image too big for the free memory and of a --max-memory
    too small for any tile: every size in one convention; the need at least the need,
    the free memory and the budget given at most what they are, a suggested budget one
    that works."""
    cfg = Config(precision="fp32", max_memory=None)
    image = (h, w)
    need = whole_bytes(cfg, image, VGG19, np.float32)
    try:
        check_fits([image], cfg, VGG19, np.float32, SimpleNamespace(device_type="cpu"), free)
    except DeviceError as err:
        sizes = _sizes(str(err))
        assert sizes[0][1] >= need and sizes[1][1] <= free
    budget = cfg.replace(max_memory=free // 8)
    try:
        tile_edge(budget, image, VGG19, np.float32)
    except ConfigError as err:
        (echo, given_), (_, needed), *raised = _sizes(str(err))
        assert given_ <= free // 8 < needed
        for _, bytes_ in raised:  # the budget suggested: the plan passes with it
            tile_edge(budget.replace(max_memory=bytes_), image, VGG19, np.float32)
