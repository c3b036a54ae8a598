"""Shared fixtures: a tiny VGG-shaped network with fixed random weights, and images.

The helpers they are built on (and that tests import) live in :mod:`tests.helpers`.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from neural_style.engine.vgg import VGG19
from tests.helpers import TINY, Weights, random_weights, serve_folder, write_image, write_keras_h5


def pytest_configure(config: pytest.Config) -> None:
    """The stop signals as a terminal gives them. Started under ``nohup`` or as a
    background job of a script, the suite inherits SIGHUP or SIGINT ignored, its child
    runs inherit that too (an ignored signal stays ignored across exec, and the command
    rightly keeps it so), and the tests that send those signals to a run failed there."""
    del config
    for name in ("SIGHUP", "SIGINT", "SIGTERM"):
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) is signal.SIG_IGN:
            signal.signal(
                number, signal.default_int_handler if name == "SIGINT" else signal.SIG_DFL
            )


@pytest.fixture(scope="session")
def tiny_weights() -> Weights:
    return random_weights(TINY)


@pytest.fixture(scope="session")
def vgg19_random() -> Weights:
    """Full-size VGG19 weights with fixed random values (not ImageNet): right shapes, fast."""
    return random_weights(VGG19, seed=1)


@pytest.fixture(scope="session")
def vgg19_random_npz(tmp_path_factory: pytest.TempPathFactory, vgg19_random: Weights) -> Path:
    path = tmp_path_factory.mktemp("weights") / "vgg19-random.npz"
    np.savez(path, **vgg19_random)
    return path


@pytest.fixture()
def content_path(tmp_path: Path) -> Path:
    return write_image(tmp_path / "content.png", seed=1)


@pytest.fixture()
def style_path(tmp_path: Path) -> Path:
    return write_image(tmp_path / "style.png", size=(40, 40), seed=2)


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


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, vgg19_random: Weights) -> Iterator[str]:
    """127.0.0.1 serving good.h5, good.params, corrupt.params and truncated.h5 (and each
    under /slow/, answered after 3 s)."""
    from neural_style.io.weights import save_params

    folder = tmp_path_factory.mktemp("www")
    write_keras_h5(vgg19_random, folder / "good.h5")
    save_params(vgg19_random, folder / "good.params")
    (folder / "corrupt.params").write_bytes(b"\x12\x01\x00\x00" + os.urandom(4096))
    (folder / "truncated.h5").write_bytes((folder / "good.h5").read_bytes()[:1_000_000])
    with serve_folder(folder) as url:
        yield url


@pytest.fixture(scope="module")
def expected(vgg19_random: Weights) -> str:
    """The fingerprint of ``vgg19_random``, which the served files hold."""
    from neural_style.io.weights import fingerprint

    return fingerprint(vgg19_random)
