"""Planning a batch: which images, paired how, with which settings, written where.

Everything here is checked before any heavy work: a plan either comes out whole, or a
:class:`~neural_style.errors.ConfigError` says what is wrong (with row numbers for a
manifest). Running the plan is :mod:`neural_style.batch.runner`'s job.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..config import Config
from ..errors import ConfigError
from ..io.files import temp_name_length
from ..io.images import output_format
from .inputs import StylePair
from .jobs import BatchJob
from .settings import configured, numeric_fields

#: The default output names: readable, and made unique with a short hash where two jobs
#: would otherwise share a name (same stems from different folders).
DEFAULT_TEMPLATE = "{content}_{style}{params}.jpg"


def _params_text(params: Dict[str, Any]) -> str:
    return "".join(f"_{k}{v:g}" if isinstance(v, float) else f"_{k}{v}" for k, v in params.items())


def render(
    template: str,
    index: int,
    content: Path,
    style: Tuple[Path, ...],
    cfg: Config,
    params: Dict[str, Any],
) -> str:
    fields = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(Config)}
    fields.update(
        content=content.stem,
        style="+".join(p.stem for p in style),
        index=index,
        params=_params_text(params),
    )
    try:
        return template.format(**fields)
    except (KeyError, IndexError, ValueError) as err:
        known = ", ".join(["content", "style", "index", "params", *numeric_fields()])
        raise ConfigError(
            f"--output-template {template!r}: unknown field {err}; "
            f"use {{{known.replace(', ', '}, {')}}}"
        ) from None


def _disambiguate(jobs: List[BatchJob]) -> List[BatchJob]:
    """Default names only: a short hash of the inputs where two jobs share a name."""
    counts: Dict[Path, int] = {}
    for job in jobs:
        counts[job.output] = counts.get(job.output, 0) + 1
    out = []
    for job in jobs:
        if counts[job.output] > 1:
            styles = ",".join(str(p.resolve()) for p in job.style)
            tag = hashlib.sha256(
                f"{job.content.resolve()}|{styles}|{job.params}".encode()
            ).hexdigest()[:8]
            output = job.output.with_name(f"{job.output.stem}_{tag}{job.output.suffix}")
            job = dataclasses.replace(job, output=output, snapshots=output.with_suffix(""))
        out.append(job)
    return out


def refuse_collisions(jobs: Sequence[BatchJob], template: Optional[str] = None) -> None:
    """Two jobs writing one output name (inputs against outputs, and every other file a
    job writes, are checked by :func:`neural_style.batch.outputs.check_write_plan`);
    ``template``: the --output-template the user gave, if any (then the fix is in it)."""
    seen: Dict[Path, BatchJob] = {}
    for job in jobs:
        key = job.output.resolve()
        if key in seen:
            fix = (
                "; add {content}, {style}, {index} or {params} to the template" if template else ""
            )
            where = f"--output-template {template}: " if template else ""
            raise ConfigError(
                f"{where}jobs {seen[key].index} and {job.index} would both write {job.output}{fix}"
            )
        seen[key] = job


def plan(
    pairs: Sequence[StylePair],
    base: Config,
    sweeps: Sequence[Tuple[str, List[Any]]],
    template: Optional[str],
    out_dir: Path,
    rows: Optional[Sequence[Dict[str, Any]]] = None,
) -> List[BatchJob]:
    """Every (pair x sweep combination) as a job; per-pair overrides in ``rows``."""
    names = [name for name, _ in sweeps]
    combos = list(itertools.product(*(values for _, values in sweeps))) or [()]
    jobs: List[BatchJob] = []
    for n, (content, style) in enumerate(pairs):
        row = dict(rows[n]) if rows else {}
        explicit_output = row.pop("output", None)
        for combo in combos:
            params = {**row, **dict(zip(names, combo))}
            cfg = configured(
                base,
                params,
                "the job with " + ", ".join(f"`{k}` {v:g}" for k, v in params.items())
                if params
                else f"job {len(jobs)}",
            )
            check_blend(cfg, style)
            name = render(template or DEFAULT_TEMPLATE, len(jobs), content, style, cfg, params)
            output = (
                Path(explicit_output) if explicit_output and len(combos) == 1 else out_dir / name
            )
            jobs.append(
                BatchJob(len(jobs), content, style, output, cfg, output.with_suffix(""), params)
            )
    if template is None:
        jobs = _disambiguate(jobs)
    refuse_collisions(jobs, template)
    return jobs


def check_blend(cfg: Config, style: Tuple[Path, ...]) -> None:
    weights = cfg.style_blend_weights
    if weights is not None and len(weights) != len(style):
        raise ConfigError(
            f"{len(weights)} weights for {len(style)} style images "
            f"({'+'.join(p.name for p in style)})",
            field="style_blend_weights",
        )


#: The longest name a job writes beside its output: ``<stem>.interrupted<ext>``.
_LONGEST_STATUS = ".interrupted"


def check_output_paths(jobs: Sequence[BatchJob], out_dir: Path) -> None:
    """Outputs that cannot work, refused before any work (and in --dry-run), creating
    nothing: an unknown extension, a folder where the file should be, a name too long
    once the temporary suffix is added, or a folder that cannot be created because a
    file stands in its way."""
    for job in jobs:
        output_format(job.output)
        if job.output.is_dir():
            raise ConfigError(
                f"{job.output}: is a folder; name the file to write, e.g. "
                f"{job.output / 'final.jpg'}"
            )
        _creatable(job.output.parent)
        longest = job.output.stem + _LONGEST_STATUS + job.output.suffix
        limit = _name_max(job.output.parent)
        size = len(os.fsencode(job.output.name))
        extra = temp_name_length(longest) - size  # ".interrupted" and the temporary suffix
        if size + extra > limit:
            raise ConfigError(
                f"{job.output}: the name is too long ({size} bytes): with the "
                f"{extra} bytes added while writing it, it exceeds this file "
                f"system's {limit}; use at most {limit - extra} bytes"
            )
    _creatable(out_dir)


def _existing_ancestor(folder: Path) -> Path:
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def _creatable(folder: Path) -> None:
    ancestor = _existing_ancestor(folder)
    if not ancestor.is_dir():
        raise ConfigError(f"{folder}: cannot create this folder: {ancestor} is a file")


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(_existing_ancestor(folder), "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # not POSIX: the common limit
        return 255
