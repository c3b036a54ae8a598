"""The project's exceptions and the exit codes they map to.

Every failure the tool can explain is a :class:`NeuralStyleError`; the CLI turns it
into one line on stderr and the exit code named here, in this one place.
"""

from __future__ import annotations

import enum
import re
from typing import Any, Callable, Optional, Tuple

#: A parameter named inside a message: ```max_long_edge``` (the backticks are markup).
_PARAMETER = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


def python_name(field: str) -> str:
    """How the library names a parameter: as the Python keyword (``max_long_edge``)."""
    return field


def flag_name(field: str) -> str:
    """How the command names a parameter: as its flag (``max_long_edge`` ->
    ``--max-long-edge``); the CLI, and the batch runner whose messages it prints, use it."""
    return "--" + field.replace("_", "-")


class ExitCode(enum.IntEnum):
    """Process exit statuses of the ``neural-style`` command."""

    OK = 0
    FAILURE = 1  # any failure other than bad usage
    USAGE = 2  # bad flags or values, as argparse reports them
    # Stopped by a signal: 128 + its number, as shells report it (numbers as on Linux).
    HANGUP = 129  # SIGHUP: the terminal went away
    INTERRUPTED = 130  # SIGINT: Ctrl-C
    BROKEN_PIPE = 141  # SIGPIPE (or its EPIPE): the reader of standard output went away
    TERMINATED = 143  # SIGTERM: how Slurm, Kubernetes and `timeout` stop a job

    @classmethod
    def for_signal(cls, signum: int) -> "ExitCode":
        """The status a shell reports for a process ended by ``signum`` (128 + its number)."""
        return cls(128 + signum)


class NeuralStyleError(Exception):
    """A failure the user can act on; ``str(err)`` is the one-line explanation."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str = "", field: Optional[str] = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field

    def describe(self, name: Callable[[str], str] = python_name) -> str:
        """The message with every parameter named by ``name``: the library names Python
        keywords (``style_weight``), the CLI passes a function that names flags
        (``--style-weight``). ``field`` is the parameter at fault, shown first."""
        text = _PARAMETER.sub(lambda m: name(m.group(1)), self.message)
        return f"{name(self.field)}: {text}" if self.field else text

    def __str__(self) -> str:
        return self.describe()

    def __reduce__(self) -> Tuple[Any, ...]:  # keeps ``field`` across processes
        return type(self), (self.message, self.field)


class ConfigError(NeuralStyleError, ValueError):
    """An option value that cannot work (a usage error); ``field`` names the parameter,
    as in ``ConfigError("must be 0 or more, not -1", field="style_weight")``."""

    exit_code = ExitCode.USAGE


class ImageError(NeuralStyleError):
    """An input image that cannot be read, or an output that cannot be written."""


class WeightsError(NeuralStyleError):
    """Missing, corrupt or mismatched network weights."""


class DeviceError(NeuralStyleError):
    """The requested device (GPU) is not available, or ran out of memory."""


def summary(err: "BaseException | str", limit: int = 300) -> str:
    """The informative line of an error message, without MXNet's C++ stack or prefixes.

    MXNet's messages start with "Traceback (most recent call last):" and a C++ stack and
    end with the reason ("MXNetError: Check failed: ..."); pip's and urllib's end with it too.
    """
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    if not lines:
        return type(err).__name__ if isinstance(err, BaseException) else "no message"
    return lines[-1].replace("MXNetError: ", "", 1)[:limit]
