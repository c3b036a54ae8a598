"""The command line: ``main(argv) -> int`` is the only place that prints or exits."""

from .main import build_parser, main, parse

__all__ = ["build_parser", "main", "parse"]
