"""The README's many-machines recipes, run for real on this machine (on the CPU).

- The GNU parallel and xargs commands are taken from the README as written and run with
  ``neural-style`` on PATH as a small wrapper that adds fast settings (VGG19-shaped random
  weights, since the command takes VGG19 only; 32 px, 2 epochs) and ``--gpu -1``
  replacing its ``--gpu N``, so ``--gpu {}`` runs on the CPU here.
- A simulated job array: N shard processes, one killed (SIGKILL, as a lost node) in the
  middle of a job and started again with the same command.

Both check that the union of the outputs is exactly the job list, each once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Set

import pytest

from tests.helpers import ROOT, write_image

README = ROOT / "README.md"
MARK = "<!-- tests/test_cluster.py runs the two commands of this block -->"
FAST = ["--max-long-edge", "32", "--max-num-epochs", "2", "--save-epochs", "0", "--seed", "0"]


def readme_commands() -> Dict[str, str]:
    """The shell commands of the README's tested block, continuation lines joined."""
    text = README.read_text(encoding="utf-8")
    block = text[text.index(MARK) :].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = block.replace("\\\n", " ").strip().splitlines()
    return {command.split()[0]: command for command in commands}


@pytest.fixture()
def workdir(tmp_path: Path, vgg19_random_npz: Path) -> Path:
    """photos/ and styles/ as the README names them, and a fast ``neural-style`` on PATH."""
    (tmp_path / "photos").mkdir()
    (tmp_path / "styles").mkdir()
    for i in range(3):
        write_image(tmp_path / "photos" / f"p{i}.png", (40, 32), seed=i)
    for i in range(2):
        write_image(tmp_path / "styles" / f"s{i}.png", (32, 32), seed=10 + i)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "neural-style"
    # the fast settings first (the command's own flags override them); its --gpu N is
    # replaced by the CPU (this machine has no GPU)
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        "args, out = sys.argv[1:], []\n"
        "while args:\n"
        "    a = args.pop(0)\n"
        "    if a == '--gpu':\n"
        "        args.pop(0)\n"
        "    else:\n"
        "        out.append(a)\n"
        f"fast = {['--weights', str(vgg19_random_npz), *FAST]!r}\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'neural_style', *fast, *out,"
        " '--gpu', '-1'])\n"
    )
    wrapper.chmod(0o755)
    return tmp_path


def environment(workdir: Path) -> Dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{workdir / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
    }


def planned(workdir: Path, *args: str) -> List[str]:
    """The job list's outputs, from --dry-run of the same command without --shard."""
    done = subprocess.run(
        [
            "neural-style",
            "--content-image",
            "photos/",
            "--style-image",
            "styles/",
            "--output-dir",
            "results/",
            *args,
            "--dry-run",
        ],
        cwd=workdir,
        env=environment(workdir),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return [str(workdir / json.loads(line)["output"]) for line in done.stdout.splitlines()]


def outputs(folder: Path) -> Set[str]:
    """The results a user sees: files, not hidden temporary files or snapshot folders."""
    return {str(p) for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}


def records(path: Path) -> List[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("tool", ["parallel", "printf"])
def test_readme_one_machine_forms(workdir: Path, tool: str) -> None:
    if tool == "parallel":
        found = shutil.which("parallel")
        version = (
            subprocess.run([found, "--version"], capture_output=True, text=True).stdout
            if found
            else ""
        )
        if "GNU parallel" not in version:
            pytest.skip("GNU parallel is not installed (apt-get install parallel)")
    command = readme_commands()[tool]
    assert "--shard {}/4" in command and "--skip-existing" in command
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=workdir,
        env=environment(workdir),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    jobs = planned(workdir)
    assert len(jobs) == 6
    lines = records(workdir / "results.jsonl")
    assert sorted(str(workdir / r["output"]) for r in lines) == sorted(jobs)  # each once
    assert {r["status"] for r in lines} == {"done"}
    assert outputs(workdir / "results") == set(jobs)


def test_array_with_a_killed_and_restarted_task(workdir: Path) -> None:
    """Three shard processes at once; shard 1 is killed in the middle of a job (after the
    first snapshot of its first job) and then run again with the same command."""
    n = 3
    slow = ["--max-num-epochs", "20", "--save-epochs", "1"]
    jobs = planned(workdir, *slow)
    assert len(jobs) == 6

    def start(i: int) -> "subprocess.Popen[str]":
        cmd = [
            "neural-style",
            "--content-image",
            "photos/",
            "--style-image",
            "styles/",
            "--output-dir",
            "results/",
            *slow,
            "--skip-existing",
            "--json",
            "--shard",
            f"{i}/{n}",
        ]
        log = open(workdir / f"shard-{i}.jsonl", "a")  # appended, as the README's recipes do
        return subprocess.Popen(
            cmd,
            cwd=workdir,
            env=environment(workdir),
            stdout=log,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    procs = [start(i) for i in range(n)]
    victim = planned(workdir, *slow, "--shard", f"1/{n}")
    first_snapshots = Path(victim[0]).with_suffix("")  # the first job's snapshot folder
    deadline = time.monotonic() + 300
    while not (first_snapshots.is_dir() and any(first_snapshots.glob("e_*.jpg"))):
        assert time.monotonic() < deadline and procs[1].poll() is None, "shard 1 never started"
        time.sleep(0.02)
    procs[1].send_signal(signal.SIGKILL)
    assert procs[1].wait(timeout=60) == -signal.SIGKILL
    unfinished = [job for job in victim if not Path(job).is_file()]
    assert unfinished, "shard 1 finished before it was killed"
    for p in (procs[0], procs[2]):
        assert p.wait(timeout=600) == 0
    assert outputs(workdir / "results") == set(jobs) - set(unfinished)

    # the killed run may have finished a job between the snapshot seen and the kill: its
    # records stay in the log, and the restart's are the ones after them
    before = len(records(workdir / "shard-1.jsonl"))
    restarted = start(1)
    assert restarted.wait(timeout=600) == 0
    assert outputs(workdir / "results") == set(jobs)  # exactly the job list
    again = records(workdir / "shard-1.jsonl")[before:]
    assert sorted(str(workdir / r["output"]) for r in again) == sorted(victim)
    assert sorted(str(workdir / r["output"]) for r in again if r["status"] == "done") == sorted(
        unfinished
    )  # the restart did only what was missing
    everything = [r for i in range(n) for r in records(workdir / f"shard-{i}.jsonl")]
    assert sorted(
        str(workdir / r["output"]) for r in everything if r["status"] == "done"
    ) == sorted(jobs)  # every job done exactly once across the array
    leftover = [p.name for p in (workdir / "results").iterdir() if re.match(r"\..*\.part$", p.name)]
    assert len(leftover) <= 1  # at most the killed write's temporary file, hidden


@pytest.mark.parametrize("devices", [["--gpu", "-1"], ["--gpu", "-1,-1"]])
def test_two_runs_of_one_batch_at_once_make_each_output_once(
    workdir: Path, vgg19_random_npz: Path, devices: List[str]
) -> None:
    """The same batch started twice at once with --skip-existing (an array task requeued
    while its first attempt still runs, two machines on one shared folder): each job is
    made by one of them and skipped by the other. Both used to make every job, as each
    looked for finished outputs only before its first job (8 jobs and 4 runs gave 27
    "done" records)."""
    slow = ["--max-num-epochs", "10"]
    jobs = planned(workdir, *slow)

    def start(i: int) -> "subprocess.Popen[str]":
        cmd = [
            sys.executable,
            "-m",
            "neural_style",
            "--weights",
            str(vgg19_random_npz),
            *FAST,
            *slow,
            "--content-image",
            "photos/",
            "--style-image",
            "styles/",
            "--output-dir",
            "results/",
            "--skip-existing",
            "--json",
            *devices,
        ]
        return subprocess.Popen(
            cmd,
            cwd=workdir,
            env=environment(workdir),
            stdout=open(workdir / f"run-{i}.jsonl", "w"),
            stderr=subprocess.DEVNULL,
            text=True,
        )

    runs = [start(i) for i in range(2)]
    assert [p.wait(timeout=600) for p in runs] == [0, 0]
    lines = [r for i in range(2) for r in records(workdir / f"run-{i}.jsonl")]
    made = sorted(str(workdir / r["output"]) for r in lines if r["status"] == "done")
    skipped = sorted(str(workdir / r["output"]) for r in lines if r["status"] == "skipped")
    assert made == sorted(jobs) and skipped == sorted(jobs)  # each made once, by one run
    assert sorted(p.name for p in (workdir / "results").iterdir() if p.is_file()) == sorted(
        Path(j).name for j in jobs
    )  # no lock file left behind
