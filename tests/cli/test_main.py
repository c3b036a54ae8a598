from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest
from PIL import Image

from neural_style import __version__, cli
from neural_style.config import Config
from neural_style.errors import ExitCode
from neural_style.io import locate
from tests.helpers import ROOT, cpu_run


def visible(folder: Path) -> List[str]:
    """The files a user sees (not the hidden style cache)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


ALL_FLAGS = [
    "--model",
    "vgg",
    "--stop-eps",
    "0.01",
    "--content-weight",
    "5",
    "--style-weight",
    "2",
    "--tv-weight",
    "0.5",
    "--max-num-epochs",
    "7",
    "--max-long-edge",
    "64",
    "--lr",
    "0.1",
    "--lr-sched-delay",
    "3",
    "--lr-sched-factor",
    "0.5",
    "--save-epochs",
    "2",
    "--output-dir",
    "snaps",
    "--denoise",
    "tv",
    "--remove-noise",
    "0.1",
    "--seed",
    "3",
]


def test_every_flag_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    from neural_style.engine import device

    monkeypatch.setattr(device, "has_cuda", lambda: True)
    monkeypatch.setattr(device, "visible_gpus", lambda: 2)
    request = cli.parse(
        [
            "--content-image",
            "c.jpg",
            "--style-image",
            "s.jpg",
            "--output",
            "o.png",
            "--gpu",
            "1",
            "--weights",
            "w.h5",
            "-q",
            *ALL_FLAGS,
        ]
    )
    (job,) = request.jobs
    assert job.config == Config(
        model="vgg19",
        stop_eps=0.01,
        content_weight=5,
        style_weight=2,
        tv_weight=0.5,
        max_num_epochs=7,
        max_long_edge=64,
        lr=0.1,
        lr_sched_delay=3,
        lr_sched_factor=0.5,
        save_epochs=2,
        output_dir="snaps",
        denoise="tv",
        remove_noise=0.1,
        seed=3,
    )
    assert (job.content, job.style, job.output) == (Path("c.jpg"), (Path("s.jpg"),), Path("o.png"))
    assert (request.devices, request.weights, request.quiet) == ([1], Path("w.h5"), True)
    assert job.snapshots == Path("snaps")


def test_defaults_and_aliases() -> None:
    request = cli.parse(["--content-image", "c.jpg", "--style-image", "s.jpg", "--output_dir", "x"])
    (job,) = request.jobs
    assert job.config == Config(output_dir="x")
    assert job.output == Path("x") / "final.jpg" and job.snapshots == Path("x")
    assert request.devices == [None] and request.weights is None


def help_entries(text: str) -> Dict[str, str]:
    """``{"--flag": "its help, whitespace joined"}`` from argparse's --help output."""
    entries: Dict[str, str] = {}
    flags: List[str] = []
    body: List[str] = []

    def close() -> None:
        for flag in flags:
            entries[flag] = " ".join(" ".join(body).split())

    for line in text.splitlines():
        if line.startswith("  -"):
            close()
            head, _, rest = line.strip().partition("  ")
            flags, body = re.findall(r"(?:^|, )(--?[\w-]+)", head), [rest]
        elif flags and line.startswith("    "):
            body.append(line)
        else:
            close()
            flags, body = [], []
    close()
    return entries


def test_help_states_the_defaults_the_command_uses(capsys: pytest.CaptureFixture[str]) -> None:
    """What --help says a default is, is what a command without that flag runs with."""
    assert cli.main(["--help"]) == 0
    entries = help_entries(capsys.readouterr().out)
    (job,) = cli.parse(["--content-image", "c.jpg", "--style-image", "s.jpg"]).jobs
    checked = 0
    for flag, text in entries.items():
        attr = flag[2:].replace("-", "_")
        if not hasattr(job.config, attr):
            continue
        value = getattr(job.config, attr)
        match = re.search(r"\(default: (.*?)\)$", text)
        if isinstance(value, bool):
            assert value is False and match is None, flag  # a switch, off unless given
            continue
        assert match is not None, f"{flag} does not state its default"
        shown = match.group(1)
        if value is None:  # described in words ("random", "nag 0.001, adam 10", ...)
            assert shown and not shown[0].isdigit(), flag
        elif isinstance(value, tuple):
            assert shown.split(",") == list(value), flag
        elif isinstance(value, (int, float)):
            assert float(shown) == value, flag
        else:
            assert shown == value, flag
        checked += 1
    assert checked >= 20
    # the example's defaults, as a user reads them
    assert "(default: 0.005)" in entries["--stop-eps"]
    assert entries["--remove-noise"].endswith("(default: gaussian 0.2, tv 0.02)")
    assert entries["--output_dir"] == entries["--output-dir"]  # the example's spelling too


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"neural-style {__version__}"


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--stop-eps", "0"], "--stop-eps: must be in (0, 1], not 0"),
        (["--lr", "nan"], "--lr: must be from 1e-8 to 10000, not nan"),
        (
            ["--lr-sched-factor", "abc"],
            "--lr-sched-factor: must be a number such as 0.9, not 'abc'",
        ),
        (["--max-long-edge", "8"], "--max-long-edge: must be from 16 to 26754, not 8"),
        (["--gpu", "x"], "--gpu x: give a GPU number"),
        (["--model", "alexnet"], "invalid choice"),
        (["--output", "out.xyz"], "unknown output extension"),
        (["--stop_eps", "0.1"], "did you mean --stop-eps"),
    ],
)
def test_bad_values_exit_2(
    extra: List[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["--content-image", "c.jpg", "--style-image", "s.jpg", *extra])
    assert code == ExitCode.USAGE
    assert message in capsys.readouterr().err


def test_missing_required_flag_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--style-image", "s.jpg"]) == ExitCode.USAGE
    assert "--content-image" in capsys.readouterr().err


@pytest.fixture()
def base(tmp_path: Path, content_path: Path, style_path: Path, vgg19_random_npz: Path) -> List[str]:
    out = tmp_path / "out"
    return cpu_run(
        content_path,
        style_path,
        vgg19_random_npz,
        out,
        max_long_edge=32,
        max_num_epochs=6,
        save_epochs=2,
        seed=1,
    )


def test_end_to_end(tmp_path: Path, base: List[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(base) == 0
    out, err = capsys.readouterr()
    final = tmp_path / "out" / "final.jpg"
    assert out.strip().splitlines()[-1] == str(final)
    assert visible(final.parent) == ["e_2.jpg", "e_4.jpg", "e_6.jpg", "final.jpg"]
    with Image.open(final) as img:
        assert img.size == (32, 21)
    assert "epoch 6/6" in err and "after 6 epochs" in err


def test_quiet_prints_only_the_path(
    tmp_path: Path, base: List[str], capsys: pytest.CaptureFixture[str]
) -> None:
    out_png = tmp_path / "x" / "result.png"
    assert cli.main([*base, "-q", "--output", str(out_png)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{out_png}\n" and err == ""
    with Image.open(out_png) as img:
        assert img.format == "PNG"


def test_missing_image_is_one_line(
    tmp_path: Path, base: List[str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = list(base)
    args[1] = str(tmp_path / "nope.jpg")
    assert cli.main(args) == ExitCode.FAILURE
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and lines[-1] == f"neural-style: error: {tmp_path / 'nope.jpg'}: no such file"
    assert [line for line in lines[:-1] if not line.startswith("neural-style: precision: ")] == []
    assert not (tmp_path / "out" / "final.jpg").exists()


def test_output_may_not_overwrite_an_input(
    base: List[str], content_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = content_path.read_bytes()
    assert cli.main([*base, "--output", str(content_path)]) == ExitCode.USAGE
    assert "would overwrite an input image" in capsys.readouterr().err
    assert content_path.read_bytes() == before


def test_missing_weights_say_how_to_fetch(
    tmp_path: Path,
    base: List[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(locate, "checkout_weights", lambda: tmp_path / "checkout.params")
    monkeypatch.delenv("NEURAL_STYLE_WEIGHTS", raising=False)
    monkeypatch.setenv("NEURAL_STYLE_CACHE", str(tmp_path / "cache"))
    args = base[: base.index("--weights")] + base[base.index("--weights") + 2 :]
    assert cli.main(args) == ExitCode.FAILURE
    err = capsys.readouterr().err
    assert "VGG19 weights not found" in err and "Fetch them with: neural-style-weights" in err
    # every place it looked, in order
    order = [
        "--weights: not given",
        "$NEURAL_STYLE_WEIGHTS: not set",
        f"source checkout {tmp_path / 'checkout.params'} (missing)",
        f"{tmp_path / 'cache' / 'vgg19.params'} (missing)",
    ]
    assert [err.index(o) for o in order] == sorted(err.index(o) for o in order)


def test_ctrl_c_saves_and_exits_130(
    tmp_path: Path,
    base: List[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from neural_style.cli import progress

    def interrupt_at_3(self: object, info: progress.EpochInfo) -> None:
        if info.epoch == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(progress.LogProgress, "__call__", interrupt_at_3)
    assert cli.main(base) == ExitCode.INTERRUPTED
    out, err = capsys.readouterr()
    # saved beside the output, so that --skip-existing does not take it for a finished result
    partial = tmp_path / "out" / "final.interrupted.jpg"
    assert partial.is_file() and out.strip() == str(partial)
    assert not (tmp_path / "out" / "final.jpg").exists()
    assert "interrupted after 3 epochs" in err
    assert err.count("interrupted") == 2  # reported once: its message and the file's name
    reported = [
        line for line in err.splitlines() if not line.startswith("neural-style: precision: ")
    ]
    assert len(reported) == 1


def test_divergence_saves_and_exits_1(
    tmp_path: Path, base: List[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli.main([*base, "--lr", "1e4", "--tv-weight", "0", "--max-num-epochs", "50"])
        == ExitCode.FAILURE
    )
    err = capsys.readouterr().err
    assert "diverged" in err and "lower --lr" in err and "Traceback" not in err
    assert (tmp_path / "out" / "final.diverged.jpg").is_file()
    assert not (tmp_path / "out" / "final.jpg").exists()


def test_python_dash_m(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "neural_style", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip() == f"neural-style {__version__}"


def test_readme_flag_reference_lists_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Flag reference") :]
    assert cli.main(["--help"]) == 0
    for flag in help_entries(capsys.readouterr().out):
        if flag not in ("-h", "--help"):
            assert f"`{flag}" in table or f"`-q`, `{flag}`" in table, flag
    for f in dataclasses.fields(Config):
        if isinstance(f.default, bool):
            shown = "off"
        elif isinstance(f.default, tuple):
            shown = f"`{','.join(f.default)}`"
        elif f.default is not None:
            shown = f"`{f.default}`"
        else:
            continue
        row = next(
            line
            for line in table.splitlines()
            if line.startswith(f"| `--{f.name.replace('_', '-')}")
        )
        assert f"| {shown} |" in row, f.name


def test_snapshots_follow_the_output(
    tmp_path: Path,
    base: List[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--output out/cat.png without --output-dir: snapshots in out/cat/, nothing in ./output."""
    monkeypatch.chdir(tmp_path)
    args = base[: base.index("--output-dir")] + base[base.index("--output-dir") + 2 :]
    request = cli.parse([*args, "--output", "out/cat.png"])
    assert request.jobs[0].snapshots == Path("out/cat")
    assert request.cache_dir == Path("out/.style-cache")
    assert cli.main([*args, "--output", "out/cat.png"]) == 0
    assert visible(tmp_path / "out") == ["cat", "cat.png"]
    assert visible(tmp_path / "out" / "cat") == ["e_2.jpg", "e_4.jpg", "e_6.jpg"]
    assert not (tmp_path / "output").exists()
    # an explicit --output-dir still takes the snapshots
    explicit = cli.parse([*args, "--output", "out/cat.png", "--output-dir", "snaps"])
    assert explicit.jobs[0].snapshots == Path("snaps")
    assert explicit.jobs[0].output == Path("out/cat.png")


def test_multiscale_progress_names_the_scale(
    tmp_path: Path, base: List[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*base, "--scales", "2", "--max-long-edge", "64", "--max-num-epochs", "3"]) == 0
    err = capsys.readouterr().err
    assert "scale 1/2, 32 px  epoch 1/6" in err and "scale 2/2, 64 px  epoch 4/6" in err


def test_multiscale_bar_names_the_scale() -> None:
    import io

    from neural_style.cli.progress import BarProgress
    from neural_style.engine.optimise import EpochInfo

    stream = io.StringIO()
    bar = BarProgress(6, stream)
    bar(EpochInfo(4, 6, 0.1, 1.0, {}, 0.1, 1.0, False, scale=1, scales=3, long_edge=512))
    bar.close()
    assert "scale 2/3, 512 px" in stream.getvalue()


def test_help_says_sizes_signals_sweeps_and_manifest_paths(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for phrase in (
        "at least 16 px",
        "SIGTERM (exit 143",
        "<name>.interrupted.<ext>",
        "every value of a numeric setting",
        "relative to the manifest's folder",
        "$NEURAL_STYLE_WEIGHTS",
        "snapshots go beside it",
    ):
        assert phrase in text, phrase


class Writes(io.StringIO):
    """A stdout that records each write() call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: List[str] = []

    def write(self, text: str) -> int:
        self.calls.append(text)
        return super().write(text)


@pytest.mark.parametrize("extra", [[], ["--json"], ["--json", "--dry-run"], ["--dry-run"]])
def test_each_result_line_is_one_write(
    base: List[str], extra: List[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every line on stdout (a path, a JSON record, a dry-run plan) is written whole in one
    call: shards appending to one file cannot split it (see the next test)."""
    stdout = Writes()
    monkeypatch.setattr(sys, "stdout", stdout)
    assert cli.main([*base, *extra]) == 0
    assert stdout.calls and all(c.endswith("\n") and c.count("\n") == 1 for c in stdout.calls)
    if "--json" in extra or "--dry-run" in extra:
        assert [json.loads(c) for c in stdout.calls]


def test_processes_appending_to_one_file_keep_their_lines_whole(tmp_path: Path) -> None:
    """The README's ``parallel ... --json >> results.jsonl``, unbuffered as CI runs Python:
    four processes write 1000 long lines each to one file and every line parses. With
    ``print`` (text and newline in two system calls) thousands of lines were merged."""
    record = json.dumps({"output": "x" * 500})
    code = (
        "from neural_style.cli.main import emit_line\n"
        f"for _ in range(1000): emit_line({record!r})\n"
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    results = tmp_path / "results.jsonl"
    with results.open("ab") as out:
        workers = [
            subprocess.Popen([sys.executable, "-c", code], stdout=out, env=env) for _ in range(4)
        ]
        assert [w.wait(timeout=120) for w in workers] == [0] * 4
    lines = results.read_text().splitlines()
    assert len(lines) == 4000 and {json.loads(line)["output"] for line in lines} == {"x" * 500}


def test_long_lines_from_processes_sharing_one_pipe_stay_whole(tmp_path: Path) -> None:
    """``xargs -P 4 neural-style ... --json | consumer``: four processes write one pipe.
    A write larger than the pipe's atomic size (PIPE_BUF, 4096 bytes on Linux) is split by
    the kernel whenever the pipe fills, and another process's bytes land in between (a
    record with many style paths or a long error passes that size). 70 kB records read
    slowly: every line must still parse."""
    code = (
        "import json, os\n"
        "from neural_style.cli.main import emit_line\n"
        "record = json.dumps({'pid': os.getpid(), 'output': 'x' * 70000})\n"
        "for _ in range(100): emit_line(record)\n"
    )
    reader = (
        "import sys, time\n"
        "for line in sys.stdin.buffer:\n"
        "    sys.stdout.buffer.write(line)\n"
        "    time.sleep(0.0005)\n"  # a slow consumer: the pipe fills
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    results = tmp_path / "results.jsonl"
    with results.open("wb") as out:
        consumer = subprocess.Popen(
            [sys.executable, "-c", reader], stdin=subprocess.PIPE, stdout=out
        )
        assert consumer.stdin is not None
        workers = [
            subprocess.Popen([sys.executable, "-c", code], stdout=consumer.stdin, env=env)
            for _ in range(4)
        ]
        consumer.stdin.close()
        assert [w.wait(timeout=120) for w in workers] == [0] * 4
        assert consumer.wait(timeout=120) == 0
    lines = results.read_bytes().splitlines()
    assert len(lines) == 400
    assert all(len(json.loads(line)["output"]) == 70000 for line in lines)


class _SignalInDel:
    """An object whose ``__del__`` receives SIGTERM, as MXNet's arrays (freed in ``__del__``
    every epoch) may when the signal comes: the handler runs inside ``__del__``, and Python
    drops the KeyboardInterrupt it raises there with only an "Exception ignored" warning."""

    raised: List[type] = []  # what the handler raised inside __del__

    def __del__(self) -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(3):  # a few bytecodes: the handler runs here, inside __del__
                pass
        except BaseException as err:
            _SignalInDel.raised.append(type(err))
            raise


def test_a_signal_whose_interrupt_is_lost_in_a_del_still_stops_the_run(
    tmp_path: Path,
    content_path: Path,
    style_path: Path,
    vgg19_random_npz: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The signal handler's KeyboardInterrupt is lost when it is raised in a ``__del__``;
    the run must still stop at the next epoch and save its image as ``.interrupted`` (it
    ran to the end and saved nothing as interrupted: Slurm's SIGTERM, then SIGKILL)."""
    from neural_style.cli import progress

    real_epoch = progress.BatchProgress.epoch

    def epoch(self: progress.BatchProgress, info: object) -> None:
        real_epoch(self, info)  # type: ignore[arg-type]
        if getattr(info, "epoch", 0) == 2:
            _SignalInDel()  # made and freed at once: SIGTERM arrives inside its __del__

    monkeypatch.setattr(progress.BatchProgress, "epoch", epoch)
    out = tmp_path / "out"
    args = cpu_run(
        content_path, style_path, vgg19_random_npz, out, max_long_edge=32, max_num_epochs=40
    )
    shown: List[object] = []

    def hook(unraisable: Any) -> None:
        shown.append(unraisable.exc_type)

    monkeypatch.setattr(sys, "unraisablehook", hook)
    monkeypatch.setattr(_SignalInDel, "raised", [])
    code = cli.main([*args, "--stop-eps", "1e-12", "--save-epochs", "0"])
    assert _SignalInDel.raised == [KeyboardInterrupt]  # raised in __del__, so dropped
    assert shown == []  # and not printed as "Exception ignored ... Traceback" (CI, 3.9)
    assert code == ExitCode.TERMINATED
    assert visible(out) == ["final.interrupted.jpg"]
    assert sys.unraisablehook is hook  # given back


def _pipe_fill(fd: int) -> int:
    """Bytes waiting in the pipe whose read end is ``fd``."""
    import fcntl
    import termios

    buf = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    return int.from_bytes(buf, sys.byteorder)


def _pending(pid: int, signum: int) -> bool:
    """Whether ``signum`` is sent to ``pid`` but not yet delivered."""
    status = Path(f"/proc/{pid}/status").read_text()
    masks = [
        int(line.split()[1], 16) for line in status.splitlines() if line[:6] in ("SigPnd", "ShdPnd")
    ]
    return any(mask & (1 << (signum - 1)) for mask in masks)


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux's /proc")
def test_a_signal_during_a_blocked_write_leaves_the_line_whole() -> None:
    """SIGTERM while a long result line waits on a full pipe (a slow consumer): the write
    returned after the first 64 kB, the handler's KeyboardInterrupt left the line cut off
    without its newline, and another process's record would join it. The line is finished
    first, then the run stops as the signal asks."""
    child = (
        "import json, sys\n"
        "from neural_style.cli.main import StopSignals, emit_line\n"
        "with StopSignals() as signals:\n"
        "    try:\n"
        "        emit_line(json.dumps({'output': 'x' * 200000}), signals)\n"
        "    except KeyboardInterrupt:\n"
        "        sys.exit(143)\n"
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, env=env)
    assert process.stdout is not None
    try:
        fd = process.stdout.fileno()
        while _pipe_fill(fd) < 65536 and process.poll() is None:  # the pipe is full:
            time.sleep(0.01)  # the write has begun and waits for the reader
        process.send_signal(signal.SIGTERM)
        while process.poll() is None and _pending(process.pid, signal.SIGTERM):
            time.sleep(0.01)  # delivered: the write is interrupted (or carries on)
        out = process.stdout.read()
    finally:
        if process.poll() is None:  # never leave it behind, whatever the test found
            process.kill()
        process.wait(timeout=60)
    assert process.returncode == ExitCode.TERMINATED
    assert out.endswith(b"\n") and json.loads(out)["output"] == "x" * 200000


@pytest.mark.parametrize(
    "signum, code",
    [
        (signal.SIGTERM, ExitCode.TERMINATED),
        (signal.SIGHUP, ExitCode.HANGUP),  # was 130: SIGHUP early in a run (seen by hand)
        (signal.SIGINT, ExitCode.INTERRUPTED),
    ],
)
def test_python_dash_m_exits_with_the_signal_status_when_the_interrupt_passed_an_exec(
    tmp_path: Path, content_path: Path, style_path: Path, signum: int, code: int
) -> None:
    """SIGTERM during ``python -m neural_style --dry-run`` exited by SIGINT (-2), not 143,
    in about half the tries: CPython 3.11 marks the interpreter as ended by Ctrl-C when a
    KeyboardInterrupt passes out of any exec() of a string (dataclasses make their methods
    so, at import), even one caught later, and ``-m`` then kills itself with SIGINT after
    ``sys.exit(143)``. Here the signal comes inside such an exec, every time."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import importlib\ncli_main = importlib.import_module('neural_style.cli.main')\n"
        "real = cli_main.dry_run\n"
        "def dry_run(*args, **kwargs):\n"
        f"    exec('import os, signal\\nos.kill(os.getpid(), {int(signum)})\\n'\n"
        "         'for _ in range(9): pass')\n"
        "    return real(*args, **kwargs)\n"
        "cli_main.dry_run = dry_run\n"
    )
    args = ["--content-image", str(content_path), "--style-image", str(style_path), "--dry-run"]
    done = subprocess.run(
        [sys.executable, "-m", "neural_style", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), str(ROOT)])},
    )
    assert "interrupted" in done.stderr
    assert done.returncode == code, done.stderr
