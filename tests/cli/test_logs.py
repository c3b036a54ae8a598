"""The CLI's log handler: a log line never breaks a progress bar on a terminal."""

from __future__ import annotations

import io
import logging

from tqdm import tqdm

from neural_style.cli.logs import BarSafeHandler


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("neural_style", logging.INFO, __file__, 1, message, None, None)


def test_a_line_is_written_with_the_bars_cleared_then_redrawn() -> None:
    stream = Terminal()
    bar = tqdm(total=10, file=stream, desc="epochs", mininterval=0)
    bar.update(3)
    drawn = stream.getvalue()
    BarSafeHandler(stream, "neural-style").emit(_record("job 2: another run is making x.jpg"))
    after = stream.getvalue()[len(drawn) :]
    bar.close()
    before_line, line_and_rest = after.split("neural-style: job 2: another run is making x.jpg\n")
    assert before_line.endswith("\r")  # the bar's line was cleared first, not written after
    assert "epochs" in line_and_rest  # and the bar drawn again below the line


def test_without_a_terminal_the_line_is_plain() -> None:
    stream = io.StringIO()
    bar = tqdm(total=10, file=stream, desc="epochs", mininterval=0)
    bar.update(3)
    drawn = stream.getvalue()
    BarSafeHandler(stream, "neural-style").emit(_record("hello"))
    assert stream.getvalue()[len(drawn) :] == "neural-style: hello\n"
    bar.close()


def test_a_closed_stream_is_reported_by_logging_not_raised() -> None:
    stream = Terminal()
    stream.close()
    seen = []
    handler = BarSafeHandler(stream, "x")
    handler.handleError = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    handler.emit(_record("lost"))
    assert seen == ["lost"]
