"""A planned job: its inputs, its settings and where its result goes; and how it ended."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Tuple

from ..config import Config


class JobStatus(enum.Enum):
    """How a job ended: the one vocabulary of the runner, the summary and ``--json``."""

    DONE = "done"
    SKIPPED = "skipped"  # --skip-existing found its output complete
    FAILED = "failed"  # diverged included: its last finite image is kept, not as a result
    INTERRUPTED = "interrupted"  # Ctrl-C or a signal: its last epoch is kept
    NOT_RUN = "not run"  # never started (interrupted before, or its worker died)

    @property
    def finished(self) -> bool:
        """Its output is there: a rerun with --skip-existing need not do it again."""
        return self in (JobStatus.DONE, JobStatus.SKIPPED)


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

    @property
    def inputs(self) -> Tuple[Tuple[str, Path], ...]:
        """Every file the job reads, with its role: none of them may be written."""
        out = [("content image", self.content), *(("style image", p) for p in self.style)]
        if self.config.init_image:
            out.append(("--init-image", Path(self.config.init_image)))
        return tuple(out)

    @property
    def style_label(self) -> str:
        return "+".join(p.name for p in self.style)

    def describe(self) -> Dict[str, Any]:
        return {
            "index": self.index,
            "content": str(self.content),
            "style": ",".join(str(p) for p in self.style),
            "output": str(self.output),
            "params": self.params,
        }
