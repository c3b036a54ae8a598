"""The write plan: every file a run may write, decided in one place and checked against
every file it reads before any work.

A job writes only the paths its :class:`JobOutputs` names (the runner asks it for each
one); the style cache writes only the names :class:`CacheOutputs` claims. Before the
weights load, :func:`check_write_plan` compares all of them with every input of every
job (content, style, --init-image), the weights and the manifest, by resolved path
(so ``./a.jpg`` and a symlink are the same file) and, for files that exist, by device
and inode (so a hard link is too). A clash is a :class:`~neural_style.errors.ConfigError`
naming both files; nothing has been written.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Protocol, Sequence, Tuple

from ..errors import ConfigError
from ..io.claims import claim_path
from ..io.snapshots import snapshot_name
from .jobs import BatchJob

SHEET_NAME, PLOT_NAME = "progress.jpg", "loss.png"
_SNAPSHOT = re.compile(r"e_(\d+)\.jpg")
_CACHE_FILE = re.compile(r"[0-9a-f]{32}\.npz")  # io.cache.StyleCache._path


def resolved(path: Path) -> Path:
    """The absolute path with every symlink followed (as far as it exists)."""
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):  # a symlink loop: the path is then compared as written
        return Path(os.path.abspath(path))


def identity(path: Path) -> Optional[Tuple[int, int]]:
    """(device, inode) of an existing file, following symlinks; None otherwise."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


NameTest = Callable[[str], Optional[str]]


class Writer(Protocol):
    """Something that writes files: fixed names, and a pattern of names in one folder."""

    @property
    def label(self) -> str: ...

    def fixed(self) -> Dict[Path, str]:
        """Resolved path -> what it is ("the output")."""

    def pattern(self) -> Optional[Tuple[Path, NameTest]]:
        """A resolved folder and a test of names in it ("the snapshot e_50.jpg" or None)."""


@dataclass(frozen=True)
class JobOutputs:
    """Every file one job may write; the runner asks it for each path and writes nothing else."""

    job: BatchJob

    @property
    def label(self) -> str:
        return f"job {self.job.index}"

    @property
    def final(self) -> Path:
        return self.job.output

    @property
    def interrupted(self) -> Path:
        """``cat.interrupted.jpg``: the last epoch of a stopped job, so that a rerun with
        --skip-existing does it again."""
        return self._tagged("interrupted")

    @property
    def diverged(self) -> Path:
        """``cat.diverged.jpg``: the last finite image of a job that diverged."""
        return self._tagged("diverged")

    @property
    def claim(self) -> Path:
        """``.cat.jpg.lock``: the claim on the output under --skip-existing
        (:mod:`neural_style.io.claims`), made and removed by the job: an input of that
        name would be deleted."""
        return claim_path(self.job.output)

    def superseded(self) -> List[Path]:
        """The job's ``.interrupted`` and ``.diverged`` images from earlier runs: once its
        output is written they are out of date (a rerun under ``--skip-existing`` would
        otherwise leave ``cat.interrupted.jpg`` beside the finished ``cat.jpg``)."""
        return [p for p in (self.interrupted, self.diverged) if p.is_file()]

    def _tagged(self, tag: str) -> Path:
        out = self.job.output
        return out.with_name(f"{out.stem}.{tag}{out.suffix}")

    @property
    def last_epoch(self) -> int:
        cfg = self.job.config
        return cfg.max_num_epochs * cfg.most_scales  # epochs are counted across scales

    def snapshot(self, epoch: int) -> Path:
        """``e_<epoch>.jpg`` in the job's snapshot folder; only epochs the plan allowed."""
        if self._snapshot_epoch(snapshot_name(epoch)) != epoch:
            raise RuntimeError(f"a snapshot of epoch {epoch} is outside the write plan")
        return self.job.snapshots / snapshot_name(epoch)

    def _snapshot_epoch(self, name: str) -> Optional[int]:
        match = _SNAPSHOT.fullmatch(name)
        every = self.job.config.save_epochs
        if match is None or every <= 0:
            return None
        epoch = int(match.group(1))
        ok = epoch % every == 0 and 1 <= epoch <= self.last_epoch and name == snapshot_name(epoch)
        return epoch if ok else None

    @property
    def sheet(self) -> Optional[Path]:
        return self.job.snapshots / SHEET_NAME if self.job.config.progress_sheet else None

    @property
    def plot(self) -> Optional[Path]:
        return self.job.snapshots / PLOT_NAME if self.job.config.loss_plot else None

    def fixed(self) -> Dict[Path, str]:
        out = {
            self.final: "the output",
            self.interrupted: "the interrupted-run image",
            self.diverged: "the diverged-run image",
            self.claim: "the claim file",
            self.sheet: "the progress sheet",
            self.plot: "the loss plot",
        }
        return {resolved(p): what for p, what in out.items() if p is not None}

    def pattern(self) -> Optional[Tuple[Path, NameTest]]:
        if self.job.config.save_epochs <= 0:
            return None

        def test(name: str) -> Optional[str]:
            return None if self._snapshot_epoch(name) is None else f"the snapshot {name}"

        return resolved(self.job.snapshots), test


@dataclass(frozen=True)
class CacheOutputs:
    """The style cache's folder and the names it writes there."""

    folder: Path

    @property
    def label(self) -> str:
        return "the style cache"

    def fixed(self) -> Dict[Path, str]:
        return {}

    def pattern(self) -> Optional[Tuple[Path, NameTest]]:
        def test(name: str) -> Optional[str]:
            return f"the style cache file {name}" if _CACHE_FILE.fullmatch(name) else None

        return resolved(self.folder), test


Claim = Tuple[Writer, str]


class _Index:
    """Who writes what, by resolved path and by folder."""

    def __init__(self, writers: Sequence[Writer]) -> None:
        self.fixed: Dict[Path, List[Claim]] = {}
        self.patterns: Dict[Path, List[Tuple[Writer, NameTest]]] = {}
        for writer in writers:
            for path, what in writer.fixed().items():
                self.fixed.setdefault(path, []).append((writer, what))
            pattern = writer.pattern()
            if pattern is not None:
                self.patterns.setdefault(pattern[0], []).append((writer, pattern[1]))

    def claims(self, path: Path) -> List[Claim]:
        out = list(self.fixed.get(path, ()))
        for writer, test in self.patterns.get(path.parent, ()):
            what = test(path.name)
            if what is not None:
                out.append((writer, what))
        return out


def check_write_plan(
    jobs: Sequence[BatchJob],
    cache_dir: Optional[Path],
    extra_inputs: Iterable[Tuple[str, Path]] = (),
) -> None:
    """Refuse, before any work, a run that would write over any file it reads (by name,
    symlink or hard link), or in which two jobs would write the same file."""
    writers: List[Writer] = [JobOutputs(job) for job in jobs]
    if cache_dir is not None:
        writers.append(CacheOutputs(cache_dir))
    index = _Index(writers)
    many = len(jobs) > 1
    inputs = [
        *(
            (f"{role} of job {job.index}" if many else role, path)
            for job in jobs
            for role, path in job.inputs
        ),
        *extra_inputs,
    ]
    for role, path in inputs:
        claims = index.claims(resolved(path))
        if claims:
            _refuse(role, path, *claims[0], many)
    _refuse_hard_links(inputs, index, many)
    _refuse_shared(index)


def _refuse_hard_links(inputs: Sequence[Tuple[str, Path]], index: _Index, many: bool) -> None:
    """Existing files the run would replace that are an input under another name."""
    ids = {identity(path): (role, path) for role, path in inputs}
    ids.pop(None, None)
    if not ids:
        return
    # The fixed names directly (stat finds them however the file system spells them, e.g.
    # without regard to case), then every existing file a name pattern claims.
    candidates: List[Tuple[Path, List[Claim]]] = list(index.fixed.items())
    for folder in sorted(index.patterns):
        try:
            names = [entry.name for entry in os.scandir(folder)]
        except OSError:  # not there yet (or unreadable: the output check says so)
            continue
        candidates += [(folder / name, index.claims(folder / name)) for name in names]
    for existing, claims in candidates:
        found = identity(existing) if claims else None
        if found in ids:
            role, path = ids[found]
            _refuse(role, path, *claims[0], many, existing=existing)


def _refuse(
    role: str, path: Path, writer: Writer, what: str, many: bool, existing: Optional[Path] = None
) -> None:
    whose = f" of {writer.label}" if many and isinstance(writer, JobOutputs) else ""
    same = f" ({existing}, the same file under another name)" if existing is not None else ""
    victim = f"an input image (the {role})" if "image" in role else f"the {role}"
    raise ConfigError(
        f"{path}: {what}{whose} would overwrite {victim}{same}; "
        "move the input or choose another --output / --output-dir"
    )


def _refuse_shared(index: _Index) -> None:
    """Two jobs that would write the same file (one's output and another's snapshot,
    or two jobs' snapshots in one folder)."""
    for path, claims in index.fixed.items():
        others = [c for c in index.claims(path) if c[0] is not claims[0][0]]
        if others:
            (first, what), (second, theirs) = claims[0], others[0]
            raise ConfigError(
                f"{path}: {what} of {first.label} and {theirs} of {second.label} "
                "are the same file; give the jobs different output names"
            )
    for folder, writers in index.patterns.items():
        jobs = [w for w, _ in writers if isinstance(w, JobOutputs)]
        if len(jobs) > 1:
            raise ConfigError(
                f"{folder}: {jobs[0].label} and {jobs[1].label} would both write "
                "their snapshots (e_<N>.jpg) there; give them different output names"
            )
