"""Running planned jobs: in this process, or one worker process per device.

A job that fails (an unreadable image, say) is reported and the batch goes on; only a
failure that concerns every job (the weights) stops it. Results come back as
:class:`JobResult`; the caller (the CLI) decides what to print.
"""

from __future__ import annotations

import _thread
import contextlib
import logging
import math
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, NoReturn, Optional, Sequence, Tuple

import numpy as np

from ..errors import ExitCode, NeuralStyleError, flag_name, summary
from ..io.claims import claim
from ..io.images import is_complete, load_inputs, save_image
from .jobs import BatchJob, JobStatus
from .outputs import JobOutputs

log = logging.getLogger(__name__)


@dataclass
class JobResult:
    job: BatchJob
    status: JobStatus
    written: Optional[Path] = None  # the file written, if any
    epochs: int = 0
    stop_reason: Optional[str] = None
    eps: Optional[float] = None
    terms: Dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    error: Optional[str] = None
    error_code: Optional[int] = None  # a failure's exit status (ExitCode.USAGE: a setting)
    #: (logging level, message) for the caller to log: a worker process has no log handler
    notes: List[Tuple[int, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """The status this job alone exits with: 0 done or skipped; a failure's own (2 for
        a setting that cannot work for its image, else 1); 130 interrupted; 1 not run."""
        if self.status.finished:
            return ExitCode.OK
        if self.status is JobStatus.INTERRUPTED:
            return ExitCode.INTERRUPTED
        if self.status is JobStatus.FAILED and self.error_code is not None:
            return self.error_code
        return ExitCode.FAILURE

    def as_json(self) -> Dict[str, Any]:
        """The result as JSON values: a number that is not finite (the eps of a loop
        stopped before its first change, a diverged loss) is null, since JSON has no
        Infinity or NaN and strict parsers reject Python's spelling of them."""
        return _finite(self._fields())

    def _fields(self) -> Dict[str, Any]:
        return {
            "status": self.status.value,
            **self.job.describe(),
            "written": None if self.written is None else str(self.written),
            "epochs": self.epochs,
            "stop_reason": self.stop_reason,
            "eps": self.eps,
            "loss": sum(self.terms.values()) if self.terms else None,
            "terms": self.terms,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "exit_code": self.exit_code,
        }


def _finite(value: Any) -> Any:
    """``value`` with every float that is not finite, at any depth, replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


class Reporter:
    """What the runner tells as it goes; the CLI subclasses it to display progress."""

    def job_started(self, job: BatchJob) -> None:
        pass

    def epoch(self, job: BatchJob, info: Any) -> None:
        pass

    def job_finished(self, result: JobResult) -> None:
        pass

    def stop_asked(self) -> bool:
        """Whether a stop was asked for (a signal whose interrupt may have been lost):
        checked before waiting for a job another run holds, which no epoch would cut."""
        return False


class LazyStylizer:
    """Loads the weights when the first job that needs them comes (after its images are
    checked), once; a failure here concerns every job and is raised."""

    def __init__(self, weights: Optional[Path], gpu: Optional[int]) -> None:
        self.weights, self.gpu = weights, gpu
        self._stylizer: Any = None

    def __call__(self) -> Any:
        if self._stylizer is None:
            from ..api import Stylizer
            from ..io.locate import find_weights

            find_weights(self.weights)
            self._stylizer = Stylizer(self.weights, self.gpu)
        return self._stylizer


def run_job(
    job: BatchJob, stylizer: LazyStylizer, cache: Any, reporter: Reporter, reraise: bool = False
) -> JobResult:
    """One job, start to finish. Any exception from loading to saving comes back as a
    failed result (or, with ``reraise``, as the exception, for --traceback); only the
    weights and the device, which concern every job, are raised."""
    started = time.perf_counter()
    reporter.job_started(job)
    try:
        content, styles = load_inputs(
            job.content, job.style, job.config.max_long_edge, job.config.style_scale
        )
    except Exception as err:
        return job_failure(job, err, started, reraise, "while loading its images")
    engine = stylizer()  # weights and device: a failure here concerns every job
    try:
        return _stylize_and_save(job, engine, content, styles, cache, reporter, started)
    except Exception as err:
        return job_failure(job, err, started, reraise)


def job_failure(
    job: BatchJob, err: Exception, started: float, reraise: bool = False, stage: str = ""
) -> JobResult:
    """The one place where a job's exception becomes its result: one line, and the batch
    goes on."""
    if reraise:
        raise err
    return JobResult(
        job,
        JobStatus.FAILED,
        seconds=time.perf_counter() - started,
        error=failure_text(err, stage),
        error_code=err.exit_code if isinstance(err, NeuralStyleError) else ExitCode.FAILURE,
    )


def exit_status(jobs: Sequence[BatchJob], results: Sequence[JobResult]) -> int:
    """The exit status of ``jobs`` that were not interrupted, from their ``results``: 0
    when every job is done or skipped; 2 (a usage error) when every job that is neither
    done nor skipped failed on a setting that cannot work for its image (found once the
    image is read, e.g. a --max-memory too small for its size); else 1 (another failure,
    or a job that never ran)."""
    by_index = {r.job.index: r for r in results}
    codes = {
        by_index[job.index].exit_code if job.index in by_index else ExitCode.FAILURE for job in jobs
    } - {ExitCode.OK}
    if not codes:
        return ExitCode.OK
    return ExitCode.USAGE if codes == {ExitCode.USAGE} else ExitCode.FAILURE


def preflight_job(
    job: BatchJob, devices: Sequence[Optional[int]], read: Any = None
) -> Optional[JobResult]:
    """The checks ``job`` makes before any work on each of ``devices``
    (:func:`neural_style.api.preflight`: its images read for their shapes, no weights, no
    graph), as a failed result like the run's own, or None if it passes; ``read``: the
    image reader shared by the jobs (a :class:`~neural_style.io.images.ShapeReader`)."""
    from ..api import preflight
    from ..io.images import ShapeReader

    started = time.perf_counter()
    read = read or ShapeReader()
    try:
        for gpu in dict.fromkeys(devices):
            preflight(job.content, list(job.style), job.config, gpu, load=read)
    except Exception as err:
        return job_failure(job, err, started)
    return None


def failure_text(err: BaseException, stage: str = "") -> str:
    """One line for any exception: ours say what to do (naming parameters by their flags:
    the command prints these lines); others are named, without a stack."""
    if isinstance(err, NeuralStyleError):
        return err.describe(flag_name)
    if isinstance(err, MemoryError):
        return f"out of memory (MemoryError) {stage or 'in this job'}".strip()
    return f"{type(err).__name__}: {summary(err)}"


def _stylize_and_save(
    job: BatchJob,
    engine: Any,
    content: np.ndarray,
    styles: List[np.ndarray],
    cache: Any,
    reporter: Reporter,
    started: float,
) -> JobResult:
    from ..engine.optimise import StopReason

    outputs = JobOutputs(job)  # every path this job writes comes from here
    history: List[Any] = []
    sheet: List[Any] = []

    def on_epoch(info: Any, snapshot: Optional[np.ndarray]) -> None:
        reporter.epoch(job, info)
        if job.config.loss_plot:
            history.append(info)
        if snapshot is not None:
            save_image(snapshot, outputs.snapshot(info.epoch))
            if job.config.progress_sheet:
                sheet.append((info.epoch, snapshot))

    result = engine.stylize(content, styles, job.config, on_epoch, cache)
    reason = result.stop_reason
    target = {
        StopReason.INTERRUPTED: outputs.interrupted,
        StopReason.DIVERGED: outputs.diverged,
    }.get(reason, outputs.final)
    written = save_image(result.image, target)
    notes = remove_superseded(outputs) if target == outputs.final else []
    write_extras(outputs, history, sheet, result)
    status, error = JobStatus.DONE, None
    if reason is StopReason.INTERRUPTED:
        status = JobStatus.INTERRUPTED
    elif reason is StopReason.DIVERGED:
        status = JobStatus.FAILED
        error = (
            f"diverged at epoch {result.epochs}: the image became NaN/inf; saved the last "
            f"finite image as {written}. Try a lower --lr "
            f"(now {job.config.learning_rate:g})"
        )
    return JobResult(
        job,
        status,
        written,
        result.epochs,
        reason.value,
        result.eps,
        result.terms,
        time.perf_counter() - started,
        error,
        notes=notes,
    )


def remove_superseded(outputs: JobOutputs) -> List[Tuple[int, str]]:
    """Delete the job's images of earlier, unfinished runs, now that its output is
    written; what was done, as notes to log (a file that cannot be deleted is only
    a warning: the output is what counts)."""
    notes = []
    for path in outputs.superseded():
        try:
            path.unlink()
        except OSError as err:
            notes.append(
                (logging.WARNING, f"could not remove the out-of-date {path}: {summary(err)}")
            )
        else:
            notes.append((logging.INFO, f"removed {path}: {outputs.final.name} supersedes it"))
    return notes


def write_extras(outputs: JobOutputs, history: List[Any], sheet: List[Any], result: Any) -> None:
    """--progress-sheet and --loss-plot, beside the job's snapshots."""
    from ..io.snapshots import progress_sheet

    if outputs.sheet is not None:
        if not sheet or sheet[-1][0] != result.epochs:
            sheet.append((result.epochs, result.image))  # the result closes the sheet
        save_image(progress_sheet(sheet), outputs.sheet)
    if outputs.plot is not None and history:
        from ..io.plots import loss_plot

        loss_plot(history, outputs.plot)


Attempt = Callable[[BatchJob, bool], Optional[JobResult]]


def run_claimed(job: BatchJob, run: Callable[[], JobResult], wait: bool) -> Optional[JobResult]:
    """``run`` the job under its output's claim (:mod:`neural_style.io.claims`), as
    ``--skip-existing`` does where other runs may share the output folder: None if
    another run holds the claim (unless ``wait``: then it waits for that run's end);
    skipped if the output is complete once the claim is held (another run made it since
    this run looked)."""
    held = claim(job.output, wait)
    if held is None:
        return None
    with held:
        if is_complete(job.output):
            return JobResult(job, JobStatus.SKIPPED, written=job.output)
        return run()


def run_sequential(
    jobs: Sequence[BatchJob],
    stylizer: LazyStylizer,
    cache: Any,
    reporter: Reporter,
    reraise: bool = False,
    claims: bool = False,
) -> List[JobResult]:
    """The jobs in order, in this process. With ``claims``, a job another run is making
    is left for the end, then waited for (and skipped once that run has made it)."""
    results: List[JobResult] = []

    def attempt(job: BatchJob, wait: bool) -> Optional[JobResult]:
        def run() -> JobResult:
            return run_job(job, stylizer, cache, reporter, reraise)

        return run_claimed(job, run, wait) if claims else run()

    later = _in_turn(jobs, attempt, reporter, results, wait=False)
    if later:
        _in_turn(later, attempt, reporter, results, wait=True)
    return results


def announce_deferred(job: BatchJob, back: bool) -> None:
    """Log that another run holds the job's output claim: ``back`` when the job's turn
    comes again at the end (it is then waited for, if still held)."""
    if back:
        log.info(
            "job %d: back to %s, which another run was making (waiting for it if it still is)",
            job.index,
            job.output,
        )
    else:
        log.info("job %d: another run is making %s; back to it later", job.index, job.output)


def _in_turn(
    jobs: Sequence[BatchJob],
    attempt: Attempt,
    reporter: Reporter,
    results: List[JobResult],
    wait: bool,
) -> List[BatchJob]:
    """``attempt`` each job in order; the jobs another run holds (none after a job was
    interrupted: the run stops there)."""
    held: List[BatchJob] = []
    for job in jobs:
        if wait and reporter.stop_asked():
            return []
        if wait:
            announce_deferred(job, back=True)  # before the claim: it may be free by now
        result = attempt(job, wait)
        if result is None:
            announce_deferred(job, back=False)
            held.append(job)
            continue
        reporter.job_finished(result)
        results.append(result)
        if result.status is JobStatus.INTERRUPTED:
            return []
    return held


# ---- several devices --------------------------------------------------------------------

#: How long a worker whose parent died may take to save its running job before it exits.
ORPHAN_GRACE = 30.0


@dataclass(frozen=True)
class _Started:
    index: int
    pid: int


@dataclass(frozen=True)
class _Deferred:
    """A worker left a job that another run is making for its end (``back``: now
    returns to it); the parent says so, as :func:`run_sequential` does."""

    index: int
    back: bool


@dataclass(frozen=True)
class _Fatal:
    device: Optional[int]
    text: str


@contextlib.contextmanager
def dropped_interrupts_hidden(stopping: Callable[[], bool]) -> Iterator[None]:
    """Python cannot raise an exception out of a ``__del__`` (MXNet frees its arrays in
    ``__del__`` every epoch): when a stop signal's handler runs there, its KeyboardInterrupt
    is dropped and printed as "Exception ignored in ... Traceback" under the run's last
    lines. Once ``stopping()`` is true that interrupt is not lost (the reporters raise it
    again at the next epoch), so it is not shown; anything else goes to the hook that
    was there before."""
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if not (issubclass(unraisable.exc_type, KeyboardInterrupt) and stopping()):
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


class _StopOnce:
    """A worker's SIGINT/SIGTERM/SIGHUP: the first stops the running job as Ctrl-C does
    (its last epoch is saved); any later one is ignored, so that the terminal's Ctrl-C
    and the parent's forwarded one do not cut the saving short."""

    def __init__(self) -> None:
        self.received = False
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), self)

    def __call__(self, signum: int, frame: Any) -> None:
        if not self.received:
            self.received = True
            raise KeyboardInterrupt


class _ParentWatch:
    """A worker never outlives the main process, however it ends (even SIGKILL, which
    no handler sees): a thread waits on the pipe to the parent (closed by the kernel when
    the parent dies) and on the parent's pid, then stops the running job as Ctrl-C does,
    and ends the process after :data:`ORPHAN_GRACE` seconds whatever it is doing."""

    def __init__(self, grace: float = ORPHAN_GRACE) -> None:
        self.gone = False
        self.parent = multiprocessing.parent_process()
        self.grace = grace
        if self.parent is not None:
            threading.Thread(target=self._watch, name="parent-watch", daemon=True).start()

    def _watch(self) -> NoReturn:
        parent = self.parent
        assert parent is not None
        while parent.is_alive() and os.getppid() == parent.pid:
            parent.join(timeout=1.0)
        self.gone = True
        main = threading.main_thread().ident
        if hasattr(signal, "pthread_kill") and main is not None:
            # To the main thread itself, so that a blocking read there is interrupted too.
            signal.pthread_kill(main, signal.SIGTERM)
        else:  # no POSIX threads: the flag alone (a blocked read waits for the grace period)
            _thread.interrupt_main()
        time.sleep(self.grace)
        os._exit(ExitCode.TERMINATED)


class _StopReporter(Reporter):
    """A worker's reporter: once a stop is asked for (a signal, or the parent gone), the
    next epoch raises KeyboardInterrupt from the progress callback, where the loop catches
    it and saves the image. The signal handler's own KeyboardInterrupt usually gets there
    first, but Python drops an exception raised while a ``__del__`` runs (MXNet frees
    arrays in ``__del__`` every epoch) with only a warning, and _StopOnce ignores the
    signals after the first, so without this the job ran on until the watch's grace
    period killed it, unsaved (seen once in CI: a worker of a SIGKILLed batch left no
    image)."""

    def __init__(self, stopping: _StopOnce, watch: _ParentWatch) -> None:
        self.stopping, self.watch = stopping, watch

    def epoch(self, job: BatchJob, info: Any) -> None:
        if self.stopping.received or self.watch.gone:
            raise KeyboardInterrupt


def _worker(
    device: Optional[int],
    weights: Optional[Path],
    cache_dir: Optional[Path],
    tasks: Any,
    results: Any,
    stop: Any,
    claims: bool = False,
) -> None:
    stopping, watch = _StopOnce(), _ParentWatch()
    with dropped_interrupts_hidden(lambda: stopping.received or watch.gone):
        _work(device, weights, cache_dir, tasks, results, stop, stopping, watch, claims)


def _work(
    device: Optional[int],
    weights: Optional[Path],
    cache_dir: Optional[Path],
    tasks: Any,
    results: Any,
    stop: Any,
    stopping: _StopOnce,
    watch: _ParentWatch,
    claims: bool,
) -> None:
    from ..io.cache import StyleCache

    try:
        stylizer, cache = LazyStylizer(weights, device), StyleCache(cache_dir)

        def tell(item: Any) -> None:  # the parent gone: nobody to tell (images are saved)
            if not watch.gone:
                results.put(item)

        def attempt(job: BatchJob, wait: bool) -> Optional[JobResult]:
            def run() -> JobResult:
                tell(_Started(job.index, os.getpid()))
                return run_job(job, stylizer, cache, _StopReporter(stopping, watch))

            return run_claimed(job, run, wait) if claims else run()

        def stopped() -> bool:
            return bool(stop.is_set() or stopping.received or watch.gone)

        def next_task() -> Optional[BatchJob]:
            # Asked before the queue, not after: a job taken from it by a worker that then
            # stops is run by nobody, though the other workers go on (one stopped alone).
            return None if stopped() else tasks.get()

        later: List[BatchJob] = []  # jobs another run is making: waited for at the end
        for job in iter(next_task, None):
            result = attempt(job, False)
            if result is None:
                later.append(job)
                tell(_Deferred(job.index, back=False))
            else:
                tell(result)
        for job in later:
            if stopped():
                break
            tell(_Deferred(job.index, back=True))
            result = attempt(job, True)
            if result is not None:
                tell(result)
    except KeyboardInterrupt:
        pass
    except Exception as err:  # weights or device: tell the parent, then stop
        if not watch.gone:
            results.put(_Fatal(device, failure_text(err)))


def run_parallel(
    jobs: Sequence[BatchJob],
    devices: Sequence[Optional[int]],
    weights: Optional[Path],
    cache_dir: Optional[Path],
    reporter: Reporter,
    claims: bool = False,
) -> List[JobResult]:
    """One worker process per device (spawned: MXNet must not be forked), each loading
    the weights once and taking the next job when it is free. A job whose worker dies
    fails alone; jobs no worker took are left out of the results (not run). ``claims``:
    as :func:`run_sequential`'s, each worker leaving the jobs another run is making to
    the end of its own."""
    ctx = multiprocessing.get_context("spawn")
    tasks, results, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    for job in jobs:
        tasks.put(job)
    for _ in devices:
        tasks.put(None)
    workers = [
        ctx.Process(
            target=_worker,
            args=(d, weights, cache_dir, tasks, results, stop, claims),
            daemon=True,
            name=f"neural-style worker {d}",
        )
        for d in devices
    ]
    collector = _Collector(jobs, workers, devices, reporter)
    try:
        for w in workers:
            w.start()
        collector.collect(results)
    except KeyboardInterrupt:
        _stop(workers, stop)  # each worker saves its running job's image and reports it
        collector.drain(results)
        raise
    except Exception:  # here, not in a job (the reporter's stdout gone, every worker
        # failed): the batch ends as it would in this process. Left running, the workers
        # went on taking jobs, unreported, for _end's grace period.
        _stop(workers, stop)
        raise
    finally:
        _end(workers)
        _close(tasks)
        results.close()  # this process only reads it: no feeder thread
    return sorted(collector.collected, key=lambda r: r.job.index)


def _stop(workers: Sequence[Any], stop: Any) -> None:
    """No worker takes another job, and each stops its running one as Ctrl-C does."""
    stop.set()
    for w in workers:
        if w.is_alive() and w.pid is not None:
            os.kill(w.pid, signal.SIGINT)


def _close(tasks: Any, quiet: float = 0.2) -> None:
    """Close the task queue of ended workers, the tasks no worker took drained first. The
    feeder thread of a queue holds its semaphores until it ends, and a stopped run leaves by
    ``os._exit`` (no finalizers, see ``neural_style.__main__``): multiprocessing's resource
    tracker then printed "There appear to be 2 leaked semaphore objects" under the
    summary of every Ctrl-C or SIGTERM. The feeder ends once it has written what it
    holds, so the pipe is drained here until nothing comes for ``quiet`` seconds. As raw
    bytes, never as messages: a worker stopped inside its ``get`` may have read half a
    message, and ``get`` here then took a payload's bytes for a length and waited for
    ever (seen: ``--gpu -1,-1 --json | head -1`` never ended)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        fd = tasks._reader.fileno()
        os.set_blocking(fd, False)
        while select.select([fd], [], [], quiet)[0]:
            with contextlib.suppress(BlockingIOError):
                if not os.read(fd, 1 << 16):
                    break
    tasks.close()
    tasks.join_thread()


def _end(workers: Sequence[Any], grace: float = 60.0) -> None:
    """Join every worker; one that does not end in time is terminated, then killed."""
    deadline = time.monotonic() + grace
    for w in workers:
        if w.pid is None:
            continue
        w.join(timeout=max(0.0, deadline - time.monotonic()))
        if w.is_alive():
            w.terminate()
            w.join(timeout=5)
        if w.is_alive():
            w.kill()
            w.join()


class _Collector:
    """Results as the workers send them; the job of a worker that died becomes a failure."""

    def __init__(
        self,
        jobs: Sequence[BatchJob],
        workers: Sequence[Any],
        devices: Sequence[Optional[int]],
        reporter: Reporter,
    ) -> None:
        self.jobs = {job.index: job for job in jobs}
        self.workers, self.devices, self.reporter = workers, devices, reporter
        self.collected: List[JobResult] = []
        self.running: Dict[int, BatchJob] = {}  # worker pid -> its job
        self.started: Dict[int, float] = {}
        self.fatal: List[str] = []

    def collect(self, results: Any) -> None:
        while len(self.collected) < len(self.jobs):
            if not any(w.is_alive() for w in self.workers) and results.empty():
                self._bury()
                break
            if not self._take(results):
                self._bury()

    def drain(self, results: Any, seconds: float = 120.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and (
            any(w.is_alive() for w in self.workers) or not results.empty()
        ):
            self._take(results, fatal_ok=True)
        self._bury()

    def _take(self, results: Any, fatal_ok: bool = False) -> bool:
        try:
            item = results.get(timeout=0.5)
        except Exception:  # queue.Empty
            return False
        if isinstance(item, _Started):
            self.running[item.pid] = self.jobs[item.index]
            self.started[item.pid] = time.perf_counter()
        elif isinstance(item, _Deferred):
            announce_deferred(self.jobs[item.index], item.back)
        elif isinstance(item, _Fatal):
            self.fatal.append(f"worker for device {item.device}: {item.text}")
            if len(self.fatal) == len(self.workers) and not fatal_ok:
                raise NeuralStyleError("; ".join(self.fatal))
        else:
            self.running = {
                pid: job for pid, job in self.running.items() if job.index != item.job.index
            }
            self._add(item)
        return True

    def _bury(self) -> None:
        """Workers that died (killed, out of memory) while running a job: it failed. A
        worker that ended by itself (exit 0) was stopped before its job had an image to
        save (a stop that came while it loaded the images): that job is not run, not
        failed ("its worker process died (exit code 0)" before)."""
        for device, w in zip(self.devices, self.workers):
            job = self.running.get(w.pid)
            if job is None or w.is_alive() or w.exitcode is None:
                continue
            del self.running[w.pid]
            if w.exitcode == 0:
                continue
            how = f"signal {-w.exitcode}" if w.exitcode < 0 else f"exit code {w.exitcode}"
            self._add(
                JobResult(
                    job,
                    JobStatus.FAILED,
                    seconds=time.perf_counter() - self.started.get(w.pid, 0.0),
                    error=f"its worker process (device {device}) died ({how})",
                )
            )

    def _add(self, result: JobResult) -> None:
        self.reporter.job_finished(result)
        self.collected.append(result)
