"""Nothing lost, nothing left running (issue 9): the write plan, verified writes, one job
failing alone, job statuses and exit codes, signals and worker processes, special files.

Where it matters these use real subprocesses (``python -m neural_style``), real signals and
a real full filesystem (a 200 KiB tmpfs, when running as root).
"""

from __future__ import annotations

import csv
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import pytest
from PIL import Image

from neural_style import cli
from neural_style.batch import runner
from neural_style.batch.jobs import JobStatus
from neural_style.batch.outputs import CacheOutputs, JobOutputs, _Index, resolved
from neural_style.batch.runner import JobResult
from neural_style.cli.main import _finish
from neural_style.engine.optimisers import OPTIMISERS
from neural_style.errors import ExitCode
from neural_style.io import cache, files, images, plots
from tests import test_bad_inputs
from tests.helpers import ROOT, write_image
from tests.test_bad_inputs import Runner, assert_fails, out_files

run = test_bad_inputs.run  # the fixture that drives the CLI in this process


ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
}


def cli_args(weights: Path, out: Path, *extra: str) -> List[str]:
    return [
        sys.executable,
        "-m",
        "neural_style",
        "--weights",
        str(weights),
        "--gpu",
        "-1",
        "--max-long-edge",
        "32",
        "--output-dir",
        str(out),
        "--seed",
        "0",
        *extra,
    ]


def wait_for(
    condition: Callable[[], bool],
    what: str,
    seconds: float = 120.0,
    process: Optional[subprocess.Popen] = None,
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the run ended (exit {process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def decodes(path: Path) -> bool:
    return images.is_complete(path)


def all_files(folder: Path) -> List[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# ---- data loss: the write plan -----------------------------------------------------------


@pytest.mark.parametrize("how", ["same path", "dot relative", "symlink", "hard link"])
def test_a_photo_under_a_snapshot_name_is_never_overwritten(
    tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """Re-stylizing a file that sits in the output folder as e_2.jpg: refused, untouched."""
    out = tmp_path / "out"
    out.mkdir()
    victim = write_image(out / "e_2.jpg")
    before = victim.read_bytes()
    given_path = victim
    if how == "dot relative":
        monkeypatch.chdir(out)
        given_path = Path("./e_2.jpg")
    elif how == "symlink":
        given_path = tmp_path / "link.jpg"
        given_path.symlink_to(victim)
    elif how == "hard link":
        given_path = tmp_path / "photo.jpg"
        os.link(victim, given_path)
    line = assert_fails(
        run(given_path), "the snapshot e_2.jpg would overwrite an input image", code=ExitCode.USAGE
    )
    if how == "hard link":
        assert "the same file under another name" in line
    assert victim.read_bytes() == before and out_files(tmp_path) == ["e_2.jpg"]


@pytest.mark.parametrize(
    "name, role, extra",
    [
        ("progress.jpg", "style", ["--progress-sheet"]),
        ("loss.png", "content", ["--loss-plot"]),
        ("final.interrupted.jpg", "init", ["--init", "image"]),
        ("final.diverged.jpg", "content", []),
    ],
)
def test_every_file_a_job_writes_is_checked_against_every_input(
    tmp_path: Path, run: Runner, name: str, role: str, extra: List[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    victim = write_image(out / name, (40, 40))
    before = victim.read_bytes()
    content = victim if role == "content" else write_image(tmp_path / "c.png")
    style = victim if role == "style" else None
    if role == "init":
        extra = [*extra, "--init-image", str(victim)]
    assert_fails(run(content, style, *extra), "would overwrite an input image", code=ExitCode.USAGE)
    assert victim.read_bytes() == before and out_files(tmp_path) == [name]


def test_every_file_written_is_in_the_write_plan(
    tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The structure holds in a real run: every path handed to the writer is claimed."""
    written: List[Path] = []
    real = files.write_verified

    def recording(final: Path, data: bytes, check: Optional[files.Check] = None) -> Path:
        written.append(Path(final))
        return real(final, data, check)

    for module in (images, cache, plots):
        monkeypatch.setattr(module, "write_verified", recording)
    content = write_image(tmp_path / "c.png")
    extra = ("--progress-sheet", "--loss-plot", "--max-num-epochs", "3")
    code, _, err = run(content, None, *extra)
    assert code == 0, err
    request = cli.parse(
        [
            "--content-image",
            str(content),
            "--style-image",
            str(tmp_path / "style_default.png"),
            "--output-dir",
            str(tmp_path / "out"),
            "--save-epochs",
            "1",
            *extra,
        ]
    )
    index = _Index([JobOutputs(request.jobs[0]), CacheOutputs(request.cache_dir)])
    names = {p.name for p in written}
    assert {"e_1.jpg", "e_3.jpg", "final.jpg", "progress.jpg", "loss.png"} <= names
    assert any(p.suffix == ".npz" for p in written)  # the style cache
    assert [p for p in written if not index.claims(resolved(p))] == []


# ---- data loss: a write is complete or it failed -----------------------------------------


@pytest.fixture()
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 200 KiB filesystem, to fill up."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(folder: Path, leave_pages: int) -> None:
    """Fill the filesystem, then free ``leave_pages`` pages of 4 KiB."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096) == 4096:
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    size = filler.stat().st_size // 4096 * 4096
    os.truncate(filler, max(0, size - 4096 * leave_pages))


def test_a_full_disk_keeps_the_earlier_result_and_fails(
    tmp_path: Path, tiny_disk: Path, vgg19_random_npz: Path
) -> None:
    content = write_image(tmp_path / "c.png", (64, 48))
    style = write_image(tmp_path / "s.png", (40, 40), seed=3)
    out = tiny_disk / "out"
    final = out / "final.bmp"  # uncompressed: 9 KiB, more than a page of the tmpfs
    base = cli_args(
        vgg19_random_npz,
        out,
        "--content-image",
        str(content),
        "--style-image",
        str(style),
        "--max-long-edge",
        "64",
        "--max-num-epochs",
        "2",
        "--save-epochs",
        "0",
        "--output",
        str(final),
    )
    first = subprocess.run(base, capture_output=True, text=True, env=ENV, timeout=300)
    assert first.returncode == 0, first.stderr
    # The style cache (MBs of Gram matrices) cannot fit: one warning, no "Exception ignored".
    assert "could not write the style cache" in first.stderr and "No space left" in first.stderr
    assert "Exception ignored" not in first.stderr and "Traceback" not in first.stderr
    before = final.read_bytes()
    assert len(before) > 4096
    for seed, free_pages in (("5", 1), ("6", 0)):  # a write cut short; then no room at all
        fill(tiny_disk, free_pages)
        again = subprocess.run(
            [*base, "--seed", seed], capture_output=True, text=True, env=ENV, timeout=300
        )
        assert again.returncode == ExitCode.FAILURE, again.stderr
        errors = [line for line in again.stderr.splitlines() if "error:" in line]
        assert len(errors) == 1, again.stderr
        assert "final.bmp: cannot write the image (No space left on device)" in errors[0]
        assert "Traceback" not in again.stderr and "Exception ignored" not in again.stderr
        assert final.read_bytes() == before  # the earlier good result is kept...
        assert all_files(out) == ["final.bmp"]  # ...and no half-written file is left anywhere
        (tiny_disk / "filler").unlink()


def test_a_jpeg_cut_short_by_a_full_disk_is_not_taken_for_a_result(tiny_disk: Path) -> None:
    """Pillow's JPEG writer returns normally on a full disk, leaving a file cut at the last
    page that fitted (seen with Pillow 13 on this tmpfs); save_image must not."""
    noise = np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    final = tiny_disk / "a.jpg"
    images.save_image(noise[:20, :20], final)
    before = final.read_bytes()
    fill(tiny_disk, 1)
    with pytest.raises(images.ImageError, match="a.jpg: cannot write the image .No space left"):
        images.save_image(noise, final)  # about 50 KiB of JPEG
    assert final.read_bytes() == before and sorted(os.listdir(tiny_disk)) == ["a.jpg", "filler"]


def test_skip_existing_trusts_only_a_fully_decoded_file(tmp_path: Path, run: Runner) -> None:
    content = write_image(tmp_path / "c.png")
    assert run(content)[0] == 0
    final = tmp_path / "out" / "final.jpg"
    whole = final.read_bytes()
    scan = whole.index(b"\xff\xda")  # the compressed pixels start here
    final.write_bytes(whole[: (scan + len(whole)) // 2])  # cut in the middle of them
    with Image.open(final) as img:
        img.verify()  # Pillow's verify() passes a JPEG cut short...
    assert not images.is_complete(final)  # ...a full decode does not
    code, out, err = run(content, None, "--skip-existing")
    assert code == 0 and "skipped" not in err and "max-epochs after 2 epochs" in err, err
    assert images.is_complete(final)


# ---- one job fails alone -----------------------------------------------------------------


def batch_of(tmp_path: Path, count: int) -> List[str]:
    folder = tmp_path / "photos"
    folder.mkdir(exist_ok=True)
    for i in range(count):
        write_image(folder / f"{'abcdefgh'[i]}.png", seed=i)
    return [str(folder)]


def test_divergence_at_the_default_lr_fails_only_that_job(
    tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--lr not given (None): the message uses the rate in force; the batch goes on."""
    monkeypatch.setitem(OPTIMISERS, "nag", dataclasses.replace(OPTIMISERS["nag"], default_lr=1e30))
    folder = batch_of(tmp_path, 2)[0]
    code, out, err = run(
        Path(folder), None, "--tv-weight", "0", "--max-num-epochs", "50", "--save-epochs", "0"
    )
    assert code == ExitCode.FAILURE and "Traceback" not in err
    failures = [line for line in err.splitlines() if "diverged at epoch" in line]
    assert len(failures) == 2 and all("(now 1e+30)" in line for line in failures), err
    assert "batch: 0 done, 2 failed of 2 jobs" in err


def test_any_exception_in_a_job_fails_only_that_job(
    tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = batch_of(tmp_path, 3)[0]
    real_load = images.load_rgb
    real_save = images.save_image

    def load(
        source: images.ImageInput,
        max_edge: Optional[int] = None,
        shape: Optional[Tuple[int, int]] = None,
    ) -> np.ndarray:
        if str(source).endswith("a.png"):
            raise MemoryError  # as a huge image would while decoding
        return real_load(source, max_edge, shape)

    def save(rgb: np.ndarray, path: images.PathLike) -> Path:
        if str(path).endswith("b_style_default.jpg"):
            raise RuntimeError("something nobody foresaw")
        return real_save(rgb, path)

    monkeypatch.setattr(images, "load_rgb", load)
    monkeypatch.setattr(runner, "save_image", save)
    code, out, err = run(Path(folder), None, "--save-epochs", "0")
    assert code == ExitCode.FAILURE and "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 2, err
    assert (
        "job 0 (a.png + style_default.png): out of memory (MemoryError) while loading its images"
        in lines[0]
    )
    assert "job 1 (b.png + style_default.png): RuntimeError: something nobody foresaw" in lines[1]
    assert "batch: 1 done, 2 failed of 3 jobs" in err
    assert out_files(tmp_path) == ["c_style_default.jpg"]


def test_a_file_name_the_terminal_cannot_encode(tmp_path: Path, vgg19_random_npz: Path) -> None:
    """Bytes that are not UTF-8 in a file name (Linux allows them), and a name an ASCII
    terminal cannot show: printed escaped; the batch is not ended by UnicodeEncodeError."""
    folder = tmp_path / "photos"
    folder.mkdir()
    write_image(Path(os.fsdecode(os.fsencode(folder) + b"/caf\xe9.png")))
    write_image(folder / "th\u00e9.png", seed=1)
    style = write_image(tmp_path / "s.png", (40, 40))
    args = cli_args(
        vgg19_random_npz,
        tmp_path / "out",
        "--content-image",
        str(folder),
        "--style-image",
        str(style),
        "--max-num-epochs",
        "2",
        "--save-epochs",
        "0",
    )
    done = subprocess.run(
        args, capture_output=True, env={**ENV, "PYTHONIOENCODING": "ascii"}, timeout=300
    )
    err = done.stderr.decode("ascii", "replace")
    assert done.returncode == 0, err
    assert "Traceback" not in err and "UnicodeEncodeError" not in err
    assert done.stdout.split() == [
        os.fsencode(tmp_path / "out") + b"/caf\\udce9_s.jpg",
        os.fsencode(tmp_path / "out") + b"/th\\xe9_s.jpg",
    ]
    assert sorted(os.listdir(os.fsencode(tmp_path / "out"))) == [
        b".style-cache",
        b"caf\xe9_s.jpg",
        "th\u00e9_s.jpg".encode(),
    ]


# ---- statuses and exit codes -------------------------------------------------------------


def test_jobs_that_never_ran_are_not_done(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    request = cli.parse(
        [
            "--content-image",
            str(tmp_path / "a.png"),
            str(tmp_path / "b.png"),
            str(tmp_path / "c.png"),
            "--style-image",
            str(tmp_path / "s.png"),
            "--output-dir",
            str(tmp_path / "out"),
        ]
    )
    done = JobResult(request.jobs[0], JobStatus.DONE, terms={"content": 1.0})

    with caplog.at_level("INFO", logger="neural_style"):
        assert _finish(request, [done], 1.0) == ExitCode.FAILURE
        assert _finish(request, [done], 1.0, interrupted=True) == ExitCode.INTERRUPTED
        assert _finish(request, [done], 1.0, signum=signal.SIGTERM) == ExitCode.TERMINATED
        skipped = [JobResult(j, JobStatus.SKIPPED) for j in request.jobs[1:]]
        assert _finish(request, [done, *skipped], 1.0) == ExitCode.OK
    assert "batch: 1 done, 0 failed, 2 not run of 3 jobs" in caplog.text


# ---- signals and processes ---------------------------------------------------------------


def manifest(tmp_path: Path, epochs: Sequence[int]) -> Path:
    """One job per entry, each with its own --max-num-epochs; outputs j0.jpg, j1.jpg..."""
    style = write_image(tmp_path / "s.png", (40, 40), seed=7)
    path = tmp_path / "jobs.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["content", "style", "max_num_epochs", "output"])
        for i, n in enumerate(epochs):
            content = write_image(tmp_path / f"c{i}.png", seed=i)
            writer.writerow([content, style, n, tmp_path / "out" / f"j{i}.jpg"])
    return path


def default_signals() -> None:
    """In the child: the signals as a terminal user has them. A shell without job control
    starts background commands with SIGINT ignored, and the tool keeps an ignored signal
    ignored (as nohup asks), so a test run from such a shell would wait forever."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def start(weights: Path, tmp_path: Path, *extra: str) -> subprocess.Popen:
    out, err = open(tmp_path / "stdout", "wb"), open(tmp_path / "stderr", "wb")
    return subprocess.Popen(
        cli_args(weights, tmp_path / "out", "--save-epochs", "1", "--stop-eps", "1e-12", *extra),
        stdout=out,
        stderr=err,
        env=ENV,
        preexec_fn=default_signals,
    )


def finished(process: subprocess.Popen, tmp_path: Path, seconds: float = 180) -> str:
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()  # never leave a run behind, whatever the test found
        process.wait()
        raise
    return (tmp_path / "stderr").read_text(errors="replace")


@pytest.mark.parametrize(
    "signum, code",
    [
        (signal.SIGTERM, ExitCode.TERMINATED),
        (signal.SIGHUP, ExitCode.HANGUP),
        (signal.SIGINT, ExitCode.INTERRUPTED),
    ],
)
def test_a_signal_saves_the_running_job_and_prints_the_summary(
    tmp_path: Path, vgg19_random_npz: Path, signum: int, code: int
) -> None:
    process = start(
        vgg19_random_npz, tmp_path, "--manifest", str(manifest(tmp_path, [2, 100000, 2]))
    )
    out = tmp_path / "out"
    wait_for(
        lambda: (out / "j0.jpg").is_file() and (out / "j1" / "e_1.jpg").is_file(),
        "job 1 to be running",
        process=process,
    )
    process.send_signal(signum)
    err = finished(process, tmp_path)
    assert process.returncode == code, err
    assert "Traceback" not in err
    assert "batch: 1 done, 0 failed, 1 interrupted, 1 not run of 3 jobs" in err
    assert "the running job's image was saved as" in err
    assert decodes(out / "j0.jpg") and decodes(out / "j1.interrupted.jpg")
    assert not (out / "j2.jpg").exists() and not (out / "j1.jpg").exists()


def children(pid: int) -> List[int]:
    """Processes whose parent is ``pid``, from /proc."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def command(pid: int) -> str:
    """The command line of ``pid`` ('' once it is gone), to say what was left running."""
    try:
        return (Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()).strip()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """Running (a zombie left to an init that does not reap counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.slow  # two worker processes, each loading full-size weights: ~15 s
def test_sigterm_stops_the_workers_cleanly(tmp_path: Path, vgg19_random_npz: Path) -> None:
    process = start(
        vgg19_random_npz,
        tmp_path,
        "--gpu=-1,-1",
        "--manifest",
        str(manifest(tmp_path, [100000, 100000, 2])),
    )
    out = tmp_path / "out"
    wait_for(
        lambda: (out / "j0" / "e_1.jpg").is_file() and (out / "j1" / "e_1.jpg").is_file(),
        "both workers to be running a job",
        process=process,
    )
    workers = children(process.pid)
    commands = {pid: command(pid) for pid in workers}
    process.send_signal(signal.SIGTERM)
    err = finished(process, tmp_path)
    assert process.returncode == ExitCode.TERMINATED, err
    assert "Traceback" not in err
    assert "batch: 0 done, 0 failed, 2 interrupted, 1 not run of 3 jobs" in err
    assert decodes(out / "j0.interrupted.jpg") and decodes(out / "j1.interrupted.jpg")
    # The main process joins its workers before it exits: they must be gone at once. Its
    # other child, multiprocessing's resource tracker, ends only once it reads the end of
    # its pipe (the main process's exit), so it gets a few seconds.
    tracker = [pid for pid in workers if "resource_tracker" in commands[pid]]
    assert len(workers) - len(tracker) >= 2
    assert not [f"{p}: {commands[p]}" for p in workers if p not in tracker and alive(p)]
    deadline = time.monotonic() + 15
    while [pid for pid in tracker if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [f"{pid}: {commands[pid]}" for pid in tracker if alive(pid)]


def test_workers_do_not_outlive_a_killed_main_process(
    tmp_path: Path, vgg19_random_npz: Path
) -> None:
    """SIGKILL: no handler runs in the main process; the workers notice, save, and end."""
    process = start(
        vgg19_random_npz,
        tmp_path,
        "--gpu=-1,-1",
        "--manifest",
        str(manifest(tmp_path, [100000, 100000])),
    )
    out = tmp_path / "out"
    wait_for(
        lambda: (out / "j0" / "e_1.jpg").is_file() and (out / "j1" / "e_1.jpg").is_file(),
        "both workers to be running a job",
        process=process,
    )
    workers = children(process.pid)
    assert len(workers) >= 2
    process.kill()
    process.wait()
    wait_for(lambda: not [pid for pid in workers if alive(pid)], "the workers to end", seconds=60)
    assert decodes(out / "j0.interrupted.jpg") and decodes(out / "j1.interrupted.jpg")


@pytest.mark.slow  # two worker processes, each loading full-size weights: ~15 s
def test_a_worker_that_dies_fails_its_job_alone(tmp_path: Path, vgg19_random_npz: Path) -> None:
    process = start(
        vgg19_random_npz,
        tmp_path,
        "--gpu=-1,-1",
        "--manifest",
        str(manifest(tmp_path, [100000, 2, 2])),
    )
    out = tmp_path / "out"
    wait_for(
        lambda: (out / "j0" / "e_1.jpg").is_file() and (out / "j1" / "e_1.jpg").is_file(),
        "both workers to be running a job",
        process=process,
    )
    workers = [
        pid
        for pid in children(process.pid)
        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    assert len(workers) == 2
    target = _runner_of(out / "j0", workers)
    os.kill(target, signal.SIGKILL)
    err = finished(process, tmp_path)
    assert process.returncode == ExitCode.FAILURE, err
    assert "Traceback" not in err
    failed = [line for line in err.splitlines() if "error:" in line]
    assert len(failed) == 1 and "job 0" in failed[0] and "died (signal 9)" in failed[0], err
    assert "batch: 2 done, 1 failed of 3 jobs" in err
    assert decodes(out / "j1.jpg") and decodes(out / "j2.jpg")


def _runner_of(folder: Path, workers: Sequence[int]) -> int:
    """The worker that is writing snapshots into ``folder``: stop each in turn (SIGSTOP)
    and see whether the snapshots stop coming."""
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
        try:
            count = len(list(folder.glob("e_*.jpg")))
            time.sleep(1.5)
            if len(list(folder.glob("e_*.jpg"))) == count:
                return pid
        finally:
            os.kill(pid, signal.SIGCONT)
    raise AssertionError("no worker is writing job 0's snapshots")


# ---- special files -----------------------------------------------------------------------


def test_a_fifo_as_image_manifest_or_weights_is_refused_at_once(
    tmp_path: Path, vgg19_random_npz: Path
) -> None:
    """Opening a FIFO blocks until a writer comes: each is refused without being opened."""
    for name in ("pipe.jpg", "jobs.csv", "w.npz"):
        os.mkfifo(tmp_path / name)
    style = str(write_image(tmp_path / "s.png", (40, 40)))
    cases = [
        (["--content-image", str(tmp_path / "pipe.jpg"), "--style-image", style], ExitCode.FAILURE),
        (["--manifest", str(tmp_path / "jobs.csv")], ExitCode.USAGE),
        (
            [
                "--content-image",
                style,
                "--style-image",
                style,
                "--weights",
                str(tmp_path / "w.npz"),
            ],
            ExitCode.FAILURE,
        ),
    ]
    for (extra, code), name in zip(cases, ("pipe.jpg", "jobs.csv", "w.npz")):
        args = [*cli_args(vgg19_random_npz, tmp_path / "out"), *extra]
        done = subprocess.run(args, capture_output=True, text=True, env=ENV, timeout=120)
        assert done.returncode == code and "Traceback" not in done.stderr, done.stderr
        assert f"{name}: is a named pipe (FIFO), not a regular file" in done.stderr


def test_devices_sockets_loops_are_one_line(tmp_path: Path, run: Runner) -> None:
    assert_fails(
        run(write_image(tmp_path / "c.png"), Path("/dev/zero")),
        "/dev/zero: is a character device, not a regular file",
    )
    loop = tmp_path / "loop.jpg"
    loop.symlink_to(loop)
    assert_fails(run(loop), "loop.jpg: a loop of symbolic links")
    short = Path(tempfile.mkdtemp(prefix="ns"))  # a socket's path must be short
    try:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(short / "s.png"))
        try:
            assert_fails(run(short / "s.png"), "s.png: is a socket, not a regular file")
        finally:
            sock.close()
    finally:
        for p in short.iterdir():
            p.unlink()
        short.rmdir()
