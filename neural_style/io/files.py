"""Atomic file writes: a file the tool writes is complete or absent, never half-written;
and the check that a path given as input is a regular file that can be read.

Every file the tool writes goes through :func:`write_verified`: the bytes are encoded in
memory first, written to a temporary file beside the target with every short write
detected, flushed and fsynced, checked for size, decoded again from disk by the
caller's ``check``, and only then renamed over the target. On any failure the
temporary file is removed and an earlier file of that name is left as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path
from typing import Callable, Iterator, Optional

#: Checks a finished temporary file (decodes it whole); raises if it is not what was meant.
Check = Callable[[Path], object]


class IncompleteWrite(OSError):
    """The file on disk is not what was encoded (a short write, or it does not decode)."""


def write_verified(final: Path, data: bytes, check: Optional[Check] = None) -> Path:
    """Write ``data`` to ``final`` atomically and verified; raises :class:`OSError`
    (``ENOSPC`` for a full disk, :class:`IncompleteWrite` for a file that came out
    different) with the target untouched."""
    with atomic_path(final) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_BINARY", 0))
        try:
            write_all(fd, data)
            os.fsync(fd)  # the data is on the disk (a full disk can first show up here)
        finally:
            os.close(fd)
        size = tmp.stat().st_size
        if size != len(data):
            raise IncompleteWrite(errno.EIO, f"wrote {size} of {len(data)} bytes")
        if check is not None:
            try:
                check(tmp)
            except OSError:
                raise
            except Exception as err:  # a decoder's own exception: the file is not whole
                text = f"the written file does not decode ({err})"
                raise IncompleteWrite(errno.EIO, text) from None
    return final


def write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written: a short write is retried, and a write that
    makes no progress (a full disk) raises instead of being ignored."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


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


#: The temporary name of ``<name>``: ``.<name>.<8 hex digits>.part``.
_TEMP_PREFIX, _TEMP_SUFFIX, _TEMP_RANDOM_BYTES = ".", ".part", 4


def temp_name_length(final_name: str) -> int:
    """The length in bytes of the temporary name :func:`atomic_path` uses for ``final_name``
    (file systems limit a name, usually to 255 bytes)."""
    return (
        len(os.fsencode(f"{_TEMP_PREFIX}{final_name}."))
        + 2 * _TEMP_RANDOM_BYTES
        + len(_TEMP_SUFFIX)
    )


def _new_file_beside(final: Path) -> Path:
    """A new, empty ``.<name>.<random>.part`` in ``final``'s folder, made with mode 0666
    minus the umask as open() would (mkstemp's 0600 would need the umask, and reading it
    means changing it for the whole process)."""
    for _ in range(100):
        tmp = final.parent / (
            f"{_TEMP_PREFIX}{final.name}.{secrets.token_hex(_TEMP_RANDOM_BYTES)}{_TEMP_SUFFIX}"
        )
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


# ---- inputs ------------------------------------------------------------------------------

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def special_file_problem(path: Path) -> Optional[str]:
    """Why ``path`` cannot be read as an input file, or None when it is a regular file.

    Checked with ``stat`` before anything opens the path: opening a FIFO blocks until a
    writer comes, and a device can be read forever. A symlink loop or an unreadable
    folder on the way is named plainly rather than as an error number.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file"
    except PermissionError:
        return "no permission to read it"
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "a loop of symbolic links"
        if err.errno == errno.ENAMETOOLONG:
            return "the name is too long"
        if err.errno == errno.ENOTDIR:
            return "a part of the path is a file, not a folder"
        return f"cannot read it ({err.strerror or err})"
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    for test, kind in _KINDS:
        if test(mode):
            return f"is {kind}, not a regular file"
    if not os.access(path, os.R_OK):
        return "no permission to read it"
    return None


def folder_problem(folder: Path, create: bool = False) -> Optional[OSError]:
    """Why files cannot be written in ``folder`` (made first, with its parents, if it is
    missing), or None. ``create`` False leaves nothing behind: a missing folder is
    tried as its first missing part would be made (a directory of a new name made and
    removed in the nearest folder that exists: the same system call, so the same
    error), an existing one with a temporary file made and removed in it."""
    import tempfile

    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        elif not folder.exists():
            ancestor = next((p for p in folder.parents if p.exists()), Path("."))
            if not ancestor.is_dir():  # as os.mkdir under a file fails
                return NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
            os.rmdir(tempfile.mkdtemp(prefix=".neural-style-probe-", dir=ancestor))
            return None
        elif not folder.is_dir():  # as Path.mkdir(exist_ok=True) over a file fails
            return FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST))
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        return err
    return None
