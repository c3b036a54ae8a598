"""Batches: many images in one process, sweeps, manifests, resumable, sharded, parallel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Protocol, Tuple

import numpy as np
import pytest
from PIL import Image

from neural_style import cli
from neural_style.errors import ExitCode
from neural_style.io.claims import claim
from tests.helpers import ROOT, cpu_run, too_little_memory, write_image

Run = Tuple[int, List[dict], str]


class Runner(Protocol):
    def __call__(self, *args: str) -> Run: ...


@pytest.fixture()
def run(tmp_path: Path, vgg19_random_npz: Path, capsys: pytest.CaptureFixture[str]) -> Runner:
    """``run(*args) -> (exit code, JSON lines, stderr)`` with fast settings."""

    def call(*args: str) -> Run:
        code = cli.main(
            [
                *args,
                "--weights",
                str(vgg19_random_npz),
                "--gpu",
                "-1",
                "--max-long-edge",
                "32",
                "--max-num-epochs",
                "2",
                "--save-epochs",
                "1",
                "--output-dir",
                str(tmp_path / "out"),
                "--seed",
                "0",
                "--json",
            ]
        )
        out, err = capsys.readouterr()
        return code, [json.loads(line) for line in out.splitlines()], err

    return call


def names(folder: Path) -> List[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


# ---- planning ---------------------------------------------------------------------------


def test_colliding_template_is_refused_before_work(
    tmp_path: Path, photos: Path, styles: Path, run: Runner
) -> None:
    code, lines, err = run(
        "--content-image",
        str(photos),
        "--style-image",
        str(styles),
        "--output-template",
        "{style}.jpg",
    )
    assert code == ExitCode.USAGE and lines == []
    assert "jobs 0 and 2 would both write" in err
    assert not (tmp_path / "out").exists()


def test_manifest_runs_with_per_row_settings(
    tmp_path: Path, photos: Path, styles: Path, run: Runner
) -> None:
    manifest = tmp_path / "jobs.jsonl"
    rows = [
        {"content": str(photos / "a.png"), "style": str(styles / "s1.png"), "content_weight": 3},
        {
            "content": "photos/b.jpg",
            "style": "styles/s2.png",
            "output": str(tmp_path / "mine.png"),
            "max_num_epochs": 1,
        },
    ]
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    code, lines, err = run("--manifest", str(manifest))
    assert code == 0, err
    assert [line["params"] for line in lines] == [{"content_weight": 3.0}, {"max_num_epochs": 1}]
    assert lines[1]["output"] == str(tmp_path / "mine.png") and lines[1]["epochs"] == 1
    assert (tmp_path / "mine.png").is_file()


def test_shards_are_disjoint_and_cover_everything(
    tmp_path: Path, photos: Path, styles: Path
) -> None:
    """N real processes, each with --shard I/N, as a Slurm array or Kubernetes would run them."""
    base = [
        sys.executable,
        "-m",
        "neural_style",
        "--content-image",
        str(photos),
        "--style-image",
        str(styles),
        "--sweep",
        "content-weight=1,2",
        "--output-dir",
        str(tmp_path / "o"),
        "--dry-run",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    everything = subprocess.run(base, capture_output=True, text=True, env=env, check=True).stdout
    all_outputs = [json.loads(line)["output"] for line in everything.splitlines()]
    assert len(all_outputs) == 3 * 2 * 2
    seen: List[str] = []
    for i in range(3):
        done = subprocess.run(
            [*base, "--shard", f"{i}/3"], capture_output=True, text=True, env=env, check=True
        )
        seen += [json.loads(line)["output"] for line in done.stdout.splitlines()]
    assert sorted(seen) == sorted(all_outputs) and len(set(seen)) == len(seen)


# ---- running ----------------------------------------------------------------------------


def test_product_batch_writes_every_output_and_json_matches(
    tmp_path: Path, photos: Path, styles: Path, run: Runner
) -> None:
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


def test_one_bad_image_in_five_fails_only_its_job(
    tmp_path: Path, styles: Path, run: Runner
) -> None:
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


def test_skip_existing_finishes_only_what_is_missing(
    tmp_path: Path, photos: Path, styles: Path, run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from neural_style.cli import progress

    calls = {"n": 0}
    real = progress.LogProgress.__call__

    def interrupt_in_third_job(self: progress.LogProgress, info: progress.EpochInfo) -> None:
        calls["n"] += 1
        if calls["n"] == 5:  # epoch 1 of job 2
            raise KeyboardInterrupt
        real(self, info)

    monkeypatch.setattr(progress.LogProgress, "__call__", interrupt_in_third_job)
    args = (
        "--content-image",
        str(photos),
        "--style-image",
        str(styles / "s1.png"),
        "--skip-existing",
    )
    code, lines, err = run(*args)
    assert code == ExitCode.INTERRUPTED
    assert [line["status"] for line in lines] == ["done", "done", "interrupted"]
    assert names(tmp_path / "out") == ["a_s1.jpg", "b_s1.jpg", "c_s1.interrupted.jpg"]
    monkeypatch.setattr(progress.LogProgress, "__call__", real)
    code, lines, err = run(*args)
    assert code == 0, err
    assert [line["status"] for line in lines] == ["skipped", "skipped", "done"]
    assert names(tmp_path / "out") == ["a_s1.jpg", "b_s1.jpg", "c_s1.jpg"]  # .interrupted gone
    assert f"removed {tmp_path / 'out' / 'c_s1.interrupted.jpg'}: c_s1.jpg supersedes it" in err


def test_truncated_output_is_redone(
    tmp_path: Path, photos: Path, styles: Path, run: Runner
) -> None:
    args = (
        "--content-image",
        str(photos / "a.png"),
        str(photos / "b.jpg"),
        "--style-image",
        str(styles / "s1.png"),
        "--skip-existing",
    )
    assert run(*args)[0] == 0
    (tmp_path / "out" / "b_s1.jpg").write_bytes(b"\xff\xd8\xff half")
    code, lines, _ = run(*args)
    assert code == 0 and [line["status"] for line in lines] == ["skipped", "done"]


def test_a_claim_file_left_by_a_killed_run_goes_once_its_output_is_skipped(
    tmp_path: Path, photos: Path, styles: Path, run: Runner
) -> None:
    """kill -9 during a --skip-existing run leaves ``.a_s1.jpg.lock``; a rerun without
    --skip-existing made the output without claiming it, and every later rerun skipped
    it unclaimed: the hidden file stayed for good (seen by hand). One that another run
    holds is left alone."""
    args = ["--content-image", str(photos / "a.png"), str(photos / "b.jpg")]
    args += ["--style-image", str(styles / "s1.png")]
    assert run(*args)[0] == 0
    out = tmp_path / "out"
    (out / ".a_s1.jpg.lock").touch()  # as a killed run leaves it
    held = claim(out / "b_s1.jpg")  # another run's claim on a finished output
    assert held is not None
    code, lines, err = run(*args, "--skip-existing")
    assert code == 0 and [line["status"] for line in lines] == ["skipped", "skipped"], err
    assert not (out / ".a_s1.jpg.lock").exists()
    assert (out / ".b_s1.jpg.lock").exists()
    held.release()


def test_style_targets_are_cached_on_disk(
    tmp_path: Path, photos: Path, styles: Path, run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from neural_style.engine.graph import StyleGraph

    computed = {"n": 0}
    real = StyleGraph.style_targets

    def counting(self: StyleGraph, image: np.ndarray) -> List[np.ndarray]:
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


def test_zip_pairs(tmp_path: Path, photos: Path, styles: Path, run: Runner) -> None:
    code, lines, _ = run(
        "--content-image",
        str(photos / "a.png"),
        str(photos / "b.jpg"),
        "--style-image",
        str(styles),
        "--pairs",
        "zip",
    )
    assert code == 0
    assert [(Path(line["content"]).name, Path(line["style"]).name) for line in lines] == [
        ("a.png", "s1.png"),
        ("b.jpg", "s2.png"),
    ]


def test_output_flag_is_for_single_jobs(photos: Path, styles: Path, run: Runner) -> None:
    code, _, err = run(
        "--content-image", str(photos), "--style-image", str(styles), "--output", "x.jpg"
    )
    assert code == ExitCode.USAGE and "use --output-template" in err


def test_several_workers_give_the_same_results(
    tmp_path: Path, photos: Path, styles: Path, vgg19_random_npz: Path, run: Runner
) -> None:
    """--gpu -1,-1: two worker processes on the CPU, the scheduling used for several GPUs."""
    args = ("--content-image", str(photos), "--style-image", str(styles / "s1.png"))
    code, sequential, _ = run(*args, "--output-template", "seq_{content}.png")
    assert code == 0
    code = cli.main(
        [
            *args,
            "--output-template",
            "par_{content}.png",
            "--weights",
            str(vgg19_random_npz),
            "--gpu",
            "-1,-1",
            "--max-long-edge",
            "32",
            "--max-num-epochs",
            "2",
            "--save-epochs",
            "1",
            "--output-dir",
            str(tmp_path / "out"),
            "--seed",
            "0",
            "--json",
            "-q",
        ]
    )
    assert code == 0
    for name in "abc":
        with Image.open(tmp_path / "out" / f"seq_{name}.png") as a, Image.open(
            tmp_path / "out" / f"par_{name}.png"
        ) as b:
            assert np.array_equal(np.asarray(a), np.asarray(b))


def test_an_empty_shard_is_not_an_error(photos: Path, styles: Path, run: Runner) -> None:
    code, lines, err = run(
        "--content-image",
        str(photos / "a.png"),
        str(photos / "b.jpg"),
        "--style-image",
        str(styles / "s1.png"),
        "--shard",
        "5/8",
    )
    assert code == 0 and lines == []
    assert "batch: 0 done, 0 failed of 0 jobs" in err


# ---- tiles ------------------------------------------------------------------------------


def _tiled_batch(tmp_path: Path, weights: Path, *args: str) -> List[str]:
    """CLI arguments of a batch at 48 px with tiles of 32 (2 tiles a sweep)."""
    return [
        *args,
        "--weights",
        str(weights),
        "--gpu",
        "-1",
        "--max-long-edge",
        "48",
        "--max-num-epochs",
        "2",
        "--tile-margin",
        "4",
        "--tile-overlap",
        "4",
        "--output-dir",
        str(tmp_path / "out"),
        "--seed",
        "0",
        "--json",
    ]


def test_a_batch_and_a_sweep_of_tiled_jobs(
    tmp_path: Path,
    photos: Path,
    styles: Path,
    vgg19_random_npz: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Three photos x a sweep of --tile-sweeps, each tiled: every output whole, at its
    size, after the composition's epochs and the tiled size's."""
    args = _tiled_batch(
        tmp_path,
        vgg19_random_npz,
        "--content-image",
        str(photos),
        "--style-image",
        str(styles / "s1.png"),
        "--tile",
        "32",
        "--sweep",
        "tile-sweeps=1,2",
    )
    assert cli.main(args) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 6
    for line in lines:
        with Image.open(line["output"]) as img:
            assert img.size == (48, 32)
        assert line["epochs"] == 4  # 2 at the 32-px composition (tiled runs only), 2 in tiles
    assert "6 done, 0 failed" in err


def test_max_memory_picks_a_tile_per_job(
    tmp_path: Path,
    photos: Path,
    styles: Path,
    vgg19_random_npz: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One --max-memory for a sweep of sizes: the job whose whole graph fits it is not
    tiled, the larger one is, with the tile the budget allows."""
    from neural_style.cli.main import parse
    from neural_style.config import Config
    from neural_style.engine.memory import IMAGE_BYTES_PER_PIXEL, graph_bytes, host_precision
    from neural_style.engine.tiled import per_pixel, tile_edge
    from neural_style.engine.vgg import VGG19

    rate = per_pixel(Config(), VGG19, np.float32)
    precision = host_precision(Config().precision)  # bf16 graphs are larger: this machine's
    budget = graph_bytes((32, 40), rate, precision) + IMAGE_BYTES_PER_PIXEL * 48 * 32
    assert graph_bytes((21, 32), rate, precision) < budget < graph_bytes((32, 48), rate, precision)
    args = _tiled_batch(
        tmp_path,
        vgg19_random_npz,
        "--content-image",
        str(photos / "a.png"),
        "--style-image",
        str(styles / "s1.png"),
        "--max-memory",
        str(budget),
        "--sweep",
        "max-long-edge=32,48",
    )
    jobs = parse(args).jobs
    edges = [
        tile_edge(
            job.config, (32, 48) if job.config.max_long_edge == 48 else (21, 32), VGG19, np.float32
        )
        for job in jobs
    ]
    assert sorted(edges, key=str) == [32, None]
    assert cli.main(args) == 0
    out, _ = capsys.readouterr()
    done = {}
    for line in out.splitlines():
        result = json.loads(line)
        with Image.open(result["output"]) as img:
            done[img.size] = result["epochs"]
    # the 48-px job was tiled: a 32-px composition (2 epochs) came first
    assert done == {(32, 21): 2, (48, 32): 4}


# ---- --dry-run checks each job as the run would, before any work ---------------------------


def _dry(args: List[str], capsys: pytest.CaptureFixture[str]) -> Tuple[int, List[dict], List[str]]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err.splitlines()


def test_dry_run_reports_a_memory_budget_too_small_as_the_run_does(
    tmp_path: Path,
    content_path: Path,
    style_path: Path,
    vgg19_random_npz: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A --max-memory too small for even the smallest tile of a 4000-px image (under any
    precision the CPU picks: :func:`too_little_memory`): --dry-run says so in the run's
    own words and exits 2, without reading the weights; the run itself stops with the
    same line before any epoch."""
    from neural_style import api

    mib = too_little_memory(content_path, 4000)
    args = cpu_run(content_path, style_path, vgg19_random_npz, tmp_path / "out")
    args += ["--max-long-edge", "4000", "--max-memory", f"{mib}M", "--max-num-epochs", "1"]
    with monkeypatch.context() as patched:
        patched.setattr(api, "load_weights", _no_weights)
        code, planned, err = _dry([*args, "--dry-run"], capsys)
    assert code == ExitCode.USAGE and len(planned) == 1, err
    (line,) = err
    assert line.startswith(f"neural-style: error: --max-memory: {mib} MiB is too little for even")
    assert "raise --max-memory to " in line
    code, _, real = _dry(args, capsys)
    assert code == ExitCode.USAGE and line in real
    assert not (tmp_path / "out" / "final.jpg").exists()


def test_dry_run_of_a_batch_reports_each_bad_job_and_a_meaningful_status(
    tmp_path: Path,
    content_path: Path,
    style_path: Path,
    vgg19_random_npz: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every job is listed; each that would fail is named with its error, a summary
    follows, and the status is the run's: 2 when each failure is a setting, 1 when an
    image cannot be read, 0 when all pass."""
    args = cpu_run(content_path, style_path, vgg19_random_npz, tmp_path / "out")
    args += ["--max-long-edge", "4000", "--dry-run"]
    small = too_little_memory(content_path, 4000)
    code, planned, err = _dry([*args, "--sweep", f"max-memory={small}M,4G,100M"], capsys)
    assert code == ExitCode.USAGE and [j["index"] for j in planned] == [0, 1, 2]
    errors = [line for line in err if "error" in line]
    assert len(errors) == 2 and errors[0].startswith("neural-style: error: job 0 (")
    assert errors[1].startswith("neural-style: error: job 2 (") and "100 MiB is too" in errors[1]
    assert err[-1] == "neural-style: dry run: 2 of 3 jobs would fail before any work"
    code, _, err = _dry([*args, "--sweep", "max-memory=4G,8G"], capsys)
    assert code == ExitCode.OK and err[-1].endswith("0 of 2 jobs would fail before any work")
    broken = write_image(tmp_path / "small.png", (8, 8))  # below the 16-px minimum
    bad = [*args[:2], str(broken), *args[2:], "--sweep", "max-memory=4G,100M"]
    code, planned, err = _dry(bad, capsys)
    assert code == ExitCode.FAILURE and len(planned) == 4, err
    assert any("small.png: 8x8 pixels is too small" in line for line in err)


def _no_weights(*args: object, **kwargs: object) -> None:
    raise AssertionError("a dry run read the weights")
