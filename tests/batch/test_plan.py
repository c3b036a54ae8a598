"""Planning: every pair x sweep combination as a job, named and checked."""

from __future__ import annotations

from pathlib import Path

from neural_style.batch.plan import plan
from neural_style.batch.settings import parse_sweep
from neural_style.config import Config


def test_sweeps_and_templates(tmp_path: Path) -> None:
    sweeps = [parse_sweep("content-weight=5,10"), parse_sweep("stop_eps=0.005,0.003")]
    assert sweeps[0] == ("content_weight", [5.0, 10.0])
    jobs = plan(
        [(Path("cat.jpg"), (Path("starry.jpg"),))],
        Config(),
        sweeps,
        "{content}_{style}_cw{content_weight:g}_e{stop_eps}.png",
        tmp_path,
    )
    assert [j.output.name for j in jobs] == [
        "cat_starry_cw5_e0.005.png",
        "cat_starry_cw5_e0.003.png",
        "cat_starry_cw10_e0.005.png",
        "cat_starry_cw10_e0.003.png",
    ]
    assert [(j.config.content_weight, j.config.stop_eps) for j in jobs] == [
        (5, 0.005),
        (5, 0.003),
        (10, 0.005),
        (10, 0.003),
    ]
    assert jobs[3].params == {"content_weight": 10.0, "stop_eps": 0.003}
    assert jobs[3].snapshots == tmp_path / "cat_starry_cw10_e0.003"


def test_default_names_never_collide(tmp_path: Path) -> None:
    pairs = [(Path("x/cat.jpg"), (Path("s.jpg"),)), (Path("y/cat.jpg"), (Path("s.jpg"),))]
    jobs = plan(pairs, Config(), [parse_sweep("lr=0.1,0.2")], None, tmp_path)
    outputs = [j.output.name for j in jobs]
    assert len(set(outputs)) == 4
    assert all(o.startswith("cat_s_lr0.") for o in outputs)
    again = plan(pairs, Config(), [parse_sweep("lr=0.1,0.2")], None, tmp_path)
    assert [j.output for j in again] == [j.output for j in jobs]  # stable across reruns
