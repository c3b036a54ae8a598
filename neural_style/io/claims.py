"""Claims on outputs: runs on one machine that share an output folder (an array task
requeued while its first attempt still runs, the same batch started twice) make each
missing output once under ``--skip-existing``.

A claim is an exclusive ``flock`` on ``.<name>.lock`` beside the output, held while the
job runs and removed when it ends. The kernel drops the lock of a process that dies
however it dies (``kill -9`` included), so on one machine a claim is never stale; the
file may stay behind, empty, and the next claim takes it over. ``flock`` rather than
``lockf``: a process's POSIX locks all go when it closes any descriptor of the file.
On NFS (not tested here) Linux sends ``flock`` to the server as a POSIX lock; a client
that dies keeps its locks until the server's lease ends, and a lock that fails (ESTALE
after the holder's client removed the file) makes an unclaimed claim, so there a job
may be made twice: machines should use ``--shard``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Optional, Type

#: The claim of ``<name>``: ``.<name>.lock`` in its folder (shorter than the temporary
#: name of :func:`neural_style.io.files.atomic_path`, so it fits wherever that fits).
LOCK_PREFIX, LOCK_SUFFIX = ".", ".lock"


def claim_path(output: Path) -> Path:
    return output.parent / f"{LOCK_PREFIX}{output.name}{LOCK_SUFFIX}"


class Claim:
    """A held claim (a context manager that releases it). ``fd`` None: a claim that
    could not be taken for a reason other than another holder (a folder where the lock
    file cannot be made, a file system without locks): the job runs unclaimed, as it
    did before claims, and its own write reports a folder it cannot write in."""

    def __init__(self, path: Path, fd: Optional[int]) -> None:
        self.path, self.fd = path, fd

    def release(self) -> None:
        """Remove the lock file, then let go: removed while held, so a process waiting
        on it finds, once it has the lock, that the file is gone, and claims anew."""
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        try:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        finally:  # closed even if a signal's interrupt lands here
            os.close(fd)

    def __enter__(self) -> "Claim":
        return self

    def __exit__(
        self,
        kind: Optional[Type[BaseException]],
        error: Optional[BaseException],
        trace: Optional[TracebackType],
    ) -> None:
        self.release()


def claim(output: Path, wait: bool = False) -> Optional[Claim]:
    """The claim of ``output``; None if another process holds it and ``wait`` is false.
    Waiting ends with the holder, or with a signal whose handler raises (Ctrl-C)."""
    path = claim_path(output)
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)  # as the job's write would
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError:
            return Claim(path, None)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            if _is_at(fd, path):
                return Claim(path, fd)
        except BlockingIOError:
            os.close(fd)
            return None
        except OSError:  # no locks on this file system (ENOLCK, EINVAL): unclaimed
            os.close(fd)
            return Claim(path, None)
        except BaseException:  # a signal's interrupt, while waiting or after: no fd left open
            os.close(fd)
            raise
        os.close(fd)  # its holder removed it as we waited: claim the file there now


def _is_at(fd: int, path: Path) -> bool:
    """Whether the open file ``fd`` is still the one named ``path``."""
    try:
        named = os.stat(path)
    except OSError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def clear_stale(output: Path) -> None:
    """Remove the claim file of ``output`` that a run which died (``kill -9``, a worker
    killed by the OOM killer) left behind, if no run holds it; for an output that
    --skip-existing skips, whose job no later run claims (and so removes) again. Taken
    and released as a claim, never unlinked unheld (that would let two runs hold it)."""
    if not claim_path(output).exists():
        return
    held = claim(output, wait=False)
    if held is not None:
        held.release()
