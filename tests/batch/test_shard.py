"""--shard I/N: disjoint, covering, stable parts of a job list."""

from __future__ import annotations

from pathlib import Path

import pytest

from neural_style.batch.plan import plan
from neural_style.batch.shard import shard
from neural_style.config import Config
from neural_style.errors import ConfigError


def test_shard_function_is_stable() -> None:
    jobs = plan(
        [(Path(f"{i}.jpg"), (Path("s.jpg"),)) for i in range(10)], Config(), [], None, Path("o")
    )
    parts = [shard(jobs, f"{i}/4") for i in range(4)]
    assert sorted(j.index for p in parts for j in p) == list(range(10))
    assert [j.index for j in parts[1]] == [1, 5, 9]
    assert [j.index for j in shard(jobs, (1, 4))] == [1, 5, 9]
    with pytest.raises(ConfigError, match="I must be from 0 to N-1"):
        shard(jobs, "4/4")
    with pytest.raises(ConfigError, match="write I/N"):
        shard(jobs, "half")
