import sys

from .cli.main import main


def _forget_caught_interrupts() -> None:
    """CPython (3.11) marks the interpreter as ended by Ctrl-C whenever a KeyboardInterrupt
    leaves an exec() of a string (dataclasses build their methods so, at import), even when
    :func:`main` catches it later; ``python -m`` then ends the process by SIGINT after
    ``sys.exit``, so SIGTERM during a run exited -2/130 rather than 143. ``main`` handled
    every interrupt it returned from: the mark is cleared (where this Python has it)."""
    try:
        import ctypes

        ctypes.c_int.in_dll(ctypes.pythonapi, "_Py_UnhandledKeyboardInterrupt").value = 0
    except (ImportError, AttributeError, ValueError, OSError):  # another Python: nothing to do
        pass


if __name__ == "__main__":  # not when multiprocessing's spawn imports this module
    status = main()
    _forget_caught_interrupts()
    sys.exit(status)
