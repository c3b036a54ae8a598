"""The ``neural-style`` command: parse, plan, run, report. The only place that prints.

Flags are built from :class:`~neural_style.config.Config`'s fields, so names, types,
defaults and help come from one place. One content and one style image make one job,
written to ``--output`` (default ``<output-dir>/final.jpg``) as MXNet's example did;
several images, sweeps or a manifest make a batch named by ``--output-template``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import json
import logging
import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, NoReturn, Optional, Sequence

from .. import __version__
from ..batch.inputs import PAIRINGS, expand_images, expand_styles, flatten, pair
from ..batch.jobs import BatchJob, JobStatus
from ..batch.manifest import read_manifest
from ..batch.outputs import check_write_plan
from ..batch.plan import (
    DEFAULT_TEMPLATE,
    check_blend,
    check_output_paths,
    plan,
    refuse_collisions,
)
from ..batch.runner import JobResult, Reporter, dropped_interrupts_hidden, exit_status
from ..batch.settings import parse_sweep, refuse_repeated_sweeps
from ..batch.shard import parse_shard, shard
from ..config import RECIPES, Config, describe_recipe, field_types, parse_field
from ..engine.vgg import MIN_EDGE
from ..errors import ConfigError, ExitCode, ImageError, NeuralStyleError, flag_name, summary
from ..io.claims import clear_stale
from ..io.files import folder_problem, write_all
from ..io.images import is_complete
from ..io.locate import find_weights, order_help
from .logs import BarSafeHandler

log = logging.getLogger("neural_style")


def emit_line(line: str, signals: Optional["StopSignals"] = None) -> None:
    """One result line on stdout, written whole: in one go, while no other process
    writes its own line to the same file or pipe.

    Shard processes append to one file (``... --json >> results.jsonl`` from ``parallel``
    or ``xargs -P``) or write one pipe (``xargs -P 4 ... | consumer``). ``print`` writes
    the text and its newline in two calls, which are two system calls when stdout is
    unbuffered (``python -u``, PYTHONUNBUFFERED=1), and another process's line could land
    between them: two records on one line. Even one write() is not enough for a pipe: one
    longer than PIPE_BUF (4096 bytes on Linux) is split whenever the pipe fills, and an
    unbuffered TextIOWrapper drops what a short write left over. So the bytes are written
    by :func:`write_all` under a POSIX lock of the file (a pipe too). That lock belongs to
    the process, not to the shared descriptor (flock's would be shared by every process
    that inherited stdout, and exclude none of them). ``signals``: a stop signal that
    comes during the write takes effect after it (:meth:`StopSignals.deferred`): a line
    cut off where a full pipe interrupted the write would join the next process's."""
    try:
        with signals.deferred() if signals is not None else contextlib.nullcontext():
            _write_line(line)
    except BrokenPipeError:
        _reader_gone(signals)


def _reader_gone(signals: Optional["StopSignals"]) -> NoReturn:
    """Standard output's reader went away (``--json | head -1``): the run stops as the
    default SIGPIPE stops a Unix tool (Python ignores that signal, so the write raised),
    and as a stop signal does: the running jobs are saved (the workers' too), the summary
    goes to stderr and the exit status is 141 (128 + SIGPIPE). Before, it ended with an
    error line and no summary. Standard output is pointed at /dev/null so that nothing
    else, Python's last flush included, writes to the closed pipe."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    if signals is not None:
        signals.received = signal.SIGPIPE
    raise KeyboardInterrupt


def _write_line(line: str) -> None:
    stream = sys.stdout
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # a replaced stdout (StringIO, a test's)
        stream.write(line + "\n")
        stream.flush()
        return
    data = (line + "\n").encode(stream.encoding or "utf-8", stream.errors or "strict")
    stream.flush()  # anything written before goes first
    with _locked(fd):
        write_all(fd, data)


@contextlib.contextmanager
def _locked(fd: int) -> Iterator[None]:
    """An exclusive POSIX lock of the whole file (or pipe) ``fd`` writes to: the processes
    that take it take turns. Without one where the platform or file system has none
    (Windows, some NFS)."""
    try:
        import fcntl

        fcntl.lockf(fd, fcntl.LOCK_EX)
    except (ImportError, OSError):  # no locks here: the write alone, as before
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.lockf(fd, fcntl.LOCK_UN)


FINAL_NAME = "final.jpg"
CACHE_DIR = ".style-cache"


def usage_text(err: NeuralStyleError) -> str:
    return err.describe(flag_name)


class _Parser(argparse.ArgumentParser):
    """argparse that takes any number for a value (``--lr -1e-5``, ``--gpu -1,-1``),
    suggests the closest flag for a mistyped one, and says a usage error in one line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # argparse takes only "-1" and "-.5" for values, anything else starting with "-"
        # for an option; no option here starts with "-<digit>", "-inf" or "-nan".
        self._negative_number_matcher = _NEGATIVE_VALUE

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments:"):
            known = [s for a in self._actions for s in a.option_strings if s.startswith("--")]
            for word in message.split(":", 1)[1].split():
                close = difflib.get_close_matches(word.split("=")[0], known, n=1)
                if close:
                    message += f" (did you mean {close[0]}?)"
                    break
        repeated = re.match(r"argument (\S+): (\1[ :=].*)", message)
        if repeated:  # "argument --gpu: --gpu -2: ..." says the flag once
            message = repeated.group(2)
        # One line, not the usage block: the flags are one --help away.
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


_NEGATIVE_VALUE = re.compile(r"^-(\d|\.\d|inf|nan)", re.IGNORECASE)


def _typed(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse ``type=`` from a parser that raises :class:`NeuralStyleError`."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except NeuralStyleError as err:
            raise argparse.ArgumentTypeError(usage_text(err)) from None

    convert.__name__ = parse.__name__
    return convert


def _field_type(name: str) -> Callable[[str], Any]:
    """An argparse ``type=`` for a :class:`~neural_style.config.Config` field: its flag's
    text parsed as the library parses it (:func:`~neural_style.config.parse_field`), a bad
    one refused with the library's message, which shows how it is written."""

    def convert(text: str) -> Any:
        try:
            return parse_field(name, text)
        except NeuralStyleError as err:
            raise argparse.ArgumentTypeError(f"{flag_name(name)}: {usage_text(err)}") from None

    convert.__name__ = name
    return convert


_METAVARS = {int: "N", float: "X"}


def _shown(value: Any) -> str:
    return "none" if value is None else str(value)


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per Config field. Their argparse default is SUPPRESS, so the namespace holds
    only the flags the user gave: those override the --recipe's values."""
    types = field_types()
    group = parser.add_argument_group(
        "algorithm and output (defaults from neural_style.Config; "
        "a --recipe changes some, flags given override it)"
    )
    recipes = "; ".join(f"{name}: {describe_recipe(name)}" for name in RECIPES)
    group.add_argument(
        "--recipe",
        choices=tuple(RECIPES),
        default="faithful",
        help=f"a named set of the settings below ({recipes}); any of them given "
        "explicitly overrides the recipe's value (default: faithful)",
    )
    for f in dataclasses.fields(Config):
        meta = f.metadata
        if not meta.get("cli", True):
            continue
        flag = "--" + f.name.replace("_", "-")
        shown = "" if "(default:" in meta["help"] else f" (default: {_shown(f.default)})"
        kind = types[f.name]
        if kind is bool:
            group.add_argument(
                flag, dest=f.name, action="store_true", help=meta["help"], default=argparse.SUPPRESS
            )
            continue
        if isinstance(f.default, tuple):
            shown = f" (default: {','.join(map(str, f.default))})"
        group.add_argument(
            flag,
            *meta.get("aliases", ()),
            dest=f.name,
            type=_field_type(f.name),
            default=argparse.SUPPRESS,
            metavar=meta.get("metavar", _METAVARS.get(kind)),
            choices=meta.get("choices"),
            help=meta["help"] + shown,
        )


def _epilog() -> str:
    import textwrap

    paragraphs = [
        order_help(),
        f"Images: the content's long edge becomes --max-long-edge; each side must stay at "
        f"least {MIN_EDGE} px (VGG19 halves the image four times).",
        "Signals: Ctrl-C (SIGINT, exit 130), SIGTERM (exit 143; how Slurm, Kubernetes and "
        "timeout stop a job) or SIGHUP (exit 129) stops the running job and saves its last "
        "completed epoch's image as <name>.interrupted.<ext> beside its output, with the "
        "snapshots written so far; finished outputs are whole (written atomically), and "
        "--skip-existing reruns only what is missing. SIGKILL leaves only finished outputs "
        "(and perhaps a hidden temporary file).",
        "Exit codes: 0 done, 1 failure (in a batch: some job failed or did not run), "
        "2 usage error (also a setting that cannot work for the image, found once it is read; "
        "a batch exits 2 when every job that failed failed so), 130 interrupted (Ctrl-C), "
        "143 terminated (SIGTERM), 129 hung up (SIGHUP), 141 standard output closed (its "
        "reader went away: the run stops there, with its summary).",
    ]
    return "\n\n".join(textwrap.fill(p, 90, break_on_hyphens=False) for p in paragraphs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="neural-style",
        description="Paint a photo in the style of a painting (Gatys, Ecker & Bethge 2015), "
        "with VGG19 in MXNet.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_epilog(),
    )
    io = parser.add_argument_group("images")
    io.add_argument(
        "--content-image",
        nargs="+",
        action="append",
        metavar="PATH",
        help="the photo(s) to repaint: files, globs or folders",
    )
    io.add_argument(
        "--style-image",
        nargs="+",
        action="append",
        metavar="PATH",
        help="the painting(s) whose style to use: files, globs or folders; "
        "a,b (comma-joined) blends several styles in one job",
    )
    io.add_argument(
        "--output",
        metavar="PATH",
        help=f"the final image of a single job (default: <output-dir>/{FINAL_NAME}); "
        "the extension picks the format; without --output-dir its snapshots "
        "go beside it, in a folder named after it (out/cat.png: out/cat/)",
    )
    batch = parser.add_argument_group("batches")
    batch.add_argument(
        "--pairs",
        choices=PAIRINGS,
        default="product",
        help="every content with every style, or position by position (default: product)",
    )
    batch.add_argument(
        "--output-template",
        metavar="TEMPLATE",
        help="output names inside --output-dir, with {content} {style} {index} "
        "{params} and any setting, e.g. {content}_cw{content_weight}.jpg "
        f"(default: {DEFAULT_TEMPLATE}, made unique where names would clash)",
    )
    batch.add_argument(
        "--manifest",
        type=Path,
        metavar="FILE",
        help=".csv or .jsonl, one job per row: content, style, optional output, "
        "and any numeric setting (content_weight, stop_eps, ...); relative "
        "paths in it are relative to the manifest's folder",
    )
    batch.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        type=_typed(parse_sweep),
        help="run every value of a numeric setting, e.g. content-weight=5,10,20 "
        "(repeatable: the product of all sweeps)",
    )
    batch.add_argument(
        "--skip-existing", action="store_true", help="skip jobs whose output exists and is complete"
    )
    batch.add_argument(
        "--json",
        action="store_true",
        help="one JSON line per finished, skipped or failed job on stdout (with the job's "
        "exit_code)",
    )
    batch.add_argument(
        "--shard",
        metavar="I/N",
        type=_typed(parse_shard),
        help="run only the I-th of N disjoint parts of the jobs (I from 0 to N-1)",
    )
    batch.add_argument(
        "--dry-run",
        action="store_true",
        help="print the planned jobs as JSON lines and check each as the run would before any "
        "work (images read for their sizes, every folder it writes in; no weights, no graph, "
        "nothing created); a job or folder that would fail is reported, and the exit code is "
        "the run's",
    )
    run = parser.add_argument_group("running")
    run.add_argument(
        "--gpu",
        metavar="N[,N...]",
        default=[None],
        type=_typed(parse_devices),
        help="GPU number, -1 for the CPU, or a list for one worker per device, "
        "e.g. 0,1,2,3 (default: GPU 0 if there is one, else CPU)",
    )
    run.add_argument(
        "--weights",
        metavar="PATH",
        default=None,
        help="VGG19 weights: .params, Keras .h5 or .npz (default: the search order below)",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar or log lines")
    run.add_argument(
        "--traceback", action="store_true", help="show the Python traceback of a failure"
    )
    run.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_config_flags(parser)
    # None when not given: then a single job's snapshots follow its --output
    parser.set_defaults(output_dir=None)
    return parser


@dataclasses.dataclass(frozen=True)
class Request:
    """What the command line asks for, planned and validated before any heavy work."""

    jobs: List[BatchJob]
    devices: List[Optional[int]]
    weights: Optional[Path]
    cache_dir: Path
    quiet: bool
    traceback: bool
    json: bool
    skip_existing: bool
    dry_run: bool

    @property
    def single(self) -> bool:
        return len(self.jobs) == 1


def parse(argv: Sequence[str]) -> Request:
    """Parse, plan and validate; bad usage exits with status 2 through argparse."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        return _request(ns)
    except (ConfigError, ImageError) as err:
        parser.error(usage_text(err))


def _request(ns: argparse.Namespace) -> Request:
    # Only the flags the user gave are in the namespace (SUPPRESS); they override the recipe.
    given = {
        f.name: getattr(ns, f.name)
        for f in dataclasses.fields(Config)
        if getattr(ns, f.name, None) is not None
    }
    if ns.output_dir is None and ns.output:
        # Snapshots follow the output: --output out/cat.png puts them in out/cat/.
        given["output_dir"] = str(Path(ns.output).parent)
    config = Config.from_recipe(ns.recipe, **given)
    out_dir = Path(config.output_dir)
    jobs = _plan(ns, config, out_dir)
    check_output_paths(jobs, out_dir)  # outputs that cannot work at all
    read = [("--weights file", Path(ns.weights))] if ns.weights else []
    read += [("--manifest", ns.manifest)] if ns.manifest is not None else []
    check_write_plan(jobs, out_dir / CACHE_DIR, read)  # before any work, for every job
    return Request(
        shard(jobs, ns.shard),
        ns.gpu,
        Path(ns.weights) if ns.weights else None,
        out_dir / CACHE_DIR,
        ns.quiet,
        ns.traceback,
        ns.json,
        ns.skip_existing,
        ns.dry_run,
    )


def _plan(ns: argparse.Namespace, config: Config, out_dir: Path) -> List[BatchJob]:
    if ns.manifest is not None:
        if ns.content_image or ns.style_image:
            raise ConfigError(
                "--manifest: give the images in the manifest, not with "
                "--content-image/--style-image"
            )
        pairs, rows = read_manifest(ns.manifest)
    else:
        if not ns.content_image or not ns.style_image:
            raise ConfigError(
                "the following arguments are required: --content-image, --style-image "
                "(or --manifest)"
            )
        pairs = pair(
            expand_images(flatten(ns.content_image), "--content-image"),
            expand_styles(flatten(ns.style_image)),
            ns.pairs,
        )
        rows = None
    sweeps = ns.sweep
    refuse_repeated_sweeps(sweeps)
    single = len(pairs) == 1 and not sweeps and ns.manifest is None and ns.output_template is None
    if single:  # as MXNet's example: one image, --output or <output-dir>/final.jpg
        output = Path(ns.output) if ns.output else out_dir / FINAL_NAME
        snapshots = (
            out_dir if ns.output_dir is not None or not ns.output else output.parent / output.stem
        )
        job = BatchJob(0, pairs[0][0], pairs[0][1], output, config, snapshots)
        check_blend(config, job.style)
        refuse_collisions([job])
        return [job]
    if ns.output:
        raise ConfigError("--output names one file, and this is a batch; use --output-template")
    return plan(pairs, config, sweeps, ns.output_template, out_dir, rows)


def parse_devices(text: str) -> List[Optional[int]]:
    """``--gpu``: ``0``, ``-1`` or a list such as ``0,1`` (as a type: the last --gpu wins)."""
    try:
        devices = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(
            f"--gpu {text}: give a GPU number, -1 for the CPU, or a list such as 0,1"
        ) from None
    if not devices:
        raise ConfigError("--gpu: no device given")
    bad = [d for d in devices if d < -1]
    if bad:  # whether GPU N exists is known when its context is made (engine.device)
        raise ConfigError(f"--gpu {text}: use GPU numbers from 0, or -1 for the CPU")
    return list(devices)


def check_outputs(jobs: Sequence[BatchJob], out_dir: Path, create: bool = True) -> None:
    """Every folder the run writes in can be written, before any heavy work: the outputs'
    folders and ``out_dir`` (made if missing), and the snapshots' (made when the first
    snapshot is written). All are checked without creating anything first (what
    --dry-run does, ``create`` False), so a run that stops here leaves no folder behind;
    then the run makes its folders and checks them again."""
    made = sorted({job.output.parent for job in jobs} | {out_dir})
    later = {job.snapshots for job in jobs if _writes_snapshots(job)}
    for folder in sorted(set(made) | later):
        _refuse_unwritable(folder, folder_problem(folder))
    for folder in made if create else ():
        _refuse_unwritable(folder, folder_problem(folder, create=True))


def _writes_snapshots(job: BatchJob) -> bool:
    cfg = job.config
    return cfg.save_epochs > 0 or cfg.progress_sheet or cfg.loss_plot


def _refuse_unwritable(folder: Path, err: Optional[OSError]) -> None:
    if err is not None:
        raise ImageError(
            f"{folder}: cannot write there ({err.strerror or err}); "
            "choose another --output or --output-dir"
        )


class CliReporter(Reporter):
    """Progress on stderr (bars on a terminal, log lines otherwise); results on stdout."""

    def __init__(self, request: Request, signals: Optional["StopSignals"] = None) -> None:
        from .progress import BatchProgress

        self.request, self.signals = request, signals
        self.progress = BatchProgress(len(request.jobs), request.quiet)
        self.results: List[JobResult] = []  # every job reported, whatever ends the run

    def _stop_if_signalled(self) -> None:
        """Raise the KeyboardInterrupt of a signal already received. The handler raises it
        too, but Python drops an exception raised while a ``__del__`` runs (MXNet frees
        arrays in ``__del__`` every epoch) with only a warning: the run went on to the end,
        and SIGTERM's image was never saved as ``.interrupted`` (the workers' reporter in
        :mod:`neural_style.batch.runner` does the same)."""
        if self.signals is not None and self.signals.received is not None:
            raise KeyboardInterrupt

    def stop_asked(self) -> bool:
        return self.signals is not None and self.signals.received is not None

    def job_started(self, job: BatchJob) -> None:
        self._stop_if_signalled()  # no new job once a stop was asked for
        if not self.request.single:
            self.progress.job_started(
                f"job {job.index}: {job.content.name} + {job.style_label} -> {job.output.name}"
            )

    def epoch(self, job: BatchJob, info: Any) -> None:
        self.progress.epoch(info)
        self._stop_if_signalled()  # the loop catches it and saves the image

    def job_finished(self, result: JobResult) -> None:
        self.results.append(result)
        self.progress.job_finished()
        with self.progress.suspended():
            self._report(result)

    def _report(self, result: JobResult) -> None:
        self._log(result)
        # last: a stop signal held during the write is raised when it ends
        if self.request.json:
            emit_line(json.dumps(result.as_json(), allow_nan=False), self.signals)
        elif result.written is not None:
            emit_line(str(result.written), self.signals)

    def _log(self, result: JobResult) -> None:
        for level, note in result.notes:
            log.log(level, "%s", note)
        if result.status is JobStatus.FAILED:
            log.error("error: %s%s", _where(self.request, result.job), result.error)
        elif result.status is JobStatus.SKIPPED:
            log.info("skipped (complete): %s", result.job.output)
        elif result.status is JobStatus.INTERRUPTED:  # the one report of an interruption
            log.warning(
                "interrupted after %d epochs: the running job's image was saved as %s",
                result.epochs,
                result.written,
            )
        elif result.status is JobStatus.DONE:
            log.info(
                "%s after %d epochs (eps %.5f, loss %.4g) in %.1fs: %s",
                result.stop_reason,
                result.epochs,
                result.eps or 0.0,
                sum(result.terms.values()),
                result.seconds,
                result.written,
            )

    def close(self) -> None:
        self.progress.close()


def execute(request: Request, signals: Optional["StopSignals"] = None) -> int:
    """Run the request's jobs; returns the exit code."""
    from ..batch.runner import LazyStylizer, run_parallel, run_sequential

    if request.dry_run:
        return dry_run(request, signals)
    check_outputs(request.jobs, request.cache_dir.parent)
    if any(job.config.loss_plot for job in request.jobs):
        from ..io.plots import require_matplotlib

        require_matplotlib()
    announce_precision(request)
    started, reporter = time.perf_counter(), CliReporter(request, signals)
    interrupted = False
    try:
        todo = []
        for job in request.jobs:
            if request.skip_existing and is_complete(job.output):
                clear_stale(job.output)
                reporter.job_finished(JobResult(job, JobStatus.SKIPPED, written=job.output))
            else:
                todo.append(job)
        if len(request.devices) > 1 and todo:
            find_weights(request.weights)
            run_parallel(
                todo,
                request.devices,
                request.weights,
                request.cache_dir,
                reporter,
                claims=request.skip_existing,
            )
        elif todo:
            from ..io.cache import StyleCache

            stylizer = LazyStylizer(request.weights, request.devices[0])
            run_sequential(
                todo,
                stylizer,
                StyleCache(request.cache_dir),
                reporter,
                request.traceback,
                claims=request.skip_existing,
            )
    except KeyboardInterrupt:  # outside a job's loop (which saves its image itself)
        interrupted = True
    finally:
        reporter.close()  # the bars go before any message
    received = signals.received if signals is not None else None
    return _finish(request, reporter.results, time.perf_counter() - started, interrupted, received)


def dry_run(request: Request, signals: Optional["StopSignals"] = None) -> int:
    """--dry-run: the check of every folder the run writes in (:func:`check_outputs`,
    creating nothing; a failure is the run's line and exit code, as the run stops there
    before any job), each planned job as a JSON line on stdout, and the checks each job
    makes before any work (:func:`neural_style.batch.runner.preflight_job`: its images
    read for their sizes only; no weights, no graph). A job that would fail is reported
    as the run would report it, and the exit code is the run's: 0, or that of the
    failures (2 where each is a setting that cannot work, e.g. a --max-memory too small
    for the image's size)."""
    from ..batch.runner import exit_status, preflight_job
    from ..io.images import ShapeReader

    try:  # as the run: every folder it writes in, first (nothing is made)
        check_outputs(request.jobs, request.cache_dir.parent, create=False)
        unwritable: Optional[ImageError] = None
    except ImageError as err:
        log.error("error: %s", usage_text(err))
        unwritable = err
    read, results = ShapeReader(), []
    for job in request.jobs:
        emit_line(json.dumps(job.describe()), signals)
        result = preflight_job(job, request.devices, read)
        if result is not None:
            log.error("error: %s%s", _where(request, job), result.error)
        results.append(result or JobResult(job, JobStatus.DONE))
    if not request.single:
        failed = sum(r.status is JobStatus.FAILED for r in results)
        log.warning("dry run: %d of %d jobs would fail before any work", failed, len(results))
    if unwritable is not None:  # the run stops there, before any job: its status
        return unwritable.exit_code
    return exit_status(request.jobs, results)


def _where(request: Request, job: BatchJob) -> str:
    """How a failure line names its job: nothing for a single job."""
    if request.single:
        return ""
    return f"job {job.index} ({job.content.name} + {job.style_label}): "


def announce_precision(request: Request) -> None:
    """The start-up line: which precision each device will run in, and why; a precision
    a device cannot do fails here (exit 2), before any weights are read."""
    from ..engine.device import describe_request
    from ..engine.precision import AMX_BF16_MAX_WIDTH, amx_in_use, for_width, resolve
    from ..errors import DeviceError

    for gpu in dict.fromkeys(request.devices):
        try:
            device = describe_request(gpu)
        except DeviceError:  # a missing GPU is reported where the jobs meet it, as before
            continue
        for requested in dict.fromkeys(job.config.precision for job in request.jobs):
            chosen = resolve(requested, device)
            widest = max(
                min(job.config.tile or job.config.max_long_edge, job.config.max_long_edge)
                for job in request.jobs
                if job.config.precision == requested
            )
            note = ""
            if requested == "auto" and widest > AMX_BF16_MAX_WIDTH:
                wide = for_width(chosen, requested, widest, amx_in_use(device))
                if wide.name != chosen.name:  # the graph's width decides, size by size
                    jobs = [job for job in request.jobs if job.config.precision == requested]
                    tile = _bf16_tile(jobs, gpu)
                    keeps = f" (--tile {tile} keeps bf16)" if tile is not None else ""
                    note = (
                        f"; {wide.name} for graphs wider than {AMX_BF16_MAX_WIDTH} px, where "
                        f"oneDNN 2.4's AMX bf16 backward convolution stalls{keeps}"
                    )
            log.info("precision: %s%s", chosen, note)


def _bf16_tile(jobs: Sequence[BatchJob], gpu: Optional[int]) -> Optional[int]:
    """The --tile that keeps bf16 for every one of ``jobs`` (checked for each one's
    images, read for their shapes: :func:`neural_style.api.bf16_tile_for`), or None."""
    from ..api import bf16_tile_for
    from ..io.images import ShapeReader

    read, tiles = ShapeReader(), set()
    for job in jobs:
        try:
            tiles.add(bf16_tile_for(job.content, list(job.style), job.config, gpu, read))
        except NeuralStyleError:  # an image that cannot be read: its job reports it
            return None
        if None in tiles or len(tiles) > 1:
            return None
    return tiles.pop() if tiles else None


def _finish(
    request: Request,
    results: Sequence[JobResult],
    seconds: float,
    interrupted: bool = False,
    signum: Optional[int] = None,
) -> int:
    """The summary (a batch's counts; what an interrupted job left) and the exit code:
    0 only if every job is done or skipped; a job that never ran is not done."""
    done: Dict[int, JobStatus] = {r.job.index: r.status for r in results}
    statuses = [done.get(job.index, JobStatus.NOT_RUN) for job in request.jobs]
    counts = Counter(statuses)
    if not request.single:
        always = (JobStatus.DONE, JobStatus.FAILED)
        text = ", ".join(f"{counts[s]} {s.value}" for s in JobStatus if counts[s] or s in always)
        log.warning("batch: %s of %d jobs in %.1fs", text, len(request.jobs), seconds)
    # an interrupted job was reported with its result, once
    stopped = interrupted or signum is not None or counts[JobStatus.INTERRUPTED] > 0
    if stopped and not counts[JobStatus.INTERRUPTED]:
        log.error("%s", stop_text(signum))
    if signum is not None:
        return ExitCode.for_signal(signum)
    if stopped:
        return ExitCode.INTERRUPTED
    return exit_status(request.jobs, results)


def stop_text(signum: Optional[int]) -> str:
    """The line that says why a run stopped early."""
    if signum == getattr(signal, "SIGPIPE", None):
        return "stopped: standard output was closed (its reader went away)"
    return "interrupted"


class StopSignals:
    """SIGTERM (Slurm, Kubernetes, ``timeout``) and SIGHUP stop a run as Ctrl-C does: the
    running job's last epoch is saved as ``.interrupted``, the summary is printed and the
    exit code says which signal came (143, 129; 130 for Ctrl-C). Installed by the command
    only (a library does not take over signals), in the main thread, and restored after;
    a signal the caller ignores (``nohup``) stays ignored."""

    NAMES = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self) -> None:
        self.received: Optional[int] = None
        self._previous: Dict[int, Any] = {}
        self._deferring, self._held = 0, False
        self._hook = contextlib.ExitStack()

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for name in self.NAMES:
                number = getattr(signal, name, None)
                if number is not None and signal.getsignal(number) is not signal.SIG_IGN:
                    self._previous[number] = signal.signal(number, self._stop)
            # the handler's interrupt dropped in a __del__ is not printed as a traceback
            self._hook.enter_context(dropped_interrupts_hidden(lambda: self.received is not None))
        return self

    def _stop(self, signum: int, frame: Any) -> None:
        self.received = signum
        if self._deferring:
            self._held = True
            return
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """A block no stop signal cuts short: one that comes meanwhile raises its
        KeyboardInterrupt when the block ends (a write blocked on a full pipe goes on until
        the pipe is read; SIGKILL still ends it)."""
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
        if self._held and not self._deferring:
            self._held = False
            raise KeyboardInterrupt

    def __exit__(self, *exc: Any) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._hook.close()


@contextlib.contextmanager
def _logging_to_stderr(quiet: bool) -> Iterator[None]:
    handler = BarSafeHandler(sys.stderr, "neural-style")
    log.addHandler(handler)
    old_level, old_propagate = log.level, log.propagate
    log.setLevel(logging.ERROR if quiet else logging.INFO)
    log.propagate = False
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)
        log.propagate = old_propagate


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``neural-style`` command; returns the exit status."""
    try:
        request = parse(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exit_:  # argparse: --help, --version or a usage error
        return int(exit_.code or 0)
    _unbreakable_streams()
    with _logging_to_stderr(request.quiet), StopSignals() as signals:
        try:
            return execute(request, signals)
        except KeyboardInterrupt:
            log.error("%s", stop_text(signals.received))
            return ExitCode.for_signal(signals.received or signal.SIGINT)
        except Exception as err:  # one line, not a traceback, unless asked for
            if request.traceback:
                raise
            log.error("error: %s", _one_line(err))
            return err.exit_code if isinstance(err, NeuralStyleError) else ExitCode.FAILURE


def _unbreakable_streams() -> None:
    """A file name the terminal cannot show (bytes that are not UTF-8, on Linux) is
    printed with escapes rather than ending the run with UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)  # a TextIOWrapper's; not every stream's
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")


def _one_line(err: BaseException) -> str:
    if isinstance(err, NeuralStyleError):
        return usage_text(err)
    return f"{type(err).__name__}: {summary(err)} (run again with --traceback for details)"
