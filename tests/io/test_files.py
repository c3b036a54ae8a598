"""Atomic writes: a file the tool writes is complete or absent, never half-written."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from neural_style.io import files
from neural_style.io.files import atomic_path, special_file_problem, write_verified


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


def test_the_process_umask_is_never_changed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
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


def test_a_short_write_is_finished_and_no_progress_is_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """os.write may write less than asked: the rest is written; a write of nothing is
    ENOSPC, and the earlier file stays."""
    calls = {"n": 0}
    real_write = os.write

    def stingy(fd: int, data: bytes) -> int:  # a byte at a time, then (in the 2nd file) nothing
        calls["n"] += 1
        return real_write(fd, bytes(data[:1])) if calls["n"] <= 4 else 0

    monkeypatch.setattr(files.os, "write", stingy)
    final = write_verified(tmp_path / "x.bin", b"abcd")
    assert final.read_bytes() == b"abcd" and calls["n"] == 4
    with pytest.raises(OSError, match="No space left on device"):
        write_verified(final, b"efgh")
    monkeypatch.undo()
    assert final.read_bytes() == b"abcd" and listing(tmp_path) == ["x.bin"]


def test_the_check_decodes_before_the_rename(tmp_path: Path) -> None:
    def refuse(path: Path) -> None:
        assert path.read_bytes() == b"new" and path.name.endswith(".part")
        raise ValueError("does not decode")

    final = tmp_path / "x.bin"
    final.write_bytes(b"old")
    with pytest.raises(files.IncompleteWrite, match="does not decode"):
        write_verified(final, b"new", refuse)
    assert final.read_bytes() == b"old" and listing(tmp_path) == ["x.bin"]


def test_special_files_are_named_without_opening_them(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "plain").write_text("x")
    problems = {
        name: special_file_problem(tmp_path / name)
        for name in ("fifo", "loop", "plain", "missing", "plain/below")
    }
    assert problems == {
        "fifo": "is a named pipe (FIFO), not a regular file",
        "loop": "a loop of symbolic links",
        "plain": None,
        "missing": "no such file",
        "plain/below": "a part of the path is a file, not a folder",
    }
    assert special_file_problem(Path("/dev/null")) == "is a character device, not a regular file"
    assert special_file_problem(tmp_path) == "is a folder, not a file"
