"""Running planned jobs: in this process, or one worker process per device.

A job that fails (an unreadable image, say) is reported and the batch goes on; only a
failure that concerns every job (the weights) stops it. Results come back as
:class:`JobResult`; the caller (the CLI) decides what to print.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..errors import NeuralStyleError, summary
from ..io.images import load_inputs, save_image
from .jobs import BatchJob

log = logging.getLogger(__name__)

DONE, SKIPPED, FAILED, INTERRUPTED = "done", "skipped", "failed", "interrupted"
DIVERGED = "diverged"  # a failure; its last finite image is kept as <name>.diverged.<ext>


@dataclass
class JobResult:
    job: BatchJob
    status: str
    written: Optional[Path] = None  # the file written, if any
    epochs: int = 0
    stop_reason: Optional[str] = None
    eps: Optional[float] = None
    terms: Dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    error: Optional[str] = None

    def as_json(self) -> Dict[str, Any]:
        return {"status": self.status, **self.job.describe(),
                "written": None if self.written is None else str(self.written),
                "epochs": self.epochs, "stop_reason": self.stop_reason, "eps": self.eps,
                "loss": sum(self.terms.values()) if self.terms else None, "terms": self.terms,
                "seconds": round(self.seconds, 3), "error": self.error}


class Reporter:
    """What the runner tells as it goes; the CLI subclasses it to display progress."""

    def job_started(self, job: BatchJob) -> None:
        pass

    def epoch(self, job: BatchJob, info: Any) -> None:
        pass

    def job_finished(self, result: JobResult) -> None:
        pass


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


def run_job(job: BatchJob, stylizer: LazyStylizer, cache: Any, reporter: Reporter,
            reraise: bool = False) -> JobResult:
    """One job, start to finish; its own failures come back as a failed result (or, with
    ``reraise``, as the exception, for --traceback)."""
    from ..engine.optimise import StopReason
    from ..io.snapshots import SnapshotWriter

    started = time.perf_counter()
    reporter.job_started(job)
    snapshots = SnapshotWriter(job.snapshots)
    history: List[Any] = []
    sheet: List[Any] = []

    def on_epoch(info: Any, snapshot: Optional[np.ndarray]) -> None:
        reporter.epoch(job, info)
        if job.config.loss_plot:
            history.append(info)
        if snapshot is not None:
            snapshots(info.epoch, snapshot)
            if job.config.progress_sheet:
                sheet.append((info.epoch, snapshot))

    try:
        content, styles = load_inputs(job.content, job.style, job.config.max_long_edge,
                                      job.config.style_scale)
    except NeuralStyleError as err:
        if reraise:
            raise
        return _failed(job, str(err), started)
    engine = stylizer()  # weights and device: a failure here concerns every job
    try:
        result = engine.stylize(content, styles, job.config, on_epoch, cache)
        status = {StopReason.INTERRUPTED: INTERRUPTED, StopReason.DIVERGED: DIVERGED}.get(
            result.stop_reason, DONE)
        written = save_image(result.image, job.written_as(status))
        write_extras(job, history, sheet, result)
    except Exception as err:  # an unforeseen failure still fails only this job
        if reraise:
            raise
        text = str(err) if isinstance(err, NeuralStyleError) else f"{type(err).__name__}: {summary(err)}"
        return _failed(job, text, started)
    error = None
    if status == DIVERGED:
        error = (f"diverged at epoch {result.epochs}: the image became NaN/inf; saved the last "
                 f"finite image as {written}. Try a lower --lr (now {job.config.lr:g})")
    return JobResult(job, FAILED if error else status, written, result.epochs,
                     result.stop_reason.value, result.eps, result.terms,
                     time.perf_counter() - started, error)


def write_extras(job: BatchJob, history: List[Any], sheet: List[Any], result: Any) -> None:
    """--progress-sheet and --loss-plot, beside the job's snapshots."""
    from ..io.snapshots import progress_sheet

    if job.config.progress_sheet:
        if not sheet or sheet[-1][0] != result.epochs:
            sheet.append((result.epochs, result.image))  # the result closes the sheet
        save_image(progress_sheet(sheet), job.snapshots / "progress.jpg")
    if job.config.loss_plot and history:
        from ..io.plots import loss_plot

        loss_plot(history, job.snapshots / "loss.png")


def _failed(job: BatchJob, message: str, started: float) -> JobResult:
    return JobResult(job, FAILED, seconds=time.perf_counter() - started, error=message)


def run_sequential(jobs: Sequence[BatchJob], stylizer: LazyStylizer, cache: Any,
                   reporter: Reporter, reraise: bool = False) -> List[JobResult]:
    results: List[JobResult] = []
    for job in jobs:
        result = run_job(job, stylizer, cache, reporter, reraise)
        reporter.job_finished(result)
        results.append(result)
        if result.status == INTERRUPTED:
            break
    return results


# ---- several devices --------------------------------------------------------------------

def _worker(device: Optional[int], weights: Optional[Path], cache_dir: Optional[Path], tasks: Any,
            results: Any, stop: Any) -> None:
    from ..io.cache import StyleCache

    try:
        stylizer, cache = LazyStylizer(weights, device), StyleCache(cache_dir)
        while not stop.is_set():
            job = tasks.get()
            if job is None:
                break
            results.put(run_job(job, stylizer, cache, Reporter()))
    except KeyboardInterrupt:
        pass
    except NeuralStyleError as err:  # weights or device: tell the parent, then stop
        results.put(("fatal", device, str(err)))


def run_parallel(jobs: Sequence[BatchJob], devices: Sequence[Optional[int]], weights: Optional[Path],
                 cache_dir: Optional[Path], reporter: Reporter) -> List[JobResult]:
    """One worker process per device (spawned: MXNet must not be forked), each loading
    the weights once and taking the next job when it is free."""
    ctx = multiprocessing.get_context("spawn")
    tasks, results, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    for job in jobs:
        tasks.put(job)
    for _ in devices:
        tasks.put(None)
    workers = [ctx.Process(target=_worker, args=(d, weights, cache_dir, tasks, results, stop),
                           daemon=True) for d in devices]
    for w in workers:
        w.start()
    collected: List[JobResult] = []
    try:
        collected = _collect(len(jobs), workers, results, reporter)
    except KeyboardInterrupt:
        stop.set()
        for w in workers:  # each worker saves its running job's image and reports it
            if w.is_alive():
                os.kill(w.pid, signal.SIGINT)  # type: ignore[arg-type]
        collected += _drain(results, workers, reporter)
    finally:
        for w in workers:
            w.join(timeout=60)
    return sorted(collected, key=lambda r: r.job.index)


def _collect(count: int, workers: Sequence[Any], results: Any, reporter: Reporter) -> List[JobResult]:
    collected: List[JobResult] = []
    fatal: List[str] = []
    while len(collected) < count:
        if not any(w.is_alive() for w in workers) and results.empty():
            break
        try:
            item = results.get(timeout=0.5)
        except Exception:  # queue.Empty
            continue
        if isinstance(item, tuple):
            fatal.append(f"worker for device {item[1]}: {item[2]}")
            if len(fatal) == len(workers):
                raise NeuralStyleError("; ".join(fatal))
            continue
        reporter.job_finished(item)
        collected.append(item)
    return collected


def _drain(results: Any, workers: Sequence[Any], reporter: Reporter) -> List[JobResult]:
    out: List[JobResult] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (any(w.is_alive() for w in workers) or not results.empty()):
        try:
            item = results.get(timeout=0.5)
        except Exception:
            continue
        if isinstance(item, JobResult):
            reporter.job_finished(item)
            out.append(item)
    return out
