"""Where the VGG19 weights are looked for: the one search order, used by the CLI, the
library (:class:`~neural_style.api.Stylizer`) and ``neural-style-weights``.

In order:

1. ``--weights PATH`` (the ``weights`` argument of the library);
2. ``$NEURAL_STYLE_WEIGHTS``;
3. ``models/vgg19.params`` of a source checkout (where ``make weights`` writes), only
   when the package runs from one;
4. ``vgg19.params`` in the per-user cache, ``platformdirs.user_cache_dir("neural-style")``
   (e.g. ``~/.cache/neural-style``), or ``$NEURAL_STYLE_CACHE`` when set; this is where
   ``neural-style-weights`` writes by default.

The first two are explicit choices: when given, they are used or their absence is the
error (a typo in a job script must not silently pick another file). Of the last two, the
first that exists wins. Nothing is ever written inside the installed package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Mapping, Optional, Union

from ..errors import WeightsError
from .files import special_file_problem

WEIGHTS_NAME = "vgg19.params"
#: The command that fetches the weights into the user cache (a console script).
FETCH_COMMAND = "neural-style-weights"
WEIGHTS_ENV = "NEURAL_STYLE_WEIGHTS"
CACHE_ENV = "NEURAL_STYLE_CACHE"
APP_NAME = "neural-style"

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class Place:
    """One step of the search order."""

    label: str  # how the step is named to the user
    path: Optional[Path]  # None: not given, not set, or not a source checkout
    explicit: bool  # given by the user: used even if missing (then the error)

    def describe(self) -> str:
        if self.path is None:
            return (
                f"{self.label}: not {'given' if self.label.startswith('--') else 'set'}"
                if self.explicit
                else f"{self.label}: none (not running from a source checkout)"
            )
        return f"{self.label}: {self.path}"


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The per-user cache folder: ``$NEURAL_STYLE_CACHE``, else platformdirs' cache dir."""
    override = environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def cache_weights(environ: Mapping[str, str] = os.environ) -> Path:
    """Where ``neural-style-weights`` writes by default (and the last place looked)."""
    return cache_dir(environ) / WEIGHTS_NAME


def checkout_weights() -> Optional[Path]:
    """``models/vgg19.params`` of the source checkout this package runs from, or None
    when it is installed (a wheel's ``site-packages`` has no ``pyproject.toml`` beside it)."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "neural_style" / "__init__.py").is_file():
        return root / "models" / WEIGHTS_NAME
    return None


def search_order(
    explicit: Optional[PathLike] = None, environ: Mapping[str, str] = os.environ
) -> List[Place]:
    """Every place, in the order they are tried."""
    env = environ.get(WEIGHTS_ENV) or None
    return [
        Place("--weights", Path(explicit).expanduser() if explicit is not None else None, True),
        Place(f"${WEIGHTS_ENV}", Path(env).expanduser() if env else None, True),
        Place("source checkout", checkout_weights(), False),
        Place(f"user cache (${CACHE_ENV} overrides)", cache_weights(environ), False),
    ]


def chosen(places: List[Place]) -> Optional[Place]:
    """The place that will be used: the first explicit one given, else the first existing."""
    for place in places:
        if place.path is not None and (place.explicit or place.path.is_file()):
            return place
    return None


def find_weights(
    explicit: Optional[PathLike] = None, environ: Mapping[str, str] = os.environ
) -> Path:
    """The weights file to load, or a :class:`WeightsError` listing every place looked
    and the command that fetches."""
    places = search_order(explicit, environ)
    place = chosen(places)
    if place is None or place.path is None:
        raise WeightsError(not_found_message(places))
    problem = special_file_problem(place.path)  # a FIFO or a device would be read forever
    if problem == "no such file":
        raise WeightsError(not_found_message(places))
    if problem is not None:
        raise WeightsError(f"{place.path}: {problem}; give the VGG19 weights file with --weights")
    return place.path


def not_found_message(places: List[Place]) -> str:
    looked = "; ".join(_looked(p) for p in places)
    return (
        f"VGG19 weights not found. Looked at, in order: {looked}. "
        f"Fetch them with: {FETCH_COMMAND} (into the user cache), or pass --weights PATH"
    )


def _looked(place: Place) -> str:
    if place.path is None:
        return place.describe()
    state = "present" if place.path.is_file() else "missing"
    return f"{place.label} {place.path} ({state})"


def order_help(environ: Mapping[str, str] = os.environ) -> str:
    """The search order in one sentence, with this installation's paths (for --help)."""
    checkout = checkout_weights()
    steps = ["--weights PATH", f"${WEIGHTS_ENV}"]
    if checkout is not None:
        steps.append(f"{checkout} (this source checkout; make weights)")
    steps.append(f"{cache_weights(environ)} (the user cache; ${CACHE_ENV} sets its folder)")
    return (
        "Weights are looked for at: "
        + ", then ".join(steps)
        + f". {FETCH_COMMAND} fetches and verifies them into the user cache; "
        f"{FETCH_COMMAND} --list shows what is where."
    )
