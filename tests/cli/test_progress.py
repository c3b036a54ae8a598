"""Progress on stderr: a bar on a terminal, plain log lines otherwise, nothing when quiet."""

from __future__ import annotations

import io
import logging

import pytest

from neural_style.cli.progress import (
    LOG_EVERY,
    BarProgress,
    BatchProgress,
    LogProgress,
    NoProgress,
    describe,
    make_progress,
)
from neural_style.engine.optimise import EpochInfo


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def info(epoch: int, snapshot: bool = False, total: int = 100) -> EpochInfo:
    return EpochInfo(
        epoch, total, 0.01234, 5678.9, {"style:relu1_1": 5678.9}, 0.001, 1.25, snapshot
    )


def test_describe() -> None:
    assert describe(info(7)) == "epoch 7/100  eps 0.01234  loss 5679  lr 0.001  1.2s"


def test_log_lines_at_the_first_epoch_every_tenth_and_each_snapshot(
    caplog: pytest.LogCaptureFixture,
) -> None:
    progress = LogProgress()
    with caplog.at_level(logging.INFO, logger="neural_style"):
        for epoch in range(1, 31):
            progress(info(epoch, snapshot=epoch == 15))
    logged = [int(r.getMessage().split()[1].split("/")[0]) for r in caplog.records]
    assert logged == [1, LOG_EVERY, 15, 2 * LOG_EVERY, 3 * LOG_EVERY]


def test_the_display_follows_the_stream() -> None:
    assert isinstance(make_progress(10, quiet=True, stream=Terminal()), NoProgress)
    assert isinstance(make_progress(10, quiet=False, stream=io.StringIO()), LogProgress)
    bar = make_progress(10, quiet=False, stream=Terminal())
    assert isinstance(bar, BarProgress)
    bar.close()


def test_the_bar_counts_epochs() -> None:
    stream = Terminal()
    bar = BarProgress(5, stream)
    for epoch in range(1, 4):
        bar(info(epoch, total=5))
    bar.close()
    text = stream.getvalue()
    assert "3/5" in text and "eps=0.01234" in text


def test_batch_progress_in_a_log(caplog: pytest.LogCaptureFixture) -> None:
    progress = BatchProgress(2, quiet=False, stream=io.StringIO())
    with caplog.at_level(logging.INFO, logger="neural_style"):
        progress.job_started("job 0: a.jpg + s.jpg -> a_s.jpg")
        progress.epoch(info(1))
        progress.job_finished()
        with progress.suspended():
            pass
        progress.close()
    assert [r.getMessage() for r in caplog.records][:2] == [
        "job 0: a.jpg + s.jpg -> a_s.jpg",
        describe(info(1)),
    ]


def test_batch_progress_on_a_terminal_shows_jobs_and_epochs() -> None:
    stream = Terminal()
    progress = BatchProgress(2, quiet=False, stream=stream)
    for job in range(2):
        progress.job_started(f"job {job}")
        progress.epoch(info(1, total=3))
        progress.job_finished()
    progress.close()
    text = stream.getvalue()
    assert "2/2" in text and "job 1" in text


def test_quiet_batch_progress_writes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    stream = Terminal()
    progress = BatchProgress(2, quiet=True, stream=stream)
    with caplog.at_level(logging.INFO, logger="neural_style"):
        progress.job_started("job 0")
        progress.epoch(info(1))
        progress.job_finished()
        progress.close()
    assert stream.getvalue() == "" and caplog.records == []
