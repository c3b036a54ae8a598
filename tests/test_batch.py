"""Batches: many images in one process, sweeps, manifests, resumable, sharded, parallel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest
from conftest import ROOT, write_image

from neural_style import cli
from neural_style.batch.inputs import expand_images, pair
from neural_style.batch.manifest import read_manifest
from neural_style.batch.plan import plan
from neural_style.batch.settings import parse_sweep
from neural_style.batch.shard import shard
from neural_style.config import Config
from neural_style.errors import ConfigError, ExitCode

Run = Tuple[int, List[dict], str]


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, name in enumerate(["a.png", "b.jpg", "c.png"]):
        write_image(folder / name, (48, 32), seed=i)
    (folder / "readme.txt").write_text("not an image")
    return folder


@pytest.fixture()
def styles(tmp_path: Path) -> Path:
    folder = tmp_path / "styles"
    folder.mkdir()
    for i, name in enumerate(["s1.png", "s2.png"]):
        write_image(folder / name, (40, 40), seed=10 + i)
    return folder


@pytest.fixture()
def run(tmp_path: Path, vgg19_random_npz: Path, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """``run(*args) -> (exit code, JSON lines, stderr)`` with fast settings."""

    def call(*args: str) -> Run:
        code = cli.main([*args, "--weights", str(vgg19_random_npz), "--gpu", "-1",
                         "--max-long-edge", "32", "--max-num-epochs", "2", "--save-epochs", "1",
                         "--output-dir", str(tmp_path / "out"), "--seed", "0", "--json"])
        out, err = capsys.readouterr()
        return code, [json.loads(line) for line in out.splitlines()], err

    return call


def names(folder: Path) -> List[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


# ---- planning ---------------------------------------------------------------------------

def test_globs_folders_and_plain_paths(photos: Path, tmp_path: Path) -> None:
    assert [p.name for p in expand_images([str(photos)], "--content-image")] == ["a.png", "b.jpg", "c.png"]
    assert [p.name for p in expand_images([str(photos / "*.png")], "--content-image")] == ["a.png", "c.png"]
    mixed = expand_images([str(photos / "b.jpg"), str(photos / "*.png")], "--content-image")
    assert [p.name for p in mixed] == ["b.jpg", "a.png", "c.png"]
    assert expand_images([str(tmp_path / "missing.jpg")], "x") == [tmp_path / "missing.jpg"]
    with pytest.raises(ConfigError, match="no file matches"):
        expand_images([str(photos / "*.gif")], "--content-image")


def test_product_and_zip() -> None:
    c, s = [Path("a"), Path("b")], [(Path("x"),), (Path("y"),)]
    assert pair(c, s, "product") == [(Path("a"), s[0]), (Path("a"), s[1]),
                                     (Path("b"), s[0]), (Path("b"), s[1])]
    assert pair(c, s, "zip") == [(Path("a"), s[0]), (Path("b"), s[1])]
    with pytest.raises(ConfigError, match="2 content images but 1 style"):
        pair(c, s[:1], "zip")


def test_sweeps_and_templates(tmp_path: Path) -> None:
    sweeps = [parse_sweep("content-weight=5,10"), parse_sweep("stop_eps=0.005,0.003")]
    assert sweeps[0] == ("content_weight", [5.0, 10.0])
    jobs = plan([(Path("cat.jpg"), (Path("starry.jpg"),))], Config(), sweeps,
                "{content}_{style}_cw{content_weight:g}_e{stop_eps}.png", tmp_path)
    assert [j.output.name for j in jobs] == [
        "cat_starry_cw5_e0.005.png", "cat_starry_cw5_e0.003.png",
        "cat_starry_cw10_e0.005.png", "cat_starry_cw10_e0.003.png"]
    assert [(j.config.content_weight, j.config.stop_eps) for j in jobs] == [
        (5, 0.005), (5, 0.003), (10, 0.005), (10, 0.003)]
    assert jobs[3].params == {"content_weight": 10.0, "stop_eps": 0.003}
    assert jobs[3].snapshots == tmp_path / "cat_starry_cw10_e0.003"


def test_sweep_errors_teach() -> None:
    with pytest.raises(ConfigError, match="did you mean 'content-weight'"):
        parse_sweep("content-wieght=1,2")
    with pytest.raises(ConfigError, match="must be a number"):
        parse_sweep("lr=fast")
    with pytest.raises(ConfigError, match="NAME=V1,V2"):
        parse_sweep("lr")


def test_default_names_never_collide(tmp_path: Path) -> None:
    pairs = [(Path("x/cat.jpg"), (Path("s.jpg"),)), (Path("y/cat.jpg"), (Path("s.jpg"),))]
    jobs = plan(pairs, Config(), [parse_sweep("lr=0.1,0.2")], None, tmp_path)
    outputs = [j.output.name for j in jobs]
    assert len(set(outputs)) == 4
    assert all(o.startswith("cat_s_lr0.") for o in outputs)
    again = plan(pairs, Config(), [parse_sweep("lr=0.1,0.2")], None, tmp_path)
    assert [j.output for j in again] == [j.output for j in jobs]  # stable across reruns


def test_colliding_template_is_refused_before_work(tmp_path: Path, photos: Path, styles: Path,
                                                   run) -> None:  # type: ignore[no-untyped-def]
    code, lines, err = run("--content-image", str(photos), "--style-image", str(styles),
                           "--output-template", "{style}.jpg")
    assert code == ExitCode.USAGE and lines == []
    assert "jobs 0 and 2 would both write" in err
    assert not (tmp_path / "out").exists()


def test_manifest_errors_name_their_lines(tmp_path: Path) -> None:
    for name in ("a.jpg", "c.jpg", "s.jpg"):
        write_image(tmp_path / name)
    manifest = tmp_path / "jobs.csv"
    manifest.write_text("content,style,content_weight,colour\n"
                        "a.jpg,s.jpg,5,\n"
                        "b.jpg,,10,\n"
                        "c.jpg,s.jpg,ten,red\n")
    with pytest.raises(ConfigError) as err:
        read_manifest(manifest)
    text = str(err.value)
    assert "line 3: no style" in text
    assert "line 4: content_weight must be a number, not 'ten'" in text
    jsonl = tmp_path / "jobs.jsonl"
    jsonl.write_text('{"content": "a.jpg", "style": "s.jpg", "stop_eps": -1}\n{"content": 3\n')
    with pytest.raises(ConfigError, match="line 2: not JSON"):
        read_manifest(jsonl)
    jsonl.write_text('{"content": "a.jpg", "style": "s.jpg", "stop_eps": -1}\n')
    with pytest.raises(ConfigError, match=r"line 1: stop_eps must be in \(0, 1\], not -1"):
        read_manifest(jsonl)


def test_manifest_runs_with_per_row_settings(tmp_path: Path, photos: Path, styles: Path,
                                             run) -> None:  # type: ignore[no-untyped-def]
    manifest = tmp_path / "jobs.jsonl"
    rows = [{"content": str(photos / "a.png"), "style": str(styles / "s1.png"), "content_weight": 3},
            {"content": "photos/b.jpg", "style": "styles/s2.png", "output": str(tmp_path / "mine.png"),
             "max_num_epochs": 1}]
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    code, lines, err = run("--manifest", str(manifest))
    assert code == 0, err
    assert [line["params"] for line in lines] == [{"content_weight": 3.0}, {"max_num_epochs": 1}]
    assert lines[1]["output"] == str(tmp_path / "mine.png") and lines[1]["epochs"] == 1
    assert (tmp_path / "mine.png").is_file()


def test_shards_are_disjoint_and_cover_everything(tmp_path: Path, photos: Path, styles: Path) -> None:
    """N real processes, each with --shard I/N, as a Slurm array or Kubernetes would run them."""
    base = [sys.executable, "-m", "neural_style", "--content-image", str(photos), "--style-image",
            str(styles), "--sweep", "content-weight=1,2", "--output-dir", str(tmp_path / "o"),
            "--dry-run"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    everything = subprocess.run(base, capture_output=True, text=True, env=env, check=True).stdout
    all_outputs = [json.loads(line)["output"] for line in everything.splitlines()]
    assert len(all_outputs) == 3 * 2 * 2
    seen: List[str] = []
    for i in range(3):
        done = subprocess.run([*base, "--shard", f"{i}/3"], capture_output=True, text=True, env=env,
                              check=True)
        seen += [json.loads(line)["output"] for line in done.stdout.splitlines()]
    assert sorted(seen) == sorted(all_outputs) and len(set(seen)) == len(seen)


def test_shard_function_is_stable() -> None:
    jobs = plan([(Path(f"{i}.jpg"), (Path("s.jpg"),)) for i in range(10)], Config(), [], None, Path("o"))
    parts = [shard(jobs, f"{i}/4") for i in range(4)]
    assert sorted(j.index for p in parts for j in p) == list(range(10))
    assert [j.index for j in parts[1]] == [1, 5, 9]
    assert [j.index for j in shard(jobs, (1, 4))] == [1, 5, 9]
    with pytest.raises(ConfigError, match="I must be from 0 to N-1"):
        shard(jobs, "4/4")
    with pytest.raises(ConfigError, match="write I/N"):
        shard(jobs, "half")


# ---- running ----------------------------------------------------------------------------

def test_product_batch_writes_every_output_and_json_matches(tmp_path: Path, photos: Path,
                                                            styles: Path, run) -> None:  # type: ignore[no-untyped-def]
    code, lines, err = run("--content-image", str(photos), "--style-image", str(styles))
    assert code == 0, err
    out = tmp_path / "out"
    assert names(out) == ["a_s1.jpg", "a_s2.jpg", "b_s1.jpg", "b_s2.jpg", "c_s1.jpg", "c_s2.jpg"]
    assert [Path(line["written"]).name for line in lines] == names(out)
    for line in lines:
        assert line["status"] == "done" and line["epochs"] == 2 and line["error"] is None
        assert set(line["terms"]) >= {"style:relu1_1", "content:relu4_2"}
        assert names(Path(line["output"]).with_suffix("")) == ["e_1.jpg", "e_2.jpg"]  # own folder
    assert "batch: 6 done, 0 failed of 6 jobs" in err


def test_one_bad_image_in_five_fails_only_its_job(tmp_path: Path, styles: Path, run) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "five"
    folder.mkdir()
    for i in range(5):
        write_image(folder / f"p{i}.png", (48, 32), seed=i)
    (folder / "p2.png").write_bytes(b"broken")
    code, lines, err = run("--content-image", str(folder), "--style-image", str(styles / "s1.png"))
    assert code == ExitCode.FAILURE
    assert [line["status"] for line in lines] == ["done", "done", "failed", "done", "done"]
    assert "p2.png: not an image format" in lines[2]["error"]
    assert "job 2 (p2.png + s1.png): " in err and "batch: 4 done, 1 failed of 5 jobs" in err
    assert "Traceback" not in err
    assert names(tmp_path / "out") == ["p0_s1.jpg", "p1_s1.jpg", "p3_s1.jpg", "p4_s1.jpg"]


def test_skip_existing_finishes_only_what_is_missing(tmp_path: Path, photos: Path, styles: Path,
                                                     run, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from neural_style.cli import progress

    calls = {"n": 0}
    real = progress.LogProgress.__call__

    def interrupt_in_third_job(self: object, info: progress.EpochInfo) -> None:
        calls["n"] += 1
        if calls["n"] == 5:  # epoch 1 of job 2
            raise KeyboardInterrupt
        real(self, info)  # type: ignore[arg-type]

    monkeypatch.setattr(progress.LogProgress, "__call__", interrupt_in_third_job)
    args = ("--content-image", str(photos), "--style-image", str(styles / "s1.png"),
            "--skip-existing")
    code, lines, err = run(*args)
    assert code == ExitCode.INTERRUPTED
    assert [line["status"] for line in lines] == ["done", "done", "interrupted"]
    assert names(tmp_path / "out") == ["a_s1.jpg", "b_s1.jpg", "c_s1.interrupted.jpg"]
    monkeypatch.setattr(progress.LogProgress, "__call__", real)
    code, lines, err = run(*args)
    assert code == 0, err
    assert [line["status"] for line in lines] == ["skipped", "skipped", "done"]
    assert "c_s1.jpg" in names(tmp_path / "out")


def test_truncated_output_is_redone(tmp_path: Path, photos: Path, styles: Path, run) -> None:  # type: ignore[no-untyped-def]
    args = ("--content-image", str(photos / "a.png"), str(photos / "b.jpg"), "--style-image",
            str(styles / "s1.png"), "--skip-existing")
    assert run(*args)[0] == 0
    (tmp_path / "out" / "b_s1.jpg").write_bytes(b"\xff\xd8\xff half")
    code, lines, _ = run(*args)
    assert code == 0 and [line["status"] for line in lines] == ["skipped", "done"]


def test_style_targets_are_cached_on_disk(tmp_path: Path, photos: Path, styles: Path,
                                          run, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from neural_style.engine.graph import StyleGraph

    computed = {"n": 0}
    real = StyleGraph.style_targets

    def counting(self: StyleGraph, image):  # type: ignore[no-untyped-def]
        computed["n"] += 1
        return real(self, image)

    monkeypatch.setattr(StyleGraph, "style_targets", counting)
    args = ("--content-image", str(photos), "--style-image", str(styles / "s1.png"))
    assert run(*args)[0] == 0
    assert computed["n"] == 1  # three contents of one size, one style: computed once
    assert run(*args)[0] == 0
    assert computed["n"] == 1  # the rerun read them from the disk cache
    write_image(styles / "s1.png", (40, 40), seed=99)  # the style file changes
    assert run(*args)[0] == 0
    assert computed["n"] == 2


def test_zip_pairs(tmp_path: Path, photos: Path, styles: Path, run) -> None:  # type: ignore[no-untyped-def]
    code, lines, _ = run("--content-image", str(photos / "a.png"), str(photos / "b.jpg"),
                         "--style-image", str(styles), "--pairs", "zip")
    assert code == 0
    assert [(Path(l["content"]).name, Path(l["style"]).name) for l in lines] == [
        ("a.png", "s1.png"), ("b.jpg", "s2.png")]


def test_output_flag_is_for_single_jobs(photos: Path, styles: Path, run) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run("--content-image", str(photos), "--style-image", str(styles), "--output", "x.jpg")
    assert code == ExitCode.USAGE and "use --output-template" in err


def test_several_workers_give_the_same_results(tmp_path: Path, photos: Path, styles: Path,
                                               vgg19_random_npz: Path, run) -> None:  # type: ignore[no-untyped-def]
    """--gpu -1,-1: two worker processes on the CPU, the scheduling used for several GPUs."""
    args = ("--content-image", str(photos), "--style-image", str(styles / "s1.png"))
    code, sequential, _ = run(*args, "--output-template", "seq_{content}.png")
    assert code == 0
    code = cli.main([*args, "--output-template", "par_{content}.png", "--weights",
                     str(vgg19_random_npz), "--gpu", "-1,-1", "--max-long-edge", "32",
                     "--max-num-epochs", "2", "--save-epochs", "1", "--output-dir",
                     str(tmp_path / "out"), "--seed", "0", "--json", "-q"])
    assert code == 0
    import numpy as np
    from PIL import Image

    for name in "abc":
        with Image.open(tmp_path / "out" / f"seq_{name}.png") as a, \
                Image.open(tmp_path / "out" / f"par_{name}.png") as b:
            assert np.array_equal(np.asarray(a), np.asarray(b))


def test_an_empty_shard_is_not_an_error(photos: Path, styles: Path, run) -> None:  # type: ignore[no-untyped-def]
    code, lines, err = run("--content-image", str(photos / "a.png"), str(photos / "b.jpg"),
                           "--style-image", str(styles / "s1.png"), "--shard", "5/8")
    assert code == 0 and lines == []
    assert "batch: 0 done, 0 failed of 0 jobs" in err
