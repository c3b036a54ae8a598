"""The ``neural-style`` command: parse, validate, run, report. The only place that prints.

Flags are built from :class:`~neural_style.config.Config`'s fields, so names,
types, defaults and help come from one place.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import logging
import sys
import typing
from pathlib import Path
from typing import Any, Dict, Iterator, List, NoReturn, Optional, Sequence

from . import __version__
from .config import Config
from .errors import ConfigError, ExitCode, ImageError, NeuralStyleError, WeightsError, summary
from .images import load_pair, output_format

log = logging.getLogger("neural_style")

FETCH_HINT = "fetch them with scripts/download_vgg.sh (or: make weights), or pass --weights PATH"
FINAL_NAME = "final.jpg"


class _Parser(argparse.ArgumentParser):
    """argparse that suggests the closest flag for a mistyped one."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments:"):
            known = [s for a in self._actions for s in a.option_strings if s.startswith("--")]
            for word in message.split(":", 1)[1].split():
                close = difflib.get_close_matches(word.split("=")[0], known, n=1)
                if close:
                    message += f" (did you mean {close[0]}?)"
                    break
        super().error(message)


def _field_type(hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if typing.get_origin(hint) is typing.Union and len(args) == 1 else hint


_METAVARS = {int: "N", float: "X"}


def _shown(value: Any) -> str:
    return "auto" if value is None else str(value)


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    hints = typing.get_type_hints(Config)
    group = parser.add_argument_group("algorithm and output (defaults from neural_style.Config)")
    for f in dataclasses.fields(Config):
        meta = f.metadata
        if not meta.get("cli", True):
            continue
        flag = "--" + f.name.replace("_", "-")
        shown = "" if "(default:" in meta["help"] else f" (default: {_shown(f.default)})"
        kind = _field_type(hints[f.name])
        group.add_argument(flag, *meta.get("aliases", ()), dest=f.name, type=kind, default=f.default,
                           metavar=meta.get("metavar", _METAVARS.get(kind)),
                           choices=meta.get("choices"), help=meta["help"] + shown)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="neural-style",
        description="Paint a photo in the style of a painting (Gatys, Ecker & Bethge 2015), "
                    "with VGG19 in MXNet.",
        epilog=f"Weights: models/vgg19.params by default; {FETCH_HINT}. "
               "Exit codes: 0 done, 1 failure, 2 usage error, 130 interrupted.")
    io = parser.add_argument_group("images")
    io.add_argument("--content-image", required=True, metavar="PATH", help="the photo to repaint")
    io.add_argument("--style-image", required=True, metavar="PATH", help="the painting whose style to use")
    io.add_argument("--output", metavar="PATH",
                    help=f"the final image (default: <output-dir>/{FINAL_NAME}); "
                         "the extension picks the format")
    run = parser.add_argument_group("running")
    run.add_argument("--gpu", type=int, metavar="N", default=None,
                     help="GPU number, or -1 for the CPU (default: GPU 0 if there is one, else CPU)")
    run.add_argument("--weights", metavar="PATH", default=None,
                     help="VGG19 weights: .params, Keras .h5 or .npz (default: models/vgg19.params)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar or log lines")
    run.add_argument("--traceback", action="store_true", help="show the Python traceback of a failure")
    run.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_config_flags(parser)
    return parser


@dataclasses.dataclass(frozen=True)
class Job:
    """What the command line asks for, validated before any heavy work."""

    content: Path
    style: Path
    output: Path
    config: Config
    gpu: Optional[int]
    weights: Optional[Path]
    quiet: bool
    traceback: bool


def parse(argv: Sequence[str]) -> Job:
    """Parse and validate; bad usage exits with status 2 through argparse."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    values = {f.name: getattr(ns, f.name) for f in dataclasses.fields(Config) if hasattr(ns, f.name)}
    try:
        config = Config(**values)
        output = Path(ns.output) if ns.output else Path(config.output_dir) / FINAL_NAME
        output_format(output)
    except (ConfigError, ImageError) as err:
        parser.error(str(err))
    return Job(Path(ns.content_image), Path(ns.style_image), output, config, ns.gpu,
               Path(ns.weights) if ns.weights else None, ns.quiet, ns.traceback)


def check_paths(job: Job) -> None:
    """Output never overwrites an input; its folder exists (created) and is writable."""
    for source in (job.content, job.style):
        if source.exists() and job.output.resolve() == source.resolve():
            raise ImageError(f"{job.output}: the output would overwrite the input image; "
                             "choose another --output")
    for folder in {job.output.parent, Path(job.config.output_dir)}:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with contextlib.closing(_probe_file(folder)):
                pass
        except OSError as err:
            raise ImageError(f"{folder}: cannot write there ({err.strerror or err}); "
                             "choose another --output or --output-dir") from None


def _probe_file(folder: Path) -> Any:
    import tempfile

    return tempfile.TemporaryFile(dir=folder)


@contextlib.contextmanager
def _logging_to_stderr(quiet: bool) -> Iterator[None]:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("neural-style: %(message)s"))
    log.addHandler(handler)
    old_level, old_propagate = log.level, log.propagate
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    log.propagate = False
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)
        log.propagate = old_propagate


def run(job: Job) -> int:
    """Stylize one pair and write the result; returns the exit code."""
    check_paths(job)
    content, style = load_pair(job.content, job.style, job.config.max_long_edge)  # before weights
    from .engine import Stylizer
    from .optimise import StopReason
    from .progress import make_progress
    from .snapshots import SnapshotWriter
    from .weights import default_weights_path

    weights = job.weights or default_weights_path()
    if not weights.is_file():
        raise WeightsError(f"VGG19 weights not found at {weights}; {FETCH_HINT}")
    stylizer = Stylizer(weights if job.weights else None, job.gpu)
    progress = make_progress(job.config.max_num_epochs, job.quiet)
    snapshots = SnapshotWriter(Path(job.config.output_dir))

    def on_epoch(info: Any, snapshot: Any) -> None:
        progress(info)
        if snapshot is not None:
            snapshots(info.epoch, snapshot)

    try:
        result = stylizer.stylize(content, style, job.config, on_epoch)
    finally:
        progress.close()
    from .images import save_image

    save_image(result.image, job.output)
    log.info("%s after %d epochs (eps %.5f, loss %.4g) in %.1fs", result.stop_reason.value,
             result.epochs, result.eps, result.loss, result.seconds)
    print(job.output)
    if result.stop_reason is StopReason.INTERRUPTED:
        log.warning("interrupted: saved the image of epoch %d", result.epochs)
        return ExitCode.INTERRUPTED
    if result.stop_reason is StopReason.DIVERGED:
        log.error("diverged at epoch %d: the image became NaN/inf; saved the last finite image. "
                  "Try a lower --lr (now %g)", result.epochs, job.config.lr)
        return ExitCode.FAILURE
    return ExitCode.OK


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``neural-style`` command; returns the exit status."""
    try:
        job = parse(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exit_:  # argparse: --help, --version or a usage error
        return int(exit_.code or 0)
    with _logging_to_stderr(job.quiet):
        try:
            return run(job)
        except KeyboardInterrupt:
            log.error("interrupted")
            return ExitCode.INTERRUPTED
        except Exception as err:  # one line, not a traceback, unless asked for
            if job.traceback:
                raise
            log.error("error: %s", _one_line(err))
            return err.exit_code if isinstance(err, NeuralStyleError) else ExitCode.FAILURE


def _one_line(err: BaseException) -> str:
    if isinstance(err, NeuralStyleError):
        return str(err)
    return f"{type(err).__name__}: {summary(err)} (run again with --traceback for details)"
