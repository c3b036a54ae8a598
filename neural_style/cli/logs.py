"""The CLI's log handler: lines on stderr, prefixed with the command's name, that never
break a progress bar (no MXNet here: imported before any work)."""

from __future__ import annotations

import logging
from typing import TextIO


class BarSafeHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Log lines on ``stream`` that never break a progress bar: on a terminal each line is
    written with tqdm's bars on that stream cleared, then redrawn below it. So every log
    line (the engine's, a claim's, a warning) is safe to emit while bars run, not only the
    ones written inside :meth:`.progress.BatchProgress.suspended`."""

    def __init__(self, stream: TextIO, prefix: str) -> None:
        super().__init__(stream)
        self.setFormatter(logging.Formatter(f"{prefix}: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            terminal = self.stream.isatty()
        except (ValueError, OSError):  # a closed stream: the base class reports it
            terminal = False
        if not terminal:
            super().emit(record)
            return
        from tqdm import tqdm

        with tqdm.external_write_mode(file=self.stream):
            super().emit(record)
