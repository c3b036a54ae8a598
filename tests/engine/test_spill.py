"""Arrays kept on disk: a window at a time, or whole by key (:mod:`neural_style.engine.spill`)."""

from __future__ import annotations

import os
import tempfile
from typing import Any, Tuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_style.engine.spill import SpilledArray, SpilledCache
from neural_style.errors import DeviceError


@st.composite
def _windows(draw: Any) -> Tuple[Tuple[int, int, int, int], slice, slice]:
    c, h, w = draw(st.integers(1, 4)), draw(st.integers(1, 23)), draw(st.integers(1, 29))
    r0 = draw(st.integers(0, h - 1))
    c0 = draw(st.integers(0, w - 1))
    rows = slice(r0, draw(st.integers(r0 + 1, h)))
    cols = slice(c0, draw(st.integers(c0 + 1, w)))
    return (1, c, h, w), rows, cols


@settings(max_examples=60, deadline=None)
@given(_windows(), st.lists(st.tuples(st.integers(0, 10**6)), min_size=1, max_size=4))
def test_a_spilled_array_reads_back_what_an_array_in_memory_holds(window: Any, seeds: Any) -> None:
    """Zeros at first; after any windows written (overlapping, of any shape within it),
    every window reads as the same writes to a numpy array leave it."""
    shape, rows, cols = window
    model = np.zeros(shape, np.float32)
    with SpilledArray(shape) as kept:
        assert np.array_equal(kept.read(rows, cols), model[:, :, rows, cols])
        for (seed,) in seeds:
            rng = np.random.default_rng(seed)
            r0, c0 = rng.integers(0, shape[2]), rng.integers(0, shape[3])
            r = slice(int(r0), int(rng.integers(r0 + 1, shape[2] + 1)))
            c = slice(int(c0), int(rng.integers(c0 + 1, shape[3] + 1)))
            values = rng.standard_normal(model[:, :, r, c].shape).astype(np.float32)
            kept.write(r, c, values)
            model[:, :, r, c] = values
        assert np.array_equal(kept.read(rows, cols), model[:, :, rows, cols])
        everything = kept.read(slice(0, shape[2]), slice(0, shape[3]))
        assert np.array_equal(everything, model)


def test_the_file_takes_its_space_at_once_and_is_gone_when_closed() -> None:
    folder = tempfile.mkdtemp()
    kept = SpilledArray((1, 3, 40, 50), folder)
    assert kept.nbytes == 3 * 40 * 50 * 4
    handle = kept._open()
    assert os.fstat(handle.fileno()).st_size == kept.nbytes
    assert os.listdir(folder) == []  # unnamed: nothing to leave behind
    kept.close()
    assert handle.closed
    with pytest.raises(ValueError, match="closed"):
        kept.read(slice(0, 1), slice(0, 1))
    os.rmdir(folder)


@pytest.mark.parametrize(
    "rows, cols",
    [
        (slice(0, 41), slice(0, 5)),  # past the end
        (slice(-3, None), slice(0, 5)),  # from the end: not a window of this array
        (slice(0, 10, 2), slice(0, 5)),  # strided
        (slice(5, 5), slice(0, 5)),  # empty
        (slice(None, 5), slice(0, 5)),  # open
    ],
)
def test_a_window_outside_the_array_is_refused(rows: slice, cols: slice) -> None:
    with SpilledArray((1, 3, 40, 50)) as kept:
        with pytest.raises(ValueError, match="a window within"):
            kept.read(rows, cols)


def test_values_of_another_shape_are_refused() -> None:
    with SpilledArray((1, 3, 40, 50)) as kept:
        with pytest.raises(ValueError, match="values of shape"):
            kept.write(slice(0, 2), slice(0, 2), np.zeros((1, 3, 2, 3), np.float32))


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_disk_without_room_is_an_error_that_says_what_to_do(monkeypatch: Any) -> None:
    """A full disk (``/dev/full`` fails every write with ENOSPC) is found when the array
    is made, before any work, and named with the fixes."""
    import neural_style.engine.spill as spill

    monkeypatch.setattr(
        spill.tempfile, "TemporaryFile", lambda dir=None, **kw: open("/dev/full", "wb+", **kw)
    )
    with pytest.raises(DeviceError, match="no room for 2 MiB of optimiser state.*TMPDIR"):
        SpilledArray((1, 3, 256, 512))


@pytest.mark.parametrize("shape", [(3, 40, 50), (2, 3, 40, 50), (1, 3, 0, 50)])
def test_a_shape_that_is_not_one_image_is_refused(shape: Tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"a shape \(1, C, H, W\)"):
        SpilledArray(shape)


_ARRAYS = st.lists(  # an entry: arrays of any shape (scalars and empty lists too), by seed
    st.tuples(st.lists(st.integers(1, 6), max_size=3), st.integers(0, 10**6)), max_size=3
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_ARRAYS, min_size=1, max_size=5))
def test_a_cache_gives_back_each_entry_as_stored(entries: Any) -> None:
    """Any entries read back equal, in any order and more than once, as float32; a key
    not stored reads as None."""
    stored = {}
    with SpilledCache() as cache:
        for key, specs in enumerate(entries):
            arrays = [np.random.default_rng(seed).standard_normal(shape) for shape, seed in specs]
            assert cache.put(key, arrays)
            stored[key] = [a.astype(np.float32) for a in arrays]
        for key in reversed(list(stored)):
            for _ in range(2):
                got = cache.get(key)
                assert got is not None and len(got) == len(stored[key])
                for g, want in zip(got, stored[key]):
                    assert g.dtype == np.float32 and g.shape == np.shape(want)
                    assert np.array_equal(g, want)
        assert cache.get(len(entries)) is None and len(entries) not in cache


def test_a_cache_key_is_stored_once_and_the_file_has_no_name() -> None:
    folder = tempfile.mkdtemp()
    with SpilledCache(folder) as cache:
        assert cache.put("a", [np.ones((2, 3), np.float32)])
        with pytest.raises(ValueError, match="already stored"):
            cache.put("a", [np.zeros((2, 3), np.float32)])
        assert os.listdir(folder) == []
        assert np.array_equal(cache.get("a")[0], np.ones((2, 3)))  # type: ignore[index]
    assert cache.get("a") is None  # closed: the entries are gone
    os.rmdir(folder)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_cache_without_room_keeps_nothing_more_and_says_so(monkeypatch: Any, caplog: Any) -> None:
    """A cache is an optimisation: with no room on the disk, an entry is not kept (the
    caller computes it again), a warning names the folder, and the run goes on."""
    import neural_style.engine.spill as spill

    monkeypatch.setattr(
        spill.tempfile, "TemporaryFile", lambda dir=None, **kw: open("/dev/full", "wb+", **kw)
    )
    with SpilledCache("/somewhere") as cache:
        assert not cache.put(0, [np.ones((64, 64), np.float32)])
        assert cache.full and cache.get(0) is None and 0 not in cache
        assert not cache.put(1, [np.ones((1,), np.float32)])  # nothing more is tried
    assert len(caplog.records) == 1
    assert "no room for the tiles' content targets in /somewhere" in caplog.text
