"""Errors and exit codes: one informative line from any error."""

from __future__ import annotations

import pytest

from neural_style.errors import (
    ConfigError,
    DeviceError,
    ExitCode,
    ImageError,
    NeuralStyleError,
    WeightsError,
    summary,
)

MXNET_MESSAGE = """Traceback (most recent call last):
  File "../src/storage/storage.cc", line 59
[bt] (0) /usr/lib/libmxnet.so(+0x1234) [0x7f]
MXNetError: Check failed: e == cudaSuccess: out of memory
"""


def test_summary_keeps_the_reason_of_an_mxnet_error() -> None:
    assert summary(MXNET_MESSAGE) == "Check failed: e == cudaSuccess: out of memory"
    assert summary(RuntimeError("one\n\n  two  \n")) == "two"
    assert summary(ValueError("")) == "ValueError"
    assert summary("x" * 1000, limit=10) == "x" * 10


@pytest.mark.parametrize(
    "error, code",
    [
        (ConfigError("x"), ExitCode.USAGE),
        (ImageError("x"), ExitCode.FAILURE),
        (WeightsError("x"), ExitCode.FAILURE),
        (DeviceError("x"), ExitCode.FAILURE),
        (NeuralStyleError("x"), ExitCode.FAILURE),
    ],
)
def test_each_error_has_its_exit_code(error: NeuralStyleError, code: ExitCode) -> None:
    assert error.exit_code == code


def test_config_errors_are_value_errors() -> None:
    """Python callers may catch the usual ValueError."""
    with pytest.raises(ValueError):
        raise ConfigError("bad")


def test_exit_codes_are_the_shells() -> None:
    import signal

    assert [int(c) for c in ExitCode] == [0, 1, 2, 129, 130, 141, 143]
    for name, code in (
        ("SIGHUP", ExitCode.HANGUP),
        ("SIGINT", ExitCode.INTERRUPTED),
        ("SIGPIPE", ExitCode.BROKEN_PIPE),
        ("SIGTERM", ExitCode.TERMINATED),
    ):
        number = getattr(signal, name)
        assert ExitCode.for_signal(number) is code and code == 128 + number
