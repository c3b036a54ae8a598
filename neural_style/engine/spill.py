"""Arrays kept on disk so that what a tiled size keeps between a tile's visits
(:mod:`.tiled`) is not held in memory, and the process's memory is bounded by the tile,
not the picture: image-sized float32 arrays read and written a window at a time
(:class:`SpilledArray`: the optimiser's state), and arrays stored once and read back
whole by key (:class:`SpilledCache`: each tile's content targets).

Each array lives in an unnamed temporary file (``tempfile.TemporaryFile``, in
``$TMPDIR``, removed by the system when the file is closed or the process dies, even by
``kill -9``). The file's space is written (with zeros) when it is made, so a disk too
small is found before any work, and later writes go to space the file already has.
Windows are read and written with plain file I/O, row by row, not through a memory
map: a mapped page counts in the process's memory while it is mapped, and a write to a
mapped page that the file system cannot store kills the process (SIGBUS) rather than
raising an error.
"""

from __future__ import annotations

import errno
import logging
import tempfile
from typing import BinaryIO, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import DeviceError

#: Bytes of zeros written at a time when a file's space is taken.
_CHUNK = 1 << 24
_ITEM = np.dtype(np.float32).itemsize

log = logging.getLogger(__name__)


class SpilledArray:
    """A float32 array of ``shape`` (1, C, H, W) in a temporary file, zeros at first.

    ``directory``: where the file goes (default: ``tempfile``'s, ``$TMPDIR`` first).
    Raises :class:`DeviceError` when the file cannot be made or filled."""

    def __init__(self, shape: Tuple[int, ...], directory: Optional[str] = None) -> None:
        if len(shape) != 4 or shape[0] != 1 or min(shape) < 1:
            raise ValueError(f"a shape (1, C, H, W) of positive sizes, not {shape}")
        self.shape = tuple(int(n) for n in shape)
        self.nbytes = int(np.prod(shape)) * _ITEM
        self._file: Optional[BinaryIO] = None
        try:
            self._file = tempfile.TemporaryFile(dir=directory)
            _fill(self._file, self.nbytes)
        except OSError as err:
            self.close()
            where = directory or tempfile.gettempdir()
            raise DeviceError(
                f"no room for {self.nbytes / 2**20:.0f} MiB of optimiser state in {where} "
                f"({err.strerror or err}): free some space there, set TMPDIR to a folder "
                "with room, or keep no state (`tile_sweeps` 1)"
            ) from err

    def read(self, rows: slice, cols: slice) -> np.ndarray:
        """A copy of the window ``[:, :, rows, cols]`` (slices with a start and a stop,
        step 1, within the array)."""
        (r0, r1), (c0, c1) = self._bounds(rows, cols)
        out = np.empty((1, self.shape[1], r1 - r0, c1 - c0), np.float32)
        f = self._open()
        for ch in range(self.shape[1]):
            for i, r in enumerate(range(r0, r1)):
                f.seek(self._offset(ch, r, c0))
                got = f.readinto(memoryview(out[0, ch, i]).cast("B"))  # type: ignore[attr-defined]
                if got != out[0, ch, i].nbytes:
                    raise DeviceError(f"the optimiser state's file ended early ({got} bytes)")
        return out

    def write(self, rows: slice, cols: slice, values: np.ndarray) -> None:
        """Store ``values`` (float32, the window's shape) at ``[:, :, rows, cols]``."""
        (r0, r1), (c0, c1) = self._bounds(rows, cols)
        want = (1, self.shape[1], r1 - r0, c1 - c0)
        if values.shape != want:
            raise ValueError(f"values of shape {values.shape} for a window of {want}")
        values = np.ascontiguousarray(values, np.float32)
        f = self._open()
        try:
            for ch in range(self.shape[1]):
                for i, r in enumerate(range(r0, r1)):
                    f.seek(self._offset(ch, r, c0))
                    f.write(values[0, ch, i].tobytes())
            f.flush()
        except OSError as err:
            raise DeviceError(f"cannot write the optimiser state's file: {err}") from err

    def close(self) -> None:
        """Remove the file (reads and writes fail after)."""
        if self._file is not None:
            file, self._file = self._file, None
            _close(file)

    def __enter__(self) -> "SpilledArray":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> BinaryIO:
        if self._file is None:
            raise ValueError("the array's file is closed")
        return self._file

    def _offset(self, channel: int, row: int, col: int) -> int:
        _, _, h, w = self.shape
        return ((channel * h + row) * w + col) * _ITEM

    def _bounds(self, rows: slice, cols: slice) -> Tuple[Tuple[int, int], Tuple[int, int]]:
        out = []
        for s, size in ((rows, self.shape[2]), (cols, self.shape[3])):
            start, stop = s.start, s.stop
            if s.step not in (None, 1) or not (
                isinstance(start, (int, np.integer))
                and isinstance(stop, (int, np.integer))
                and 0 <= start < stop <= size
            ):
                raise ValueError(f"a window within 0..{size} with step 1, not {s}")
            out.append((int(start), int(stop)))
        return out[0], out[1]


def _close(f: BinaryIO) -> None:
    """Close ``f`` (and so remove it); data a full disk refused, still in its buffer, goes
    with it rather than raising again."""
    try:
        f.close()
    except OSError:
        pass


def _fill(f: BinaryIO, nbytes: int) -> None:
    """Write ``nbytes`` of zeros to ``f`` (its space taken now, not at a later write)."""
    zeros = bytes(_CHUNK)
    for start in range(0, nbytes, _CHUNK):
        f.write(zeros[: min(_CHUNK, nbytes - start)])
    f.flush()


class SpilledCache:
    """float32 arrays stored once under a key and read back whole, in an unnamed
    temporary file (as :class:`SpilledArray`'s), appended as they come.

    A cache, not a store: its space is not taken up front (what it will hold is known only
    as it fills), and when the disk has no room for an entry, the entry is not kept,
    nothing more is stored (a warning is logged), and :meth:`get` answers None for it, so
    the caller computes it again. ``directory``: where the file goes (default:
    ``tempfile``'s, ``$TMPDIR`` first)."""

    def __init__(self, directory: Optional[str] = None) -> None:
        self._directory = directory
        self._file: Optional[BinaryIO] = None
        self._end = 0  # bytes of whole entries
        self._entries: Dict[object, List[Tuple[int, Tuple[int, ...]]]] = {}
        self.full = False  # the disk ran out of room: nothing more is stored

    def put(self, key: object, arrays: Sequence[np.ndarray]) -> bool:
        """Store ``arrays`` (as float32) under ``key`` (once: a key is never rewritten);
        False when they were not stored (no room)."""
        if key in self._entries:
            raise ValueError(f"{key!r} is already stored")
        if self.full:
            return False
        entry = []
        try:
            f = self._open()
            f.seek(self._end)
            offset = self._end
            for array in arrays:
                data = np.asarray(array, np.float32)  # (not ascontiguousarray: it makes 0-d 1-d)
                _write_all(f, data.tobytes())  # in C order
                entry.append((offset, data.shape))
                offset += data.nbytes
        except OSError as err:
            self.full = True
            log.warning(
                "no room for the tiles' content targets in %s (%s): each visit computes them again",
                self._directory or tempfile.gettempdir(),
                err.strerror or err,
            )
            return False
        self._entries[key] = entry
        self._end = offset
        return True

    def get(self, key: object) -> Optional[List[np.ndarray]]:
        """The arrays stored under ``key`` (copies), or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        f = self._open()
        out = []
        for offset, shape in entry:
            array = np.empty(shape, np.float32)
            f.seek(offset)
            flat = memoryview(array.reshape(-1)).cast("B")  # type: ignore[arg-type]
            got = f.readinto(flat)  # type: ignore[attr-defined]
            if got != array.nbytes:
                raise DeviceError(f"the cache's file ended early ({got} bytes)")
            out.append(array)
        return out

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def close(self) -> None:
        """Remove the file (every entry is gone)."""
        if self._file is not None:
            file, self._file = self._file, None
            _close(file)
        self._entries.clear()
        self._end = 0

    def __enter__(self) -> "SpilledCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> BinaryIO:
        if self._file is None:
            # unbuffered: a write the disk cannot store fails at once and leaves nothing
            # behind in a buffer (which the next seek, or closing, would try to write again)
            self._file = tempfile.TemporaryFile(dir=self._directory, buffering=0)
        return self._file


def _write_all(f: BinaryIO, data: bytes) -> None:
    """Write all of ``data`` to the unbuffered ``f`` (which may write a part at a time)."""
    view = memoryview(data)
    while view:
        written = f.write(view)
        if not written:
            raise OSError(errno.ENOSPC, "nothing written")
        view = view[written:]
