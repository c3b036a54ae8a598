"""Manifests: one job per row of a .csv or .jsonl file, every error with its line.

Lines are counted as a text editor counts them (the header is line 1, blank lines count),
and everything is checked before any work: the encoding (UTF-8, with or without a BOM), the
delimiter, repeated columns, each value (a number, within its range, never ``true``), that
every file named exists, and that no two rows are the same job or write the same output.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ..config import Config
from ..errors import ConfigError
from ..io.files import special_file_problem
from .inputs import StylePair
from .outputs import resolved
from .settings import configured, field_name, parse_value

Row = Tuple[int, Dict[str, Any]]  # (line number, column -> value)

#: Delimiters a spreadsheet may have used instead of commas.
_OTHER_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "bars"}
_MAX_SHOWN = 5


def read_manifest(path: Path) -> Tuple[List[StylePair], List[Dict[str, Any]]]:
    """Pairs and per-row settings from ``.csv`` or ``.jsonl``; every error with its line."""
    where = f"--manifest {path}"
    raw = _manifest_rows(path, _read_text(path, where), where)
    pairs: List[StylePair] = []
    rows: List[Dict[str, Any]] = []
    problems: List[str] = []
    for line, row in raw:
        try:
            pairs.append(_manifest_pair(row, path.parent, line))
            rows.append(_manifest_settings(row, line))
        except ConfigError as err:
            problems.append(str(err))
    if not problems:
        problems = _repeats(raw, pairs, rows)
    if problems:
        shown = "; ".join(problems[:_MAX_SHOWN])
        more = len(problems) - _MAX_SHOWN
        raise ConfigError(f"{where}: {shown}" + (f"; and {more} more" if more > 0 else ""))
    if not pairs:
        raise ConfigError(f"{where}: no jobs in it")
    return pairs, rows


def _read_text(path: Path, where: str) -> str:
    if path.suffix.lower() not in (".csv", ".jsonl"):
        raise ConfigError(f"{where}: use a .csv or .jsonl file")
    problem = special_file_problem(path)  # a FIFO would be read forever
    if problem is not None:
        raise ConfigError(f"{where}: {problem}")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{where}: cannot read it ({err.strerror or err})") from None
    try:
        return data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise ConfigError(
            f"{where}: line {line}: not UTF-8 (byte 0x{data[err.start]:02x} at "
            f"column {column}); save the file as UTF-8"
        ) from None


def _manifest_rows(path: Path, text: str, where: str) -> List[Row]:
    if path.suffix.lower() == ".jsonl":
        return _jsonl_rows(text, where)
    return _csv_rows(text, where)


def _jsonl_rows(text: str, where: str) -> List[Row]:
    out = []
    for line, content in enumerate(text.splitlines(), start=1):
        if not content.strip():
            continue
        try:
            row = json.loads(content, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{where}: line {line}: not JSON ({err.msg})") from None
        except ConfigError as err:
            raise ConfigError(f"{where}: line {line}: {err}") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{where}: line {line}: not a JSON object")
        out.append((line, row))
    return out


def _unique_keys(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    keys = [k for k, _ in pairs]
    for i, key in enumerate(keys):
        if key in keys[:i]:
            raise ConfigError(f"key {key!r} appears twice")
    return dict(pairs)


def _csv_rows(text: str, where: str) -> List[Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header: Optional[List[str]] = None
    out: List[Row] = []
    start = 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1  # a quoted field may span lines
            if not any(c.strip() for c in cells):
                continue  # blank lines are skipped (and counted)
            if header is None:
                header = _header(cells, line, where)
                continue
            if len(cells) > len(header):
                raise ConfigError(
                    f"{where}: line {line}: {len(cells)} values for "
                    f"{len(header)} columns; quote a value that holds a comma"
                )
            out.append((line, {k: v for k, v in zip(header, cells)}))
    except csv.Error as err:
        raise ConfigError(f"{where}: line {reader.line_num}: {err}") from None
    return out


def _header(cells: List[str], line: int, where: str) -> List[str]:
    names = [c.strip() for c in cells]
    if len(names) == 1:
        for delimiter, word in _OTHER_DELIMITERS.items():
            if delimiter in names[0]:
                raise ConfigError(
                    f"{where}: line {line}: the columns are separated by {word}; use commas"
                )
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"{where}: line {line}: column {name!r} appears twice")
        if not name:
            raise ConfigError(f"{where}: line {line}: column {i + 1} has no name")
    return names


def _manifest_pair(row: Dict[str, Any], base: Path, line: int) -> StylePair:
    missing = [k for k in ("content", "style") if row.get(k) in (None, "")]
    if missing:
        raise ConfigError(f"line {line}: no {' or '.join(missing)}")
    for column in ("content", "style"):
        if not isinstance(row[column], str):
            raise ConfigError(f"line {line}: {column} must be a path, not {row[column]!r}")

    def where(text: str) -> Path:  # relative to the manifest's folder
        return Path(text) if Path(text).is_absolute() else base / text

    style_text = row["style"].strip()
    whole = where(style_text)
    # "a.jpg,b.jpg" blends two styles, unless a file has that very name
    styles = (
        (whole,)
        if whole.exists()
        else tuple(where(p.strip()) for p in style_text.split(",") if p.strip())
    )
    content = where(row["content"].strip())
    for column, paths in (("content", (content,)), ("style", styles)):
        for p in paths:
            if not p.is_file():
                state = "is a folder" if p.is_dir() else "no such file"
                raise ConfigError(f"line {line}: {column} {p}: {state}")
    return content, styles


def _manifest_settings(row: Dict[str, Any], line: int) -> Dict[str, Any]:
    settings: Dict[str, Any] = {}
    for column, value in row.items():
        if column in ("content", "style") or value is None or value == "":
            continue
        if column == "output":
            if not isinstance(value, str):
                raise ConfigError(f"line {line}: output must be a path, not {value!r}")
            settings["output"] = value.strip()
            continue
        name = field_name(str(column), f"line {line}: column")
        if name in settings:
            raise ConfigError(f"line {line}: {column!r} sets {name} a second time")
        settings[name] = parse_value(name, value, f"line {line}", str(column))
    configured(Config(), {k: v for k, v in settings.items() if k != "output"}, f"line {line}")
    return settings


def _repeats(raw: List[Row], pairs: List[StylePair], rows: List[Dict[str, Any]]) -> List[str]:
    """Two rows that are the same job, or that write the same output."""
    problems: List[str] = []
    jobs: Dict[Any, int] = {}
    outputs: Dict[Path, int] = {}
    for (line, _), (content, styles), settings in zip(raw, pairs, rows):
        params = {k: v for k, v in settings.items() if k != "output"}
        key = (resolved(content), tuple(resolved(p) for p in styles), tuple(sorted(params.items())))
        if key in jobs and "output" not in settings:
            problems.append(f"lines {jobs[key]} and {line} are the same job")
        jobs.setdefault(key, line)
        if "output" in settings:
            out = resolved(Path(settings["output"]))
            if out in outputs:
                problems.append(f"lines {outputs[out]} and {line} both write {settings['output']}")
            outputs.setdefault(out, line)
    return problems
