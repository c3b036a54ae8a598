"""--shard I/N: disjoint parts of a job list, the same for the same command."""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from ..errors import ConfigError
from .jobs import BatchJob


def shard(jobs: Sequence[BatchJob], spec: "Optional[Tuple[int, int] | str]") -> List[BatchJob]:
    """``(I, N)`` (or its text ``I/N``, see :func:`parse_shard`): the jobs whose position
    modulo N is I (0 <= I < N). The N shards are disjoint, cover every job once, and are
    the same for the same command."""
    if not spec:
        return list(jobs)
    i, n = parse_shard(spec) if isinstance(spec, str) else spec
    return [job for job in jobs if job.index % n == i]


def parse_shard(spec: str) -> Tuple[int, int]:
    """``--shard`` I/N -> (I, N)."""
    try:
        i_text, n_text = spec.split("/")
        i, n = int(i_text), int(n_text)
    except ValueError:
        raise ConfigError(f"--shard {spec}: write I/N, e.g. 0/4 (I from 0 to N-1)") from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard {spec}: I must be from 0 to N-1 and N at least 1")
    return i, n
