"""Atomic file writes: a file the tool writes is complete or absent, never half-written."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


#: What a temporary name adds to the final one: "." + name + "." + 8 random + ".part".
_TEMP_PREFIX, _TEMP_SUFFIX, _TEMP_RANDOM = ".", ".part", 8


def temp_name_length(final_name: str) -> int:
    """The length in bytes of the temporary name :func:`atomic_path` uses for ``final_name``
    (file systems limit a name, usually to 255 bytes)."""
    return len(os.fsencode(f"{_TEMP_PREFIX}{final_name}.")) + _TEMP_RANDOM + len(_TEMP_SUFFIX)


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; on success fsync it and rename it over.

    The temporary file lives in the same folder (so the rename is atomic) and is
    removed if the body raises, Ctrl-C included; ``final`` is then left untouched.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"{_TEMP_PREFIX}{final.name}.", suffix=_TEMP_SUFFIX,
                                dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(final.parent)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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
