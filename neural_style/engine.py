"""The library's entry points: :class:`Stylizer` (weights loaded once) and :func:`stylize`.

The engine never parses arguments, prints or writes files: progress and snapshots
flow to callbacks, and the result comes back as arrays.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Tuple, Union

import numpy as np

from ._mxnet import mx
from .config import Config
from .device import choose_context
from .errors import DeviceError
from .graph import StyleGraph
from .images import ImageInput, from_network, load_pair, to_network
from .losses import NDArray
from .optimise import EpochInfo, LoopOutcome, StopReason, optimise
from .snapshots import denoise
from .vgg import MIN_EDGE, VGG19, VGGSpec
from .cache import StyleCache, style_key
from .weights import VGG19_FINGERPRINT, default_weights_path, fingerprint, load_weights

#: Called once per epoch; ``snapshot`` is the denoised image when one is due, else None.
ProgressCallback = Callable[[EpochInfo, Optional[np.ndarray]], None]

#: How MXNet says it ran out of memory (CPU allocation, CUDA, cuDNN).
_OOM_MARKS = ("out of memory", "bad_alloc", "cudamalloc", "memory allocation failed")

#: How many bound graphs (image shapes) a Stylizer keeps; each holds its activations.
GRAPH_CACHE_SIZE = 2


@dataclass(frozen=True)
class StyleResult:
    image: np.ndarray  # (H, W, 3) uint8, denoised as the config asks
    epochs: int
    stop_reason: StopReason
    eps: float
    terms: Dict[str, float]  # the weighted loss terms of the last epoch
    seconds: float

    @property
    def loss(self) -> float:
        return sum(self.terms.values())


class Stylizer:
    """Loads VGG19 once onto a device and stylizes any number of images with it.

    ``weights``: a path (``.params``, ``.h5``, ``.npz``), an already loaded dict, or
    None for the default location. ``gpu``: None picks GPU 0 if any, else the CPU;
    -1 is the CPU; N is GPU N.
    """

    def __init__(self, weights: Union[None, str, "os.PathLike[str]", Mapping[str, np.ndarray]] = None,
                 gpu: Optional[int] = None, *, spec: VGGSpec = VGG19,
                 dtype: Any = np.float32) -> None:
        self.ctx = choose_context(gpu)
        self.spec, self.dtype = spec, dtype
        arrays = self._read(weights)
        self._params = {k: mx.nd.array(v, ctx=self.ctx, dtype=dtype) for k, v in arrays.items()}
        self.weights_id = fingerprint(arrays, spec)
        self._graphs: "OrderedDict[Tuple[Any, ...], StyleGraph]" = OrderedDict()

    def _read(self, weights: Any) -> Mapping[str, np.ndarray]:
        if isinstance(weights, Mapping):
            return weights
        path = Path(weights) if weights is not None else default_weights_path()
        expected = VGG19_FINGERPRINT if weights is None and self.spec == VGG19 else None
        return load_weights(path, self.spec, expected)

    def graph(self, shape: Tuple[int, int], cfg: Config) -> StyleGraph:
        """The bound graph for this shape and these layers, reused when it is cached."""
        key = (shape, cfg.style_layers, cfg.content_layers)
        if key in self._graphs:
            self._graphs.move_to_end(key)
        else:
            while len(self._graphs) >= GRAPH_CACHE_SIZE:
                self._graphs.popitem(last=False)
            self._graphs[key] = StyleGraph(self.spec, self._params, shape, cfg.style_layers,
                                           cfg.content_layers, self.ctx, dtype=self.dtype)
        graph = self._graphs[key]
        graph.set_weights(style=cfg.style_weight, content=cfg.content_weight)
        return graph

    def stylize(self, content: ImageInput, style: ImageInput, config: Optional[Config] = None,
                callback: Optional[ProgressCallback] = None,
                style_cache: Optional[StyleCache] = None) -> StyleResult:
        """Paint ``content`` in the style of ``style`` (paths or (H, W, 3) arrays).

        ``style_cache`` keeps the style targets for later calls (and on disk, if it has
        a folder); without one, they are computed for this call only.
        """
        cfg = config or Config()
        started = time.perf_counter()
        content_rgb, style_rgb = load_pair(content, style, cfg.max_long_edge)
        with self._memory_guard(content_rgb.shape[:2], cfg.max_long_edge):
            graph = self.graph(content_rgb.shape[:2], cfg)
            style_x = to_network(style_rgb)
            key = style_key(style_x, cfg.style_layers, graph.pooling, self.weights_id)
            grams = (style_cache or StyleCache()).get_or_compute(key, lambda: graph.style_targets(style_x))
            graph.set_targets(grams, to_network(content_rgb))
            graph.data[:] = white_noise(graph.shape, cfg.seed)
            outcome = optimise(graph, cfg, _snapshotting(cfg, callback))
            image = finish(graph.data.asnumpy(), cfg)
        return _result(image, outcome, time.perf_counter() - started)

    @contextlib.contextmanager
    def _memory_guard(self, shape: Tuple[int, int], long_edge: int) -> Iterator[None]:
        """Out of memory on the device becomes a :class:`DeviceError` with a smaller size."""
        try:
            yield
        except (MemoryError, mx.base.MXNetError) as err:
            text = str(err).lower()
            if not isinstance(err, MemoryError) and not any(m in text for m in _OOM_MARKS):
                raise
            smaller = max(MIN_EDGE, int(long_edge * 0.7))
            self._graphs.clear()
            raise DeviceError(f"out of memory on {self.ctx} at {shape[1]}x{shape[0]} pixels; "
                              f"try --max-long-edge {smaller}") from None


def white_noise(shape: Tuple[int, ...], seed: Optional[int]) -> np.ndarray:
    """The example's start: uniform(-0.1, 0.1) in mean-subtracted units."""
    return np.random.default_rng(seed).uniform(-0.1, 0.1, size=shape).astype(np.float32)


def finish(x: np.ndarray, cfg: Config) -> np.ndarray:
    """Network units -> denoised uint8 image."""
    return denoise(from_network(x), cfg.denoise, cfg.denoise_strength)


def _snapshotting(cfg: Config, callback: Optional[ProgressCallback]
                  ) -> Optional[Callable[[EpochInfo, NDArray], None]]:
    if callback is None:
        return None

    def on_epoch(info: EpochInfo, image: NDArray) -> None:
        callback(info, finish(image.asnumpy(), cfg) if info.snapshot_due else None)

    return on_epoch


def _result(image: np.ndarray, outcome: LoopOutcome, seconds: float) -> StyleResult:
    return StyleResult(image, outcome.epochs, outcome.reason, outcome.eps, outcome.terms, seconds)


def stylize(content: ImageInput, style: ImageInput, config: Optional[Config] = None, *,
            weights: Any = None, gpu: Optional[int] = None,
            callback: Optional[ProgressCallback] = None) -> StyleResult:
    """One-shot :meth:`Stylizer.stylize`; use a :class:`Stylizer` for several images."""
    return Stylizer(weights, gpu).stylize(content, style, config, callback)
