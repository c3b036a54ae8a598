"""Claims on outputs (:mod:`neural_style.io.claims`): one holder at a time, across
processes, never stale after its holder dies, and no two holders when a released claim's
file is removed while another process waits on it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List

import pytest

from neural_style.io import claims
from neural_style.io.claims import claim, claim_path, clear_stale
from tests.helpers import ROOT


def test_a_claim_excludes_another_and_leaves_nothing_behind(tmp_path: Path) -> None:
    out = tmp_path / "a.jpg"
    held = claim(out)
    assert held is not None and held.fd is not None
    assert claim_path(out) == tmp_path / ".a.jpg.lock" and claim_path(out).is_file()
    assert claim(out) is None  # another open file: flock excludes it, in-process too
    held.release()
    assert not claim_path(out).exists()
    with claim(out) as again:  # type: ignore[union-attr]
        assert again.fd is not None
    assert list(tmp_path.iterdir()) == []


def test_a_waiting_claim_gets_the_output_once_its_holder_lets_go(tmp_path: Path) -> None:
    """The holder removes the lock file as it releases; the waiter, which opened the old
    file, must notice and claim the new one (else a third process could hold the new
    file while the waiter holds the removed one)."""
    out = tmp_path / "a.jpg"
    held = claim(out)
    assert held is not None
    got: List[object] = []
    waiter = threading.Thread(target=lambda: got.append(claim(out, wait=True)))
    waiter.start()
    time.sleep(0.3)
    assert got == []  # still waiting
    held.release()
    waiter.join(timeout=30)
    (taken,) = got
    assert taken is not None and taken.fd is not None  # type: ignore[attr-defined]
    assert claim(out) is None  # it holds the file now named there
    taken.release()  # type: ignore[attr-defined]


def test_a_claim_is_free_again_when_its_holder_is_killed(tmp_path: Path) -> None:
    out = tmp_path / "a.jpg"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from neural_style.io.claims import claim\n"
            f"held = claim(Path({str(out)!r}))\n"
            "print('held' if held is not None else 'busy', flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        assert claim(out) is None
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        assert claim_path(out).exists()  # left behind, empty
        taken = claim(out)
        assert taken is not None and taken.fd is not None  # the kernel dropped the lock
        taken.release()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_folder_without_room_for_the_lock_file_runs_unclaimed(tmp_path: Path) -> None:
    """A claim that cannot be made for another reason than a holder does not stop the
    job: it runs as before claims existed, and its own write reports the folder."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    held = claim(blocker / "a.jpg")  # its folder is a file: ENOTDIR
    assert held is not None and held.fd is None
    held.release()


CONTENDER = """
import os, sys, time
from pathlib import Path
from neural_style.io.claims import claim
out, log, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for _ in range(rounds):
    with claim(out, wait=True) as held:
        assert held is not None and held.fd is not None
        with open(log, "a") as f:
            f.write(f"in {os.getpid()}\\n")
        time.sleep(0.001)
        with open(log, "a") as f:
            f.write(f"out {os.getpid()}\\n")
"""


def test_waiting_processes_hold_the_claim_one_at_a_time(tmp_path: Path) -> None:
    """Four processes claim the same output 150 times each, waiting in turn: the log of
    their critical sections never interleaves (each "in" is followed by its "out")."""
    out, log = tmp_path / "a.jpg", tmp_path / "log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", CONTENDER, str(out), str(log), "150"], env=env)
        for _ in range(4)
    ]
    for p in procs:
        assert p.wait(timeout=300) == 0
    lines = log.read_text().splitlines()
    assert len(lines) == 4 * 150 * 2
    for enter, leave in zip(lines[::2], lines[1::2]):
        assert enter.startswith("in ") and leave == "out " + enter[3:]


def test_a_stale_claim_file_is_cleared_and_a_held_one_kept(tmp_path: Path) -> None:
    out = tmp_path / "a.jpg"
    clear_stale(out)  # none there: none made
    assert list(tmp_path.iterdir()) == []
    claim_path(out).touch()  # left by a run killed with -9
    clear_stale(out)
    assert list(tmp_path.iterdir()) == []
    held = claim(out)
    assert held is not None
    clear_stale(out)  # held by another run: never unlinked under it
    assert claim_path(out).exists() and claim(out) is None
    held.release()


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_an_interrupt_inside_claim_or_release_leaves_no_descriptor_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C (a stop signal's KeyboardInterrupt) can land anywhere: after the lock is
    taken, or while the claim is let go. Neither leaves the lock file's descriptor open
    (an open descriptor would keep the claim held for as long as the process lives)."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc")
    out = tmp_path / "a.jpg"
    before = _open_fds()

    def interrupted(*_: object) -> bool:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(claims, "_is_at", interrupted)
        with pytest.raises(KeyboardInterrupt):
            claim(out)
    assert _open_fds() == before
    held = claim(out)
    assert held is not None and held.fd is not None
    with monkeypatch.context() as patch:
        patch.setattr(claims.os, "unlink", interrupted)
        with pytest.raises(KeyboardInterrupt):
            held.release()
    assert _open_fds() == before
    again = claim(out)  # free: nothing in this process holds it any more
    assert again is not None and again.fd is not None
    again.release()
