"""Running planned jobs in this process: each job's failure is its own, results come back."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, List, Tuple

import pytest
from PIL import Image

from neural_style.batch.jobs import BatchJob, JobStatus
from neural_style.batch.runner import JobResult, LazyStylizer, Reporter, run_sequential
from neural_style.config import Config
from neural_style.errors import WeightsError
from neural_style.io.cache import StyleCache
from tests.helpers import write_image

DONE, FAILED, INTERRUPTED = JobStatus.DONE, JobStatus.FAILED, JobStatus.INTERRUPTED

FAST = Config(max_long_edge=32, max_num_epochs=2, save_epochs=1, seed=0)


class Recorder(Reporter):
    def __init__(self) -> None:
        self.events: List[Tuple[str, Any]] = []

    def job_started(self, job: BatchJob) -> None:
        self.events.append(("started", job.index))

    def epoch(self, job: BatchJob, info: Any) -> None:
        self.events.append(("epoch", (job.index, info.epoch)))

    def job_finished(self, result: JobResult) -> None:
        self.events.append(("finished", (result.job.index, result.status)))


def make_jobs(
    tmp_path: Path,
    contents: List[Path],
    style: Path,
    cfg: Config = FAST,
) -> List[BatchJob]:
    out = tmp_path / "out"
    return [
        BatchJob(i, c, (style,), out / f"{c.stem}.png", cfg, out / c.stem)
        for i, c in enumerate(contents)
    ]


@pytest.fixture()
def stylizer(vgg19_random_npz: Path) -> LazyStylizer:
    return LazyStylizer(vgg19_random_npz, -1)


def test_a_bad_image_fails_only_its_job(
    tmp_path: Path, style_path: Path, stylizer: LazyStylizer
) -> None:
    good = write_image(tmp_path / "good.png")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    jobs = make_jobs(tmp_path, [good, broken, good.with_name("missing.png")], style_path)
    reporter = Recorder()
    results = run_sequential(jobs, stylizer, StyleCache(), reporter)
    assert [r.status for r in results] == [DONE, FAILED, FAILED]
    assert "not an image format" in (results[1].error or "")
    assert "no such file" in (results[2].error or "")
    assert results[0].written == jobs[0].output and results[0].epochs == 2
    with Image.open(jobs[0].output) as img:
        assert img.size == (32, 21)
    assert sorted(p.name for p in jobs[0].snapshots.iterdir()) == ["e_1.jpg", "e_2.jpg"]
    assert reporter.events[:4] == [
        ("started", 0),
        ("epoch", (0, 1)),
        ("epoch", (0, 2)),
        ("finished", (0, DONE)),
    ]
    assert reporter.events[-1] == ("finished", (2, FAILED))


def test_weights_are_loaded_once_and_only_when_needed(
    tmp_path: Path, style_path: Path, vgg19_random_npz: Path
) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"")
    lazy = LazyStylizer(tmp_path / "no-weights.params", -1)
    results = run_sequential(
        make_jobs(tmp_path, [broken], style_path), lazy, StyleCache(), Reporter()
    )
    assert results[0].status == FAILED  # its image failed first: the weights were not read
    good = write_image(tmp_path / "good.png")
    with pytest.raises(WeightsError):  # a failure that concerns every job stops the batch
        run_sequential(make_jobs(tmp_path, [good], style_path), lazy, StyleCache(), Reporter())
    lazy = LazyStylizer(vgg19_random_npz, -1)
    assert lazy() is lazy()


def test_ctrl_c_saves_the_running_job_and_stops_the_batch(
    tmp_path: Path, style_path: Path, stylizer: LazyStylizer
) -> None:
    class StopAtSecondEpoch(Recorder):
        def epoch(self, job: BatchJob, info: Any) -> None:
            if info.epoch == 2:
                raise KeyboardInterrupt

    contents = [write_image(tmp_path / f"c{i}.png", seed=i) for i in range(3)]
    jobs = make_jobs(tmp_path, contents, style_path, FAST.replace(max_num_epochs=5))
    results = run_sequential(jobs, stylizer, StyleCache(), StopAtSecondEpoch())
    assert [r.status for r in results] == [INTERRUPTED]
    assert results[0].written == tmp_path / "out" / "c0.interrupted.png"
    assert results[0].epochs == 2 and results[0].written.is_file()
    assert not jobs[0].output.exists()


def test_a_finished_job_removes_its_images_of_earlier_unfinished_runs(
    tmp_path: Path, style_path: Path, stylizer: LazyStylizer
) -> None:
    """The rerun of an interrupted (or diverged) job deletes the ``.interrupted`` and
    ``.diverged`` images it supersedes; one that is interrupted again keeps the old
    output, and another job's files are left alone."""
    contents = [write_image(tmp_path / f"c{i}.png", seed=i) for i in range(2)]
    jobs = make_jobs(tmp_path, contents, style_path)
    out = tmp_path / "out"
    out.mkdir()
    for name in ("c0.interrupted.png", "c0.diverged.png", "c1.interrupted.png"):
        write_image(out / name)
    (result,) = run_sequential(jobs[:1], stylizer, StyleCache(), Reporter())
    assert result.status == DONE, result.error
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == ["c0.png", "c1.interrupted.png"]
    assert result.notes == [  # for the caller to log: a worker process has no log handler
        (logging.INFO, f"removed {out / name}: c0.png supersedes it")
        for name in ("c0.interrupted.png", "c0.diverged.png")
    ]

    class StopAtFirstEpoch(Recorder):
        def epoch(self, job: BatchJob, info: Any) -> None:
            raise KeyboardInterrupt

    (result,) = run_sequential(jobs[:1], stylizer, StyleCache(), StopAtFirstEpoch())
    assert result.status == INTERRUPTED
    assert {"c0.png", "c0.interrupted.png"} <= {p.name for p in out.iterdir()}


def test_a_job_another_run_is_making_is_left_for_the_end_and_not_made_twice(
    tmp_path: Path, style_path: Path, stylizer: LazyStylizer
) -> None:
    """With claims (``--skip-existing``), a job whose output another run holds is left
    for the end and waited for; once that run has written it, it is skipped."""
    from neural_style.io.claims import claim

    contents = [write_image(tmp_path / f"c{i}.png", seed=i) for i in range(3)]
    jobs = make_jobs(tmp_path, contents, style_path)
    other = claim(jobs[0].output)  # another run is making job 0
    assert other is not None
    let_go = other.release

    class OtherRunEnds(Recorder):
        def job_finished(self, result: JobResult) -> None:
            super().job_finished(result)
            if result.job.index == 2:  # meanwhile the other run writes job 0 and ends
                write_image(jobs[0].output, (32, 21))
                let_go()

    reporter = OtherRunEnds()
    results = run_sequential(jobs, stylizer, StyleCache(), reporter, claims=True)
    assert [(r.job.index, r.status) for r in results] == [
        (1, DONE),
        (2, DONE),
        (0, JobStatus.SKIPPED),
    ]
    assert ("started", 0) not in reporter.events
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_file()) == [
        "c0.png",
        "c1.png",
        "c2.png",
    ]  # and no lock file left


def test_a_job_whose_other_run_failed_is_made_after_the_wait(
    tmp_path: Path, style_path: Path, stylizer: LazyStylizer
) -> None:
    from neural_style.io.claims import claim

    contents = [write_image(tmp_path / f"c{i}.png", seed=i) for i in range(2)]
    jobs = make_jobs(tmp_path, contents, style_path)
    other = claim(jobs[0].output)
    assert other is not None
    let_go = other.release

    class OtherRunFails(Recorder):
        def job_finished(self, result: JobResult) -> None:
            super().job_finished(result)
            if result.job.index == 1:
                let_go()  # and wrote nothing

    results = run_sequential(jobs, stylizer, StyleCache(), OtherRunFails(), claims=True)
    assert [(r.job.index, r.status) for r in results] == [(1, DONE), (0, DONE)]
    assert jobs[0].output.is_file()


def test_a_stop_already_asked_does_not_wait_for_another_runs_job(
    tmp_path: Path, style_path: Path, stylizer: LazyStylizer
) -> None:
    """A stop signal whose KeyboardInterrupt was dropped in a ``__del__`` at the end of a
    job is seen by the reporter (``stop_asked``); the run must not then block in the wait
    for a job another run holds (it waited until that run ended)."""
    import threading

    from neural_style.io.claims import claim

    contents = [write_image(tmp_path / f"c{i}.png", seed=i) for i in range(2)]
    jobs = make_jobs(tmp_path, contents, style_path)
    other = claim(jobs[0].output)  # another run is making job 0, and goes on
    assert other is not None

    class StopLostInADel(Recorder):
        def stop_asked(self) -> bool:
            return ("finished", (1, DONE)) in self.events  # the signal came as job 1 ended

    got: List[List[JobResult]] = []
    runner = threading.Thread(
        target=lambda: got.append(
            run_sequential(jobs, stylizer, StyleCache(), StopLostInADel(), claims=True)
        ),
        daemon=True,
    )
    try:
        runner.start()
        runner.join(timeout=60)
        assert not runner.is_alive()  # it did not wait for the other run
    finally:
        other.release()
        runner.join(timeout=60)
    assert [(r.job.index, r.status) for r in got[0]] == [(1, DONE)]  # job 0: not run


def test_extras_are_written_beside_the_snapshots(
    tmp_path: Path, style_path: Path, stylizer: LazyStylizer
) -> None:
    pytest.importorskip("matplotlib")
    cfg = FAST.replace(progress_sheet=True, loss_plot=True, save_epochs=2, max_num_epochs=3)
    (job,) = make_jobs(tmp_path, [write_image(tmp_path / "c.png")], style_path, cfg)
    (result,) = run_sequential([job], stylizer, StyleCache(), Reporter())
    assert result.status == DONE, result.error
    assert sorted(p.name for p in job.snapshots.iterdir()) == [
        "e_2.jpg",
        "loss.png",
        "progress.jpg",
    ]
    with Image.open(job.snapshots / "progress.jpg") as sheet:  # epochs 2 and 3 (the result)
        assert sheet.size == (2 * 32, 21)


def test_the_json_line_has_the_job_and_its_outcome(
    tmp_path: Path, style_path: Path, stylizer: LazyStylizer
) -> None:
    (job,) = make_jobs(tmp_path, [write_image(tmp_path / "c.png")], style_path)
    (result,) = run_sequential([job], stylizer, StyleCache(), Reporter())
    line = result.as_json()
    assert line["status"] == "done" and line["output"] == str(job.output)
    assert line["written"] == str(job.output) and line["error"] is None
    assert line["loss"] == pytest.approx(sum(line["terms"].values()))
    assert line["stop_reason"] == "max-epochs" and line["epochs"] == 2


def test_the_json_line_is_strict_json_when_a_number_is_not_finite(
    tmp_path: Path, style_path: Path, stylizer: LazyStylizer
) -> None:
    """A loop stopped before its first change has eps infinity, a diverged one a loss of
    NaN: JSON has neither, so they are null (Python would write Infinity and NaN)."""
    import dataclasses
    import json

    (job,) = make_jobs(tmp_path, [write_image(tmp_path / "c.png")], style_path)
    (result,) = run_sequential([job], stylizer, StyleCache(), Reporter())
    odd = dataclasses.replace(result, eps=float("inf"), terms={"style:relu1_1": float("nan")})
    line = json.loads(json.dumps(odd.as_json(), allow_nan=False))
    assert line["eps"] is None and line["loss"] is None
    assert line["terms"] == {"style:relu1_1": None} and line["epochs"] == result.epochs


class Failing(LazyStylizer):
    """A stylizer whose engine raises what it is given, while stylizing."""

    def __init__(self, error: Exception) -> None:
        super().__init__(None, -1)
        self.error = error

    def __call__(self) -> Any:
        error = self.error

        class Engine:
            def stylize(self, *args: Any) -> Any:
                raise error

        return Engine()


@pytest.mark.parametrize(
    "error, text",
    [
        (RuntimeError("nobody foresaw this\nsecond line"), "RuntimeError: second line"),
        (MemoryError(), "out of memory (MemoryError) in this job"),
        (WeightsError("w.params: corrupt"), "w.params: corrupt"),
    ],
)
def test_any_exception_in_a_job_becomes_its_result(
    tmp_path: Path, style_path: Path, error: Exception, text: str
) -> None:
    (job,) = make_jobs(tmp_path, [write_image(tmp_path / "c.png")], style_path)
    (result,) = run_sequential([job], Failing(error), StyleCache(), Reporter())
    assert result.status is JobStatus.FAILED and result.error == text
    with pytest.raises(type(error)):  # --traceback: the exception itself
        run_sequential([job], Failing(error), StyleCache(), Reporter(), reraise=True)


def test_a_workers_reporter_stops_the_job_once_a_stop_is_asked() -> None:
    """The signal's own KeyboardInterrupt can be lost (raised inside a ``__del__``, Python
    only warns), so a worker's progress callback raises it too, where the loop catches it."""
    from types import SimpleNamespace

    from neural_style.batch.runner import _StopReporter

    for received, gone in ((False, False), (True, False), (False, True)):
        reporter = _StopReporter(
            SimpleNamespace(received=received),  # type: ignore[arg-type]
            SimpleNamespace(gone=gone),  # type: ignore[arg-type]
        )
        if received or gone:
            with pytest.raises(KeyboardInterrupt):
                reporter.epoch(None, None)  # type: ignore[arg-type]
        else:
            reporter.epoch(None, None)  # type: ignore[arg-type]


class _Raises:
    """An object whose ``__del__`` raises: Python drops the exception and hands it to
    ``sys.unraisablehook`` (by default "Exception ignored in ... Traceback" on stderr)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __del__(self) -> None:
        raise self.error


def test_an_interrupt_dropped_in_a_del_is_hidden_only_once_a_stop_is_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stop signal's KeyboardInterrupt raised in MXNet's ``__del__`` printed a traceback
    under the batch summary (CI, Python 3.9). Once stopping it is hidden, as the run
    stops anyway; before that, and any other exception, goes to the previous hook."""
    from neural_style.batch.runner import dropped_interrupts_hidden

    shown: List[type] = []

    def previous(unraisable: Any) -> None:
        shown.append(unraisable.exc_type)

    monkeypatch.setattr(sys, "unraisablehook", previous)
    stopping = [False]
    with dropped_interrupts_hidden(lambda: stopping[0]):
        _Raises(KeyboardInterrupt())
        _Raises(ValueError("x"))
        stopping[0] = True
        _Raises(KeyboardInterrupt())  # hidden
        _Raises(ValueError("y"))
    assert sys.unraisablehook is previous
    _Raises(KeyboardInterrupt())  # the hook is given back: shown again
    assert shown == [KeyboardInterrupt, ValueError, ValueError, KeyboardInterrupt]


def test_a_jobs_exit_code_follows_its_failure_and_the_batch_status_its_jobs(
    tmp_path: Path, style_path: Path
) -> None:
    """A setting that cannot work for a job's image (a ConfigError raised once it is read)
    fails that job with exit code 2; a batch exits 2 only if each job not done failed so,
    1 with any other failure or a job not run, 0 when all are done or skipped; the line
    names parameters by their flags, as the command prints it."""
    from neural_style.batch.runner import exit_status
    from neural_style.errors import ConfigError, ExitCode

    jobs = make_jobs(tmp_path, [write_image(tmp_path / f"c{i}.png") for i in range(3)], style_path)
    bad = ConfigError("3 weights for 2 style images", field="style_blend_weights")
    (usage,) = run_sequential(jobs[:1], Failing(bad), StyleCache(), Reporter())
    (other,) = run_sequential(jobs[1:2], Failing(OSError("disk")), StyleCache(), Reporter())
    assert usage.exit_code == ExitCode.USAGE and other.exit_code == ExitCode.FAILURE
    assert usage.error == "--style-blend-weights: 3 weights for 2 style images"
    assert usage.as_json()["exit_code"] == 2
    done = [JobResult(job, DONE) for job in jobs]
    assert exit_status(jobs, done) == ExitCode.OK
    assert exit_status(jobs, [usage, *done[1:]]) == ExitCode.USAGE
    assert exit_status(jobs, [usage, other, done[2]]) == ExitCode.FAILURE
    assert exit_status(jobs, [usage, done[1]]) == ExitCode.FAILURE  # job 2 never ran


def test_the_task_queue_of_a_stopped_batch_is_let_go_even_when_its_pipe_is_full() -> None:
    """A stopped batch (Ctrl-C, SIGTERM) leaves tasks no worker took: the queue's feeder
    thread, blocked on a full pipe, held its semaphores, and since a stopped run leaves by
    os._exit the resource tracker printed "2 leaked semaphore objects" under the summary
    (seen by hand after SIGTERM of a --gpu -1,-1 batch)."""
    import multiprocessing
    import threading

    from neural_style.batch.runner import _close

    tasks = multiprocessing.get_context("spawn").Queue()
    for _ in range(40):  # 40 x 8 KiB: twice what a pipe holds, and no worker reads
        tasks.put(b"x" * 8192)
    done = threading.Event()

    def close() -> None:
        _close(tasks, quiet=0.05)
        done.set()

    closing = threading.Thread(target=close)
    closing.start()
    closing.join(timeout=60)
    assert done.is_set(), "closing the queue waited on its blocked feeder"
    assert not [t for t in threading.enumerate() if t.name == "QueueFeederThread"]


def test_the_task_queue_is_let_go_when_a_stopped_worker_read_half_a_message() -> None:
    """A worker stopped inside its ``get`` may leave half a message in the pipe: reading
    the rest as messages took payload bytes for a length and waited for ever (the parent
    of ``--gpu -1,-1 --json | head -1`` never ended)."""
    import multiprocessing
    import os
    import threading
    import time

    from neural_style.batch.runner import _close

    tasks: Any = multiprocessing.get_context("spawn").Queue()  # its pipe's ends are private
    tasks.put(None)
    while not tasks._reader.poll():  # the feeder has written it
        time.sleep(0.01)
    os.read(tasks._reader.fileno(), 1 << 16)  # a worker took it...
    # ...and left the middle of a longer one: four bytes that read as a length of 4096,
    # then fewer bytes than that
    os.write(tasks._writer.fileno(), (4096).to_bytes(4, "big") + b"x" * 100)
    done = threading.Event()

    def close() -> None:
        _close(tasks, quiet=0.05)
        done.set()

    closing = threading.Thread(target=close, daemon=True)
    closing.start()
    closing.join(timeout=30)
    assert done.is_set(), "closing the queue waited for the rest of a torn message"


@pytest.mark.slow  # two worker processes, each loading full-size weights: ~15 s
def test_an_error_in_the_main_process_stops_the_workers(
    tmp_path: Path, vgg19_random_npz: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reporter's stdout gone (``--json | head -1``): the main process stopped with
    the error, but its workers went on taking jobs, unreported, until the grace period
    of joining them ran out (seen by hand: every output made, exit 1, no summary)."""
    import time

    from neural_style.batch import runner

    class Closed(Reporter):
        def job_finished(self, result: JobResult) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    grace = 40.0
    ended: List[float] = []

    def timed_end(workers: Any) -> None:
        started = time.monotonic()
        real_end(workers, grace)
        ended.append(time.monotonic() - started)

    real_end = runner._end
    monkeypatch.setattr(runner, "_end", timed_end)
    contents = [write_image(tmp_path / f"c{i}.png", seed=i) for i in range(3)]
    style = write_image(tmp_path / "s.png", (40, 40), seed=9)
    long = Config(max_long_edge=32, max_num_epochs=100000, stop_eps=1e-12, save_epochs=0)
    jobs = make_jobs(tmp_path, contents, style, long)
    jobs[0] = make_jobs(tmp_path, contents, style, Config(max_long_edge=32, max_num_epochs=2))[0]
    with pytest.raises(BrokenPipeError):
        runner.run_parallel(jobs, [-1, -1], vgg19_random_npz, None, Closed())
    assert ended and ended[0] < grace / 2, ended  # the workers stopped when asked
    # (whether job 1 had an epoch to save as .interrupted depends on when its worker had
    # loaded the weights: under load it had not, and the check of that file was flaky)


def test_a_worker_that_ended_by_itself_leaves_its_job_not_run_and_a_killed_one_failed(
    tmp_path: Path, style_path: Path
) -> None:
    """A worker stopped while it loaded a job's images ends with exit 0 and no result:
    that job was reported as failed, "its worker process died (exit code 0)"."""
    from types import SimpleNamespace

    from neural_style.batch.runner import _Collector

    jobs = make_jobs(tmp_path, [write_image(tmp_path / f"c{i}.png") for i in range(2)], style_path)
    workers = [
        SimpleNamespace(pid=pid, exitcode=code, is_alive=lambda: False)
        for pid, code in ((1, 0), (2, -9))
    ]
    reporter = Recorder()
    collector = _Collector(jobs, workers, [-1, -1], reporter)
    collector.running = {1: jobs[0], 2: jobs[1]}
    collector._bury()
    assert [(r.job.index, r.status) for r in collector.collected] == [(1, FAILED)]
    assert "signal 9" in (collector.collected[0].error or "")
    assert collector.running == {}


def test_a_workers_deferred_job_is_announced_as_in_one_process(
    tmp_path: Path, style_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With several devices, a job another run is making was left for the end in
    silence (one process logs it); the worker now tells the parent, which logs it."""
    import queue
    from types import SimpleNamespace

    from neural_style.batch.runner import _Collector, _Deferred

    jobs = make_jobs(tmp_path, [write_image(tmp_path / f"c{i}.png") for i in range(2)], style_path)
    worker = SimpleNamespace(pid=1, exitcode=None, is_alive=lambda: True)
    collector = _Collector(jobs, [worker], [-1], Recorder())
    results: Any = queue.Queue()
    results.put(_Deferred(1, back=False))
    results.put(_Deferred(1, back=True))
    with caplog.at_level("INFO", logger="neural_style.batch.runner"):
        assert collector._take(results) and collector._take(results)
    said = [r.getMessage() for r in caplog.records]
    assert said == [
        f"job 1: another run is making {jobs[1].output}; back to it later",
        f"job 1: back to {jobs[1].output}, which another run was making "
        "(waiting for it if it still is)",
    ]
    assert collector.collected == [] and collector.running == {}


def test_a_worker_tells_the_parent_of_a_job_another_run_is_making(
    tmp_path: Path, style_path: Path, vgg19_random_npz: Path
) -> None:
    """A worker (here run in this process) sends the parent a deferral for the job whose
    claim another run holds, then the return to it, and skips it once made."""
    import queue
    import threading
    from types import SimpleNamespace

    from neural_style.batch.runner import _Deferred, _Started, _work
    from neural_style.io.claims import claim

    contents = [write_image(tmp_path / f"c{i}.png", seed=i) for i in range(2)]
    jobs = make_jobs(tmp_path, contents, style_path)
    other = claim(jobs[0].output)  # another run is making job 0
    assert other is not None
    tasks: Any = queue.Queue()
    for job in (*jobs, None):
        tasks.put(job)

    class Results(list):  # type: ignore[type-arg]
        def put(self, item: Any) -> None:
            self.append(item)
            if isinstance(item, JobResult) and item.job.index == 1:
                write_image(jobs[0].output, (32, 21))  # the other run ends
                assert other is not None
                other.release()

    results = Results()
    quiet: Any = SimpleNamespace(received=False, gone=False)  # no signal, the parent here
    _work(-1, vgg19_random_npz, None, tasks, results, threading.Event(), quiet, quiet, True)
    assert [type(r) for r in results] == [_Deferred, _Started, JobResult, _Deferred, JobResult]
    assert results[0] == _Deferred(0, back=False) and results[3] == _Deferred(0, back=True)
    assert results[1].index == 1
    assert [(r.job.index, r.status) for r in results if isinstance(r, JobResult)] == [
        (1, DONE),
        (0, JobStatus.SKIPPED),
    ]


@pytest.mark.parametrize("why", ["stop", "signal", "gone"])
def test_a_stopped_worker_leaves_every_job_in_the_queue(
    tmp_path: Path, style_path: Path, vgg19_random_npz: Path, why: str
) -> None:
    """A worker that is stopped (the batch's stop, its own signal, or its parent gone)
    takes no job from the queue: one taken and then dropped was run by no other worker."""
    import queue
    import threading
    from types import SimpleNamespace

    from neural_style.batch.runner import _work

    jobs = make_jobs(tmp_path, [write_image(tmp_path / "c.png")], style_path)
    tasks: Any = queue.Queue()
    for job in (*jobs, None):
        tasks.put(job)
    stop = threading.Event()
    if why == "stop":
        stop.set()
    stopping: Any = SimpleNamespace(received=why == "signal")
    watch: Any = SimpleNamespace(gone=why == "gone")
    results: List[Any] = []
    sink: Any = SimpleNamespace(put=results.append)
    _work(-1, vgg19_random_npz, None, tasks, sink, stop, stopping, watch, False)
    assert results == []
    assert [tasks.get_nowait() for _ in range(2)] == [jobs[0], None]
    assert not jobs[0].output.exists()


def test_a_worker_whose_parent_is_gone_sends_nothing(
    tmp_path: Path, style_path: Path, vgg19_random_npz: Path
) -> None:
    """Once the parent is gone nobody reads the results queue, and a put on it can block
    the worker's exit (the queue's feeder thread waits on a full pipe): a worker whose
    parent goes during a job sends neither the job's start nor its result, deferred or
    not, though it saves the image."""
    import queue
    import threading
    from types import SimpleNamespace

    from neural_style.batch.outputs import JobOutputs
    from neural_style.batch.runner import _work

    jobs = make_jobs(tmp_path, [write_image(tmp_path / "c.png")], style_path)
    tasks: Any = queue.Queue()
    for job in (*jobs, None):
        tasks.put(job)

    class GoneOnceTaken:  # the parent there when the job is taken, gone right after
        reads = 0

        @property
        def gone(self) -> bool:
            self.reads += 1
            return self.reads > 1

    results: List[Any] = []
    sink: Any = SimpleNamespace(put=results.append)
    quiet: Any = SimpleNamespace(received=False)
    watch: Any = GoneOnceTaken()
    _work(-1, vgg19_random_npz, None, tasks, sink, threading.Event(), quiet, watch, False)
    assert results == [] and watch.reads > 2
    assert JobOutputs(jobs[0]).interrupted.exists()  # the stopped job's image, saved
    assert tasks.get_nowait() is None  # and no more taken
