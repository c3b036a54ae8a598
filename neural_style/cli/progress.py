"""Progress displays for the CLI: a tqdm bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any, Optional, TextIO

from ..engine.optimise import EpochInfo

log = logging.getLogger("neural_style")

#: Plain-log mode writes one line every this many epochs (and at each snapshot).
LOG_EVERY = 10


def describe(info: EpochInfo) -> str:
    scale = info.scale_label()
    return (
        (f"{scale}  " if scale else "")
        + f"epoch {info.epoch}/{info.max_epochs}  eps {info.eps:.5f}  loss {info.loss:.4g}"
        f"  lr {info.lr:.3g}  {info.elapsed:.1f}s{tiling(info)}"
    )


def tiling(info: EpochInfo) -> str:
    """``  scale 2 sweep 1/2 tile 7/63 ETA 312s`` for a tiled size, else ""."""
    if not info.tiles:
        return ""
    eta = "" if info.eta is None else f" ETA {info.eta:.0f}s"
    return (
        f"  scale {info.scale + 1} sweep {info.sweep}/{info.sweeps} tile "
        f"{info.tile}/{info.tiles}{eta}"
    )


class BarProgress:
    """A tqdm bar with epoch, eps, loss, elapsed time and ETA (to max-num-epochs)."""

    def __init__(self, total: int, stream: TextIO, position: int = 0) -> None:
        from tqdm import tqdm

        self._bar = tqdm(
            total=total,
            file=stream,
            unit="epoch",
            dynamic_ncols=True,
            position=position,
            leave=position == 0,
        )

    def __call__(self, info: EpochInfo) -> None:
        scale = info.scale_label()
        if scale and scale != self._bar.desc:
            self._bar.set_description_str(scale, refresh=False)
        extra = (
            {
                "tile": f"{info.tile}/{info.tiles}",
                "sweep": f"{info.sweep}/{info.sweeps}",
                "scale_eta": f"{info.eta or 0:.0f}s",
            }
            if info.tiles
            else {}
        )
        self._bar.set_postfix(
            eps=f"{info.eps:.5f}", loss=f"{info.loss:.4g}", **extra, refresh=False
        )
        self._bar.update(max(0, info.epoch - self._bar.n))  # a tiled size reports per tile

    def close(self) -> None:
        self._bar.close()


class LogProgress:
    """One log line every :data:`LOG_EVERY` epochs, at each snapshot and at the first epoch
    of each scale."""

    def __init__(self) -> None:
        self._scale = -1

    def __call__(self, info: EpochInfo) -> None:
        new_scale, self._scale = info.scale != self._scale, info.scale
        if new_scale or info.epoch % LOG_EVERY == 0 or info.snapshot_due or info.tiles:
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


class BatchProgress:
    """A bar of jobs (done of total, ETA) above the running job's bar of epochs; in plain
    log mode, a line when each job starts and the epoch lines of :class:`LogProgress`."""

    def __init__(self, jobs: int, quiet: bool, stream: Optional[TextIO] = None) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.bars = not quiet and self.stream.isatty()
        self._jobs: Any = None
        if self.bars and jobs > 1:
            from tqdm import tqdm

            self._jobs = tqdm(total=jobs, file=self.stream, unit="job", position=0, desc="batch")
        self._epochs: Any = None

    def job_started(self, text: str) -> None:
        if self.quiet:
            return
        if not self.bars:
            log.info(text)
        elif self._jobs is not None:
            self._jobs.set_description_str(text[:60], refresh=True)

    def epoch(self, info: EpochInfo) -> None:
        if self._epochs is None:
            self._epochs = (
                make_progress(info.max_epochs, self.quiet, self.stream)
                if not self.bars
                else BarProgress(info.max_epochs, self.stream, position=1 if self._jobs else 0)
            )
        self._epochs(info)

    def _close_epochs(self) -> None:
        if self._epochs is not None:
            self._epochs.close()
            self._epochs = None

    def job_finished(self) -> None:
        self._close_epochs()
        if self._jobs is not None:
            self._jobs.update(1)

    def suspended(self) -> Any:
        """A context in which lines can be written without breaking the bars."""
        if not self.bars:
            return contextlib.nullcontext()
        from tqdm import tqdm

        return tqdm.external_write_mode(file=self.stream)

    def close(self) -> None:
        self._close_epochs()
        if self._jobs is not None:
            self._jobs.close()
            self._jobs = None
