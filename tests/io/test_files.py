"""Atomic writes: a file the tool writes is complete or absent, never half-written."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_style.io import files
from neural_style.io.files import atomic_path, special_file_problem, write_verified
from tests import helpers


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


# ---- folder_problem: the check a dry run makes agrees with the run's --------------------------


def _tree(root: Path) -> list:
    return sorted((str(p.relative_to(root)), p.is_dir()) for p in root.rglob("*"))


@settings(max_examples=40, deadline=None)
@given(
    depth=st.integers(1, 3),
    existing=st.integers(0, 3),
    blocker=st.booleans(),
    locked=st.booleans(),
)
def test_the_dry_check_of_a_folder_agrees_with_making_it(
    depth: int, existing: int, blocker: bool, locked: bool
) -> None:
    """Whatever exists of ``root/d0/d1/...`` (folders, a file in the way, a read-only
    folder), checking without creating (what --dry-run does) finds the same problem,
    with the same error number, as making the folder and writing in it (the run), and
    leaves the tree as it was."""
    import errno
    import tempfile

    with tempfile.TemporaryDirectory() as base:
        root = Path(base)
        target = root.joinpath(*(f"d{i}" for i in range(depth)))
        existing = min(existing, depth)
        for i in range(existing):
            root.joinpath(*(f"d{j}" for j in range(i + 1))).mkdir()
        last = root.joinpath(*(f"d{j}" for j in range(existing)))
        if blocker and existing < depth:  # a file where the next folder should be
            (last / f"d{existing}").write_text("in the way")
        before = _tree(root)
        context = helpers.read_only(last) if locked else contextlib.nullcontext()
        with context:
            dry = files.folder_problem(target)
            after = _tree(root)
            real = files.folder_problem(target, create=True)
        assert after == before
        assert (dry is None) == (real is None), (dry, real)
        if dry is not None and real is not None:
            assert dry.errno == real.errno and dry.strerror == real.strerror
        expect_fail = locked or (blocker and existing < depth)
        assert (real is not None) == expect_fail
        if real is None:
            assert target.is_dir()
        else:
            assert real.errno in (errno.EACCES, errno.ENOTDIR, errno.EEXIST)
