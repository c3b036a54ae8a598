"""Numeric settings named on the command line (--sweep) or in manifest columns."""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any, Dict, List, Tuple

from ..config import RANGES, Config, field_types, number_problem, parse_field
from ..errors import ConfigError


def numeric_fields() -> Dict[str, type]:
    """Config fields a sweep or a manifest row may set, with their types."""
    types = field_types()
    return {
        f.name: types[f.name]
        for f in dataclasses.fields(Config)
        if types[f.name] in (int, float) and f.metadata.get("cli", True)
    }


def field_name(name: str, where: str) -> str:
    """``content-weight`` or ``content_weight`` -> ``content_weight``, with "did you mean"."""
    canonical = name.strip().lstrip("-").replace("-", "_")
    known = numeric_fields()
    if canonical not in known:
        close = difflib.get_close_matches(canonical, list(known), n=1)
        hint = (
            f"; did you mean {close[0].replace('_', '-')!r}?"
            if close
            else f"; choose from {', '.join(k.replace('_', '-') for k in known)}"
        )
        raise ConfigError(f"{where}: {name!r} is not a numeric setting{hint}")
    return canonical


def parse_value(name: str, text: Any, where: str, shown: str = "") -> Any:
    """A number for the field ``name`` from text (or a JSON value), parsed as its flag's
    is (:func:`~neural_style.config.parse_field`, so --max-memory 2G holds here too),
    within its range; ``shown`` is the name as the user wrote it (default: with dashes)."""
    numeric_fields()[name]  # a KeyError for a field that is not numeric, as before
    shown = shown or name.replace("_", "-")
    try:
        value = parse_field(name, text)
    except ConfigError as err:  # a number's problem follows the name; a syntax's, a colon
        joined = " " if err.message == number_problem(name, text) else ": "
        raise ConfigError(f"{where}: {shown}{joined}{err}") from None
    allowed = RANGES.get(name)
    if allowed is not None and not allowed.contains(value):
        raise ConfigError(f"{where}: {shown} must be {allowed}, not {text!r}")
    return value


def parse_sweep(text: str) -> Tuple[str, List[Any]]:
    """``content-weight=5,10,20`` -> ``("content_weight", [5.0, 10.0, 20.0])``."""
    where = f"--sweep {text}"
    if "=" not in text:
        raise ConfigError(f"{where}: write NAME=V1,V2,... (e.g. content-weight=5,10,20)")
    name, values = text.split("=", 1)
    key = field_name(name, where)
    parsed = [parse_value(key, v, where, name.strip()) for v in values.split(",") if v.strip()]
    if not parsed:
        raise ConfigError(f"{where}: no values")
    for i, value in enumerate(parsed):
        if value in parsed[:i]:
            raise ConfigError(f"{where}: the value {value:g} is listed twice")
    return key, parsed


def refuse_repeated_sweeps(sweeps: List[Tuple[str, List[Any]]]) -> None:
    """Two --sweep of one setting would make a product that sets it twice."""
    seen: Dict[str, List[Any]] = {}
    for key, values in sweeps:
        if key in seen:
            both = ",".join(f"{v:g}" for v in [*seen[key], *values])
            raise ConfigError(
                f"--sweep: {key.replace('_', '-')} is swept twice; give all its "
                f"values in one --sweep {key.replace('_', '-')}={both}"
            )
        seen[key] = values


def configured(base: Config, params: Dict[str, Any], where: str) -> Config:
    """``base`` with ``params`` applied; a bad value's error says ``where`` it came from."""
    try:
        return base.replace(**params)
    except ConfigError as err:  # parameters stay marked, for the caller to name them
        raise ConfigError(f"{where}: {err.describe(lambda f: f'`{f}`')}") from None
