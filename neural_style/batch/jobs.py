"""A planned job: its inputs, its settings and where its result goes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Tuple

from ..config import Config


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
