"""Progress displays for the CLI: a tqdm bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
from typing import Any, Optional, TextIO

from .optimise import EpochInfo

log = logging.getLogger("neural_style")

#: Plain-log mode writes one line every this many epochs (and at each snapshot).
LOG_EVERY = 10


def describe(info: EpochInfo) -> str:
    return (f"epoch {info.epoch}/{info.max_epochs}  eps {info.eps:.5f}  loss {info.loss:.4g}"
            f"  lr {info.lr:.3g}  {info.elapsed:.1f}s")


class BarProgress:
    """A tqdm bar with epoch, eps, loss, elapsed time and ETA (to max-num-epochs)."""

    def __init__(self, total: int, stream: TextIO) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total, file=stream, unit="epoch", dynamic_ncols=True, leave=True)

    def __call__(self, info: EpochInfo) -> None:
        self._bar.set_postfix(eps=f"{info.eps:.5f}", loss=f"{info.loss:.4g}", refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


class LogProgress:
    """One log line every :data:`LOG_EVERY` epochs and at each snapshot."""

    def __call__(self, info: EpochInfo) -> None:
        if info.epoch == 1 or info.epoch % LOG_EVERY == 0 or info.snapshot_due:
            log.info(describe(info))

    def close(self) -> None:
        pass


class NoProgress:
    def __call__(self, info: EpochInfo) -> None:
        pass

    def close(self) -> None:
        pass


def make_progress(total: int, quiet: bool, stream: Optional[TextIO] = None) -> Any:
    stream = stream or sys.stderr
    if quiet:
        return NoProgress()
    if stream.isatty():
        return BarProgress(total, stream)
    return LogProgress()
