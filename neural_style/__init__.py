"""neural-style: paint a photo in the style of a painting (Gatys, Ecker & Bethge, 2015),
with VGG19 in an MXNet symbol graph, as MXNet's example/neural-style did.

The heavy parts (MXNet) load on first use: ``import neural_style`` stays cheap.
"""

from __future__ import annotations

from typing import Any

from .config import Config
from .errors import (
    ConfigError,
    DeviceError,
    ExitCode,
    ImageError,
    NeuralStyleError,
    WeightsError,
)

__version__ = "0.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "DeviceError",
    "ExitCode",
    "ImageError",
    "NeuralStyleError",
    "StyleResult",
    "Stylizer",
    "WeightsError",
    "stylize",
    "__version__",
]

_LAZY = {"Stylizer", "StyleResult", "stylize"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'neural_style' has no attribute {name!r}")
