"""Planning a batch: which images, paired how, with which settings, written where.

Everything here is checked before any heavy work: a plan either comes out whole, or a
:class:`~neural_style.errors.ConfigError` says what is wrong (with row numbers for a
manifest). Running the plan is :mod:`neural_style.runner`'s job.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import glob
import hashlib
import itertools
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from .config import Config
from .errors import ConfigError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
PAIRINGS = ("product", "zip")
#: The default output names: readable, and made unique with a short hash where two jobs
#: would otherwise share a name (same stems from different folders).
DEFAULT_TEMPLATE = "{content}_{style}{params}.jpg"


@dataclass(frozen=True)
class BatchJob:
    """One stylization: its inputs, its settings and where its result goes."""

    index: int
    content: Path
    style: Tuple[Path, ...]  # one style image, or several to blend
    output: Path
    config: Config
    snapshots: Path  # the folder for this job's e_<epoch>.jpg
    params: Dict[str, Any] = field(default_factory=dict)  # swept or per-row settings

    def written_as(self, status: str) -> Path:
        """Where an unfinished result goes (``cat.interrupted.jpg``), so that a rerun with
        --skip-existing does it again; a finished one goes to :attr:`output`."""
        if status == "done":
            return self.output
        return self.output.with_name(f"{self.output.stem}.{status}{self.output.suffix}")

    @property
    def style_label(self) -> str:
        return "+".join(p.name for p in self.style)

    def describe(self) -> Dict[str, Any]:
        return {"index": self.index, "content": str(self.content),
                "style": ",".join(str(p) for p in self.style),
                "output": str(self.output), "params": self.params}


# ---- inputs -----------------------------------------------------------------------------

def expand_images(specs: Sequence[str], flag: str) -> List[Path]:
    """Paths, globs and folders (their images, sorted) -> a list of image paths.

    A plain path is kept even if it does not exist: that job fails on its own. A glob
    that matches nothing, or a folder with no images, is a usage error.
    """
    found: List[Path] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not images:
                raise ConfigError(f"{flag}: no images in folder {spec}")
            found.extend(images)
        elif glob.has_magic(spec):
            matches = sorted(Path(m) for m in glob.glob(spec, recursive=True) if Path(m).is_file())
            if not matches:
                raise ConfigError(f"{flag}: no file matches {spec!r}")
            found.extend(matches)
        else:
            found.append(path)
    return found


def expand_styles(specs: Sequence[str]) -> List[Tuple[Path, ...]]:
    """Like :func:`expand_images`, but ``a.jpg,b.jpg`` (not an existing file) is one
    style made of several images, blended with --style-blend-weights."""
    out: List[Tuple[Path, ...]] = []
    for spec in specs:
        if "," in spec and not Path(spec).exists():
            out.append(tuple(Path(part.strip()) for part in spec.split(",") if part.strip()))
        else:
            out.extend((path,) for path in expand_images([spec], "--style-image"))
    return out


StylePair = Tuple[Path, Tuple[Path, ...]]


def pair(contents: Sequence[Path], styles: Sequence[Tuple[Path, ...]], how: str) -> List[StylePair]:
    if how == "zip":
        if len(contents) != len(styles):
            raise ConfigError(f"--pairs zip: {len(contents)} content images but {len(styles)} "
                              "style images; give as many of each, or use --pairs product")
        return list(zip(contents, styles))
    return list(itertools.product(contents, styles))


# ---- settings ---------------------------------------------------------------------------

def numeric_fields() -> Dict[str, type]:
    """Config fields a sweep or a manifest row may set, with their types."""
    hints = typing.get_type_hints(Config)
    out: Dict[str, type] = {}
    for f in dataclasses.fields(Config):
        kind = hints[f.name]
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        kind = args[0] if args else kind
        if kind in (int, float) and f.metadata.get("cli", True):
            out[f.name] = kind
    return out


def field_name(name: str, where: str) -> str:
    """``content-weight`` or ``content_weight`` -> ``content_weight``, with "did you mean"."""
    canonical = name.strip().lstrip("-").replace("-", "_")
    known = numeric_fields()
    if canonical not in known:
        close = difflib.get_close_matches(canonical, list(known), n=1)
        hint = f"; did you mean {close[0].replace('_', '-')!r}?" if close else \
            f"; choose from {', '.join(k.replace('_', '-') for k in known)}"
        raise ConfigError(f"{where}: {name!r} is not a numeric setting{hint}")
    return canonical


def parse_value(name: str, text: Any, where: str) -> Any:
    kind = numeric_fields()[name]
    try:
        return kind(text) if kind is float else int(str(text).strip())
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {name.replace('_', '-')} must be "
                          f"{'a number' if kind is float else 'a whole number'}, not {text!r}") from None


def parse_sweep(text: str) -> Tuple[str, List[Any]]:
    """``content-weight=5,10,20`` -> ``("content_weight", [5.0, 10.0, 20.0])``."""
    where = f"--sweep {text}"
    if "=" not in text:
        raise ConfigError(f"{where}: write NAME=V1,V2,... (e.g. content-weight=5,10,20)")
    name, values = text.split("=", 1)
    key = field_name(name, where)
    parsed = [parse_value(key, v, where) for v in values.split(",") if v.strip()]
    if not parsed:
        raise ConfigError(f"{where}: no values")
    return key, parsed


def _configured(base: Config, params: Dict[str, Any], where: str) -> Config:
    try:
        return base.replace(**params)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


# ---- output names -----------------------------------------------------------------------

def _params_text(params: Dict[str, Any]) -> str:
    return "".join(f"_{k}{v:g}" if isinstance(v, float) else f"_{k}{v}" for k, v in params.items())


def render(template: str, index: int, content: Path, style: Tuple[Path, ...], cfg: Config,
           params: Dict[str, Any]) -> str:
    fields = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(Config)}
    fields.update(content=content.stem, style="+".join(p.stem for p in style), index=index,
                  params=_params_text(params))
    try:
        return template.format(**fields)
    except (KeyError, IndexError, ValueError) as err:
        known = ", ".join(["content", "style", "index", "params", *numeric_fields()])
        raise ConfigError(f"--output-template {template!r}: unknown field {err}; "
                          f"use {{{known.replace(', ', '}, {')}}}") from None


def _disambiguate(jobs: List[BatchJob]) -> List[BatchJob]:
    """Default names only: a short hash of the inputs where two jobs share a name."""
    counts: Dict[Path, int] = {}
    for job in jobs:
        counts[job.output] = counts.get(job.output, 0) + 1
    out = []
    for job in jobs:
        if counts[job.output] > 1:
            styles = ",".join(str(p.resolve()) for p in job.style)
            tag = hashlib.sha256(f"{job.content.resolve()}|{styles}|{job.params}"
                                 .encode()).hexdigest()[:8]
            output = job.output.with_name(f"{job.output.stem}_{tag}{job.output.suffix}")
            job = dataclasses.replace(job, output=output, snapshots=output.with_suffix(""))
        out.append(job)
    return out


def refuse_collisions(jobs: Sequence[BatchJob]) -> None:
    seen: Dict[Path, BatchJob] = {}
    inputs = {p.resolve() for job in jobs for p in (job.content, *job.style)}
    for job in jobs:
        key = job.output.resolve()
        if key in seen:
            raise ConfigError(f"--output-template: jobs {seen[key].index} and {job.index} would both "
                              f"write {job.output}; add {{content}}, {{style}}, {{index}} or "
                              "{params} to the template")
        if key in inputs:
            raise ConfigError(f"{job.output}: an output would overwrite an input image")
        seen[key] = job


# ---- plans ------------------------------------------------------------------------------

def plan(pairs: Sequence[StylePair], base: Config, sweeps: Sequence[Tuple[str, List[Any]]],
         template: Optional[str], out_dir: Path,
         rows: Optional[Sequence[Dict[str, Any]]] = None) -> List[BatchJob]:
    """Every (pair x sweep combination) as a job; per-pair overrides in ``rows``."""
    names = [name for name, _ in sweeps]
    combos = list(itertools.product(*(values for _, values in sweeps))) or [()]
    jobs: List[BatchJob] = []
    for n, (content, style) in enumerate(pairs):
        row = dict(rows[n]) if rows else {}
        explicit_output = row.pop("output", None)
        for combo in combos:
            params = {**row, **dict(zip(names, combo))}
            cfg = _configured(base, params, f"job {len(jobs)}")
            name = render(template or DEFAULT_TEMPLATE, len(jobs), content, style, cfg, params)
            output = Path(explicit_output) if explicit_output and len(combos) == 1 else out_dir / name
            jobs.append(BatchJob(len(jobs), content, style, output, cfg, output.with_suffix(""), params))
    if template is None:
        jobs = _disambiguate(jobs)
    refuse_collisions(jobs)
    return jobs


def read_manifest(path: Path) -> Tuple[List[StylePair], List[Dict[str, Any]]]:
    """Pairs and per-row settings from ``.csv`` or ``.jsonl``; every error with its row."""
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
    try:
        Config().replace(**{k: v for k, v in settings.items() if k != "output"})
    except ConfigError as err:
        raise ConfigError(f"row {number}: {err}") from None
    return settings


def shard(jobs: Sequence[BatchJob], spec: Optional[str]) -> List[BatchJob]:
    """``I/N``: the jobs whose position modulo N is I (0 <= I < N). The N shards are
    disjoint, cover every job once, and are the same for the same command."""
    if not spec:
        return list(jobs)
    i, n = parse_shard(spec)
    return [job for job in jobs if job.index % n == i]


def parse_shard(spec: str) -> Tuple[int, int]:
    try:
        i_text, n_text = spec.split("/")
        i, n = int(i_text), int(n_text)
    except ValueError:
        raise ConfigError(f"--shard {spec}: write I/N, e.g. 0/4 (I from 0 to N-1)") from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard {spec}: I must be from 0 to N-1 and N at least 1")
    return i, n


def is_complete(path: Path) -> bool:
    """An output that exists and decodes (writes are atomic, so this is the normal case)."""
    if not path.is_file():
        return False
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.verify()
        return True
    except Exception:  # any decoding failure means: do it again
        return False


def flatten(values: Iterable[Sequence[str]]) -> List[str]:
    return [v for group in values for v in group]
