"""A planned job: where its result goes, finished or not, and how it describes itself."""

from __future__ import annotations

import json
from pathlib import Path

from neural_style.batch.jobs import BatchJob
from neural_style.config import Config


def job(output: str = "out/cat_starry.png") -> BatchJob:
    return BatchJob(3, Path("in/cat.jpg"), (Path("s/a.jpg"), Path("s/b.jpg")), Path(output),
                    Config(), Path(output).with_suffix(""), {"content_weight": 5.0})


def test_only_a_finished_result_takes_the_output_name() -> None:
    j = job()
    assert j.written_as("done") == Path("out/cat_starry.png")
    assert j.written_as("interrupted") == Path("out/cat_starry.interrupted.png")
    assert j.written_as("diverged") == Path("out/cat_starry.diverged.png")


def test_label_and_description() -> None:
    j = job()
    assert j.style_label == "a.jpg+b.jpg"
    described = json.loads(json.dumps(j.describe()))  # JSON-ready as it is
    assert described == {"index": 3, "content": "in/cat.jpg", "style": "s/a.jpg,s/b.jpg",
                         "output": "out/cat_starry.png", "params": {"content_weight": 5.0}}
