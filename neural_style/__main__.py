import logging
import os
import sys

from .cli.main import main
from .errors import ExitCode

#: The statuses of a run ended by a stop signal (SIGHUP, SIGINT, SIGTERM; a closed stdout).
_SIGNALLED = (ExitCode.HANGUP, ExitCode.INTERRUPTED, ExitCode.BROKEN_PIPE, ExitCode.TERMINATED)


def _exit(status: int) -> None:
    """Exit with ``status``. After a stop (129, 130, 141, 143), by ``os._exit`` once the
    streams are flushed: CPython (3.11, 3.12) marks the interpreter as ended by Ctrl-C
    whenever a KeyboardInterrupt leaves an exec() of a string (dataclasses build their
    methods so, at import), even when :func:`main` catches it later, and ``python -m``
    then kills itself with SIGINT after ``sys.exit``: SIGTERM during a run exited -2
    rather than 143, and SIGHUP (left out of this list at first) 130 rather than 129. By
    then ``main`` has saved what it keeps; skipping the interpreter's teardown is what
    ending by the signal would have done."""
    if status not in _SIGNALLED:
        sys.exit(status)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken stream: nothing more to say
            pass
    os._exit(int(status))


if __name__ == "__main__":  # not when multiprocessing's spawn imports this module
    _exit(main())
