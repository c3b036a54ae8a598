"""Atomic file writes: a file the tool writes is complete or absent, never half-written."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; on success fsync it and rename it over.

    The temporary file lives in the same folder (so the rename is atomic) and is
    removed if the body raises, Ctrl-C included; ``final`` is then left untouched.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_file_beside(final)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(final.parent)


def _new_file_beside(final: Path) -> Path:
    """A new, empty ``.<name>.<random>.part`` in ``final``'s folder, made with mode 0666
    minus the umask as open() would (mkstemp's 0600 would need the umask, and reading it
    means changing it for the whole process)."""
    for _ in range(100):
        tmp = final.parent / f".{final.name}.{secrets.token_hex(4)}.part"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"{final.parent}: cannot make a temporary file for {final.name}")


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
