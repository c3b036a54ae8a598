"""Test helpers: a tiny VGG-shaped network with fixed random weights, images, weight files.

Fixtures built on these live in ``conftest.py``; tests import the helpers from here.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import numpy as np
from PIL import Image

from neural_style.engine.graph import StyleGraph
from neural_style.engine.vgg import VGG19, VGGSpec

ROOT = Path(__file__).resolve().parent.parent
INPUT = ROOT / "input"

#: VGG19's layer names and depth, with a few channels: fast enough for gradient checks.
TINY = VGGSpec(blocks=((4, 2), (6, 2), (8, 4), (8, 4), (8, 4)))

Weights = Dict[str, np.ndarray]


def random_weights(spec: VGGSpec, seed: int = 0, dtype: type = np.float32) -> Weights:
    """He-initialised convolutions, small biases: activations keep their scale."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in spec.param_shapes().items():
        if name.endswith("_weight"):
            fan_in = shape[1] * shape[2] * shape[3]
            out[name] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)
        else:
            out[name] = (rng.standard_normal(shape) * 0.01).astype(dtype)
    return out


def write_keras_h5(weights: Weights, path: Path, spec: VGGSpec = VGG19) -> Path:
    """Keras's layout: block<b>_conv<i>/…_W_1:0 (kh, kw, in, out), BGR first layer."""
    import h5py

    with h5py.File(path, "w") as h5:
        for layer in spec.layers:
            b, i = layer.name[4], layer.name[6]
            kernel = weights[f"{layer.name}_weight"]
            if layer.name == "conv1_1":
                kernel = kernel[:, ::-1]  # the file is BGR
            group = h5.create_group(f"block{b}_conv{i}")
            group[f"block{b}_conv{i}_W_1:0"] = np.transpose(kernel, (2, 3, 1, 0))
            group[f"block{b}_conv{i}_b_1:0"] = weights[f"{layer.name}_bias"]
        h5.create_group("block1_pool")
    return path


def too_little_memory(content: Path, long_edge: int) -> int:
    """A ``--max-memory`` in MiB too small for even the smallest tile of ``content`` at
    ``long_edge``, under any precision: 32 MiB under what the memory model gives the
    process and the image-sized arrays alone in fp32 (the lowest base: bf16 adds its
    caches). Taken from the model, so it stays too small when the model's constants or
    the CPU's precision change (a hand-picked 600M fitted a tile in fp32)."""
    from neural_style.engine.memory import IMAGE_BYTES_PER_PIXEL, base_bytes
    from neural_style.engine.pixels import fit_long_edge

    with Image.open(content) as img:
        h, w = fit_long_edge((img.height, img.width), long_edge)
    need = base_bytes("fp32") + IMAGE_BYTES_PER_PIXEL * h * w
    return need // 2**20 - 32


def write_image(
    path: Path, size: Tuple[int, int] = (48, 32), seed: int = 0, mode: str = "RGB"
) -> Path:
    """A random-noise image of ``size`` (width, height) in ``mode``."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).convert(mode).save(path)
    return path


def ready_graph(
    weights: Weights,
    dtype: Any = np.float32,
    pooling: str = "avg",
    normalize_gradients: bool = False,
) -> StyleGraph:
    """A tiny 24x24 StyleGraph with random targets, weights (1, 10) and a white-noise start."""
    from neural_style._mxnet import mx
    from neural_style.api import white_noise
    from neural_style.config import CONTENT_LAYERS, STYLE_LAYERS

    params = {k: mx.nd.array(v, dtype=dtype) for k, v in weights.items()}
    g = StyleGraph(
        TINY,
        params,
        (24, 24),
        STYLE_LAYERS,
        CONTENT_LAYERS,
        mx.cpu(),
        pooling=pooling,
        dtype=dtype,
        normalize_gradients=normalize_gradients,
    )
    rng = np.random.default_rng(5)
    style, content = rng.uniform(-100, 100, size=(2, 1, 3, 24, 24))
    g.set_targets(g.style_targets(style), content)
    g.set_weights(style=1.0, content=10.0)
    g.data[:] = white_noise(g.shape, seed=0)
    return g


def noisy_flat(seed: int = 0) -> np.ndarray:
    """A grey image with isolated bright dots."""
    rgb = np.full((32, 32, 3), 128, np.uint8)
    rng = np.random.default_rng(seed)
    ys, xs = rng.integers(0, 32, size=(2, 20))
    rgb[ys, xs] = 255
    return rgb


class _SlowHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; ``/slow/<name>`` answers after 3 s (longer than the tests' timeouts)."""

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/slow/"):
            time.sleep(3)
        super().do_GET()

    def translate_path(self, path: str) -> str:
        return super().translate_path(path.replace("/slow/", "/", 1))

    def log_message(self, *args: object) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up on the slow path: expected here


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` serving ``folder`` (with the ``/slow/`` prefix) while open."""
    server = _QuietServer(("127.0.0.1", 0), partial(_SlowHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def cpu_run(content: Path, style: Path, weights: Path, out: Path, **settings: object) -> List[str]:
    """CLI arguments for a run on the CPU: the images, the weights, the output folder, then
    each setting as its flag (``max_long_edge=32`` -> ``--max-long-edge 32``)."""
    args = ["--content-image", str(content), "--style-image", str(style)]
    args += ["--weights", str(weights), "--gpu", "-1", "--output-dir", str(out)]
    for name, value in settings.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    return args


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` read-only (mode 555): nothing can be made in it. As root, the mode does
    not deny that, so the system calls that make files and folders there are refused
    as the kernel would refuse them (EACCES; a name that exists is EEXIST first)."""
    import errno
    import os
    import pathlib
    from unittest import mock

    real_open, real_mkdir = os.open, os.mkdir
    tmpfile = getattr(os, "O_TMPFILE", 0)

    def denied(path: Any) -> PermissionError:
        return PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))

    def inside(path: Any) -> bool:
        return Path(os.path.abspath(os.fsdecode(path))).parent == Path(os.path.abspath(folder))

    def opened(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        unnamed = tmpfile and flags & tmpfile == tmpfile  # made in the folder ``path``
        target = Path(os.path.abspath(os.fsdecode(path))) / "x" if unnamed else path
        new = unnamed or (flags & os.O_CREAT and not os.path.lexists(path))
        if new and inside(target):
            raise denied(path)
        return real_open(path, flags, *args, **kwargs)

    def made(path: Any, *args: Any, **kwargs: Any) -> None:
        if inside(path) and not os.path.lexists(path):  # else EEXIST, as the kernel says
            raise denied(path)
        real_mkdir(path, *args, **kwargs)

    folder.chmod(0o555)
    try:
        if os.geteuid() != 0:
            yield
            return
        with contextlib.ExitStack() as patches:
            patches.enter_context(mock.patch.object(os, "open", opened))
            patches.enter_context(mock.patch.object(os, "mkdir", made))
            # Python < 3.10: pathlib took os.open and os.mkdir into its accessor when it
            # was imported, so Path.mkdir does not see the patches above
            accessor = getattr(pathlib, "_NormalAccessor", None)
            for name, real, replacement in (
                ("open", real_open, opened),
                ("mkdir", real_mkdir, made),
            ):  # only where it holds the os function (3.10's open is io.open)
                if accessor is not None and getattr(accessor, name, None) is real:
                    patches.enter_context(
                        mock.patch.object(accessor, name, staticmethod(replacement))
                    )
            yield
    finally:
        folder.chmod(0o755)
