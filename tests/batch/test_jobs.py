"""A planned job: where its result goes, finished or not, and how it describes itself."""

from __future__ import annotations

import json
from pathlib import Path

from neural_style.batch.jobs import BatchJob, JobStatus
from neural_style.config import Config


def job(output: str = "out/cat_starry.png") -> BatchJob:
    return BatchJob(
        3,
        Path("in/cat.jpg"),
        (Path("s/a.jpg"), Path("s/b.jpg")),
        Path(output),
        Config(),
        Path(output).with_suffix(""),
        {"content_weight": 5.0},
    )


def test_the_files_a_job_reads() -> None:
    j = job()
    assert j.inputs == (
        ("content image", Path("in/cat.jpg")),
        ("style image", Path("s/a.jpg")),
        ("style image", Path("s/b.jpg")),
    )
    with_init = BatchJob(
        0, j.content, j.style, j.output, Config(init="image", init_image="i.png"), j.snapshots
    )
    assert with_init.inputs[-1] == ("--init-image", Path("i.png"))


def test_one_status_vocabulary() -> None:
    assert [s.value for s in JobStatus] == ["done", "skipped", "failed", "interrupted", "not run"]
    assert [s for s in JobStatus if s.finished] == [JobStatus.DONE, JobStatus.SKIPPED]


def test_label_and_description() -> None:
    j = job()
    assert j.style_label == "a.jpg+b.jpg"
    described = json.loads(json.dumps(j.describe()))  # JSON-ready as it is
    assert described == {
        "index": 3,
        "content": "in/cat.jpg",
        "style": "s/a.jpg,s/b.jpg",
        "output": "out/cat_starry.png",
        "params": {"content_weight": 5.0},
    }
