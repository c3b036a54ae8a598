"""The write plan: every file a job may write, and the check against every input."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_style.batch.jobs import BatchJob
from neural_style.batch.outputs import CacheOutputs, JobOutputs, _Index, check_write_plan, resolved
from neural_style.config import Config
from neural_style.errors import ConfigError


def job(tmp_path: Path, cfg: Optional[Config] = None, content: str = "c.jpg") -> BatchJob:
    out = tmp_path / "out"
    cfg = cfg or Config()
    return BatchJob(0, tmp_path / content, (tmp_path / "s.jpg",), out / "a.jpg", cfg, out / "a")


def test_the_names_a_job_writes(tmp_path: Path) -> None:
    outputs = JobOutputs(job(tmp_path, Config(progress_sheet=True, loss_plot=True)))
    out = tmp_path / "out"
    assert (outputs.final, outputs.interrupted, outputs.diverged) == (
        out / "a.jpg",
        out / "a.interrupted.jpg",
        out / "a.diverged.jpg",
    )
    assert (outputs.sheet, outputs.plot) == (out / "a" / "progress.jpg", out / "a" / "loss.png")
    assert outputs.snapshot(50) == out / "a" / "e_50.jpg"
    with pytest.raises(RuntimeError, match="outside the write plan"):
        outputs.snapshot(49)
    plain = JobOutputs(job(tmp_path))
    assert plain.sheet is None and plain.plot is None


@settings(max_examples=200, deadline=None)
@given(
    every=st.integers(0, 40),
    epochs=st.integers(1, 120),
    scales=st.integers(1, 3),
    epoch=st.integers(-3, 400),
    zeros=st.booleans(),
)
def test_the_snapshots_a_job_may_write_are_exactly_those_it_claims(
    every: int, epochs: int, scales: int, epoch: int, zeros: bool
) -> None:
    cfg = Config(save_epochs=every, max_num_epochs=epochs, scales=scales)
    outputs = JobOutputs(
        BatchJob(0, Path("/in/c.jpg"), (Path("/in/s.jpg"),), Path("/o/c.jpg"), cfg, Path("/o/c"))
    )
    name = f"e_{'0' if zeros else ''}{epoch}.jpg"
    claimed = bool(_Index([outputs]).claims(resolved(Path("/o/c") / name)))
    try:
        allowed = outputs.snapshot(epoch) == Path("/o/c") / name
    except RuntimeError:
        allowed = False
    expected = every > 0 and 1 <= epoch <= epochs * scales and epoch % every == 0 and not zeros
    assert claimed == allowed == expected


def test_an_input_is_refused_by_name_symlink_and_hard_link(tmp_path: Path) -> None:
    (tmp_path / "out" / "a").mkdir(parents=True)
    victim = tmp_path / "out" / "a" / "e_50.jpg"
    victim.write_bytes(b"a photo")
    link = tmp_path / "link.jpg"
    link.symlink_to(victim)
    os.link(victim, tmp_path / "hard.jpg")
    for name in ("out/a/e_50.jpg", "out/a/../a/e_50.jpg", "link.jpg", "hard.jpg"):
        with pytest.raises(ConfigError, match="the snapshot e_50.jpg would overwrite an input"):
            check_write_plan([job(tmp_path, content=name)], None)
    check_write_plan([job(tmp_path, Config(save_epochs=30), content="hard.jpg")], None)
    check_write_plan([job(tmp_path, Config(save_epochs=0), content="hard.jpg")], None)
    os.link(tmp_path / "hard.jpg", tmp_path / "out" / "a.jpg")  # the output, linked to an input
    with pytest.raises(ConfigError, match="a.jpg, the same file under another name"):
        check_write_plan([job(tmp_path, Config(save_epochs=0), content="hard.jpg")], None)
    with pytest.raises(ConfigError, match="would overwrite the --weights file"):
        check_write_plan([job(tmp_path)], None, [("--weights file", victim)])


def test_an_input_named_as_an_outputs_claim_file_is_refused(tmp_path: Path) -> None:
    """--skip-existing makes ``.a.jpg.lock`` beside ``a.jpg`` and removes it when the job
    ends: an input of that name (seen by hand: a PNG named ``.p0.png.lock`` given as the
    content of ``--output p0.png``) was deleted by the run."""
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / ".a.jpg.lock").write_bytes(b"a photo")
    assert JobOutputs(job(tmp_path)).claim == tmp_path / "out" / ".a.jpg.lock"
    with pytest.raises(ConfigError, match="the claim file would overwrite an input"):
        check_write_plan([job(tmp_path, content="out/.a.jpg.lock")], None)


def test_the_style_cache_and_shared_snapshot_folders_are_in_the_plan(tmp_path: Path) -> None:
    cache = tmp_path / "out" / ".style-cache"
    in_cache = job(tmp_path, content="out/.style-cache/" + "0" * 32 + ".npz")
    with pytest.raises(ConfigError, match="the style cache file 0+.npz would overwrite"):
        check_write_plan([in_cache], cache)
    check_write_plan([in_cache], None)  # without a cache folder, nothing writes there
    assert CacheOutputs(cache).pattern() is not None
    # Two jobs whose outputs differ only by extension share a snapshot folder.
    first = job(tmp_path)
    twin = dataclasses.replace(first, index=1, output=tmp_path / "out" / "a.png")
    with pytest.raises(ConfigError, match="job 0 and job 1 would both write their snapshots"):
        check_write_plan([first, twin], cache)
    check_write_plan([first, dataclasses.replace(twin, config=Config(save_epochs=0))], cache)
    # One job's output is another's interrupted-run image.
    other = dataclasses.replace(
        first,
        index=1,
        output=tmp_path / "out" / "a.interrupted.jpg",
        snapshots=tmp_path / "out" / "b",
    )
    with pytest.raises(ConfigError, match="the interrupted-run image of job 0 and the output"):
        check_write_plan([first, other], cache)
