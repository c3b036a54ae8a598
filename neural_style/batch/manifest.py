"""Manifests: one job per row of a .csv or .jsonl file, every error with its row."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Dict, List, Tuple

from ..config import Config
from ..errors import ConfigError
from ..io.files import special_file_problem
from .inputs import StylePair
from .settings import configured, field_name, parse_value


def read_manifest(path: Path) -> Tuple[List[StylePair], List[Dict[str, Any]]]:
    """Pairs and per-row settings from ``.csv`` or ``.jsonl``; every error with its row."""
    problem = special_file_problem(path)  # a FIFO would be read forever
    if problem is not None:
        raise ConfigError(f"--manifest {path}: {problem}")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"--manifest {path}: cannot read it ({err.strerror or err})") from None
    raw = _manifest_rows(path, text)
    pairs, rows, problems = [], [], []
    for number, row in raw:
        try:
            pairs.append(_manifest_pair(row, path.parent, number))
            rows.append(_manifest_settings(row, number))
        except ConfigError as err:
            problems.append(str(err))
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ConfigError(f"--manifest {path}: {shown}")
    if not pairs:
        raise ConfigError(f"--manifest {path}: no jobs in it")
    return pairs, rows


def _manifest_rows(path: Path, text: str) -> List[Tuple[int, Dict[str, Any]]]:
    if path.suffix.lower() == ".jsonl":
        out = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ConfigError(f"--manifest {path}: row {number}: not JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise ConfigError(f"--manifest {path}: row {number}: not a JSON object")
            out.append((number, row))
        return out
    if path.suffix.lower() != ".csv":
        raise ConfigError(f"--manifest {path}: use a .csv or .jsonl file")
    reader = csv.DictReader(text.splitlines())
    return [(number, dict(row)) for number, row in enumerate(reader, start=2)]  # row 1: header


def _manifest_pair(row: Dict[str, Any], base: Path, number: int) -> StylePair:
    missing = [k for k in ("content", "style") if not row.get(k)]
    if missing:
        raise ConfigError(f"row {number}: no {' or '.join(missing)}")

    def where(text: str) -> Path:  # relative to the manifest's folder
        return Path(text) if Path(text).is_absolute() else base / text

    styles = tuple(where(p.strip()) for p in str(row["style"]).split(",") if p.strip())
    return where(str(row["content"])), styles


def _manifest_settings(row: Dict[str, Any], number: int) -> Dict[str, Any]:
    settings: Dict[str, Any] = {}
    for column, value in row.items():
        if column in ("content", "style") or value in (None, ""):
            continue
        if column == "output":
            settings["output"] = str(value)
            continue
        name = field_name(str(column), f"row {number}: column")
        settings[name] = parse_value(name, value, f"row {number}")
    configured(Config(), {k: v for k, v in settings.items() if k != "output"}, f"row {number}")
    return settings
