"""Atomic writes: a file the tool writes is complete or absent, never half-written."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from neural_style.io.files import atomic_path


def listing(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir())


def test_the_file_appears_whole_and_only_at_the_end(tmp_path: Path) -> None:
    final = tmp_path / "deep" / "er" / "out.bin"  # missing folders are made
    with atomic_path(final) as tmp:
        assert tmp.parent == final.parent and tmp != final
        tmp.write_bytes(b"x" * 1000)
        assert not final.exists()  # nothing under the final name while writing
    assert final.read_bytes() == b"x" * 1000
    assert listing(final.parent) == ["out.bin"]  # no temporary left behind


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failure_keeps_the_previous_file(tmp_path: Path, error: BaseException) -> None:
    final = tmp_path / "out.txt"
    final.write_text("old")
    with pytest.raises(type(error)):
        with atomic_path(final) as tmp:
            tmp.write_text("half")
            raise error
    assert final.read_text() == "old"
    assert listing(tmp_path) == ["out.txt"]


def test_a_failure_leaves_no_file_where_there_was_none(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        with atomic_path(tmp_path / "new.txt") as tmp:
            tmp.write_text("half")
            raise ValueError("stop")
    assert listing(tmp_path) == []


def test_permissions_follow_the_umask_like_open(tmp_path: Path) -> None:
    """Not mkstemp's 0600: the mode an ordinary open() would give."""
    with atomic_path(tmp_path / "atomic.txt") as tmp:
        tmp.write_text("a")
    (tmp_path / "plain.txt").write_text("b")
    mode = stat.S_IMODE(os.stat(tmp_path / "atomic.txt").st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / "plain.txt").st_mode)


def test_a_restrictive_umask_is_honoured(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        with atomic_path(tmp_path / "x.txt") as tmp:
            tmp.write_text("a")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "x.txt").st_mode) == 0o640


def test_the_process_umask_is_never_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            ) -> None:
    """Changing it, even for a moment, would race with every other thread's file creation."""

    def forbidden(mask: int) -> int:
        raise AssertionError("os.umask called")

    monkeypatch.setattr(os, "umask", forbidden)
    with atomic_path(tmp_path / "x.txt") as tmp:
        tmp.write_text("a")
    assert (tmp_path / "x.txt").read_text() == "a"


def test_concurrent_writers_of_one_file_do_not_collide(tmp_path: Path) -> None:
    final = tmp_path / "same.txt"
    with atomic_path(final) as first, atomic_path(final) as second:
        assert first != second
        first.write_text("1")
        second.write_text("2")
    assert final.read_text() == "1"  # the outer one finished last
    assert listing(tmp_path) == ["same.txt"]
