"""Style targets (Gram matrices) computed once and reused, in memory and on disk.

The key is a hash of everything the targets depend on: the style image as the
network sees it (its pixels after resizing, so file contents and size are covered),
the style layers, the pooling, the weights' fingerprint, and the precision the network
ran in (bf16 targets differ from fp32 ones in the third significant digit).
"""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from .files import write_verified

log = logging.getLogger(__name__)

Grams = List[np.ndarray]


def style_key(
    style_x: np.ndarray,
    layers: Sequence[str],
    pooling: str,
    weights_id: str,
    precision: str = "fp32",
) -> str:
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(style_x, dtype="<f4").tobytes())
    digest.update(repr((tuple(style_x.shape), tuple(layers), pooling, weights_id)).encode())
    if precision != "fp32":  # fp32 keys are those written before --precision existed
        digest.update(precision.encode())
    return digest.hexdigest()


def resampled_style_key(
    source: np.ndarray,
    shape: Sequence[int],
    layers: Sequence[str],
    pooling: str,
    weights_id: str,
    precision: str = "fp32",
) -> str:
    """The key of the style targets the tiled path computes window by window: the style
    as loaded (uint8) and the size it is resampled to, instead of the resampled pixels
    (which are never made whole)."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(source, dtype=np.uint8).data)
    digest.update(
        repr(
            # "resampled2": until 0.1's tiled targets ran in the network's precision, they were
            # fp32 under a key that could name bf16; those entries must not be reused
            ("resampled2", tuple(source.shape), tuple(shape), tuple(layers), pooling, weights_id)
        ).encode()
    )
    digest.update(precision.encode())
    return digest.hexdigest()


class StyleCache:
    """Gram matrices by key; in memory, and in ``folder`` when one is given."""

    def __init__(self, folder: Optional[Path] = None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self._memory: Dict[str, Grams] = {}

    def get_or_compute(self, key: str, compute: Callable[[], Grams]) -> Grams:
        grams = self._memory.get(key)
        if grams is None:
            grams = self._read(key)
        if grams is None:
            grams = compute()
            self._write(key, grams)
        self._memory[key] = grams
        return grams

    def _path(self, key: str) -> Optional[Path]:
        return self.folder / f"{key[:32]}.npz" if self.folder is not None else None

    def _read(self, key: str) -> Optional[Grams]:
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["key"]) != key:
                    return None
                return [data[f"gram{i}"] for i in range(int(data["count"]))]
        except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as err:
            log.warning("ignoring unreadable style cache %s (%s)", path, err)
            return None

    def _write(self, key: str, grams: Grams) -> None:
        """Encoded in memory (so a full disk cannot leave a half-closed zip behind), then
        written verified: read back whole before it takes its name."""
        path = self._path(key)
        if path is None:
            return
        buffer = io.BytesIO()
        np.savez(
            buffer,
            key=np.array(key),
            count=np.array(len(grams)),
            **{f"gram{i}": g for i, g in enumerate(grams)},
        )

        def reads_back(tmp: Path) -> None:
            with np.load(tmp, allow_pickle=False) as data:
                if str(data["key"]) != key or int(data["count"]) != len(grams):
                    raise ValueError("another key")
                for i in range(len(grams)):
                    data[f"gram{i}"]  # noqa: B018 - decompress and CRC-check each array

        try:
            write_verified(path, buffer.getvalue(), reads_back)
        except OSError as err:  # a cache is an optimisation: never fail the job for it
            log.warning(
                "could not write the style cache %s (%s); it is computed again next time",
                path,
                err.strerror or err,
            )
