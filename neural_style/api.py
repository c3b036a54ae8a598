"""The library's entry points: :class:`Stylizer` (weights loaded once) and :func:`stylize`.

The engine never parses arguments, prints or writes files: progress and snapshots
flow to callbacks, and the result comes back as arrays.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import os
import resource
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy as np

from ._mxnet import mx
from .config import Config, layer_names, layer_weights
from .engine import strips
from .engine import tiled as tiling
from .engine.denoise import denoise
from .engine.denoise import margin as denoise_margin
from .engine.device import choose_context, describe, describe_request
from .engine.graph import StyleGraph, positions
from .engine.losses import NDArray, term_name
from .engine.measures import CONTENT_LAYER, Judge, mxnet_features
from .engine.measures import STYLE_LAYERS as MEASURE_STYLE_LAYERS
from .engine.memory import (
    WHOLE_IMAGE_BYTES_PER_PIXEL,
    available_bytes,
    base_bytes,
    bytes_per_pixel,
    format_size,
    host_precision,
    release_freed,
    tile_for_budget,
)
from .engine.optimise import EpochInfo, LoopOutcome, StopReason, optimise
from .engine.pixels import (
    check_size,
    fit_long_edge,
    from_network,
    keep_colors,
    resize,
    resize_network,
    to_network,
)
from .engine.precision import (
    AMX_BF16_MAX_WIDTH,
    Device,
    Precision,
    PrecisionError,
    amx_in_use,
    for_width,
    resolve,
)
from .engine.tiles import ALIGN
from .engine.vgg import MIN_EDGE, VGG19, VGGSpec
from .errors import ConfigError, DeviceError, ImageError
from .io.cache import StyleCache, resampled_style_key, style_key
from .io.images import ImageInput, load_inputs, load_rgb, save_image
from .io.locate import find_weights
from .io.weights import VGG19_FINGERPRINT, fingerprint, load_weights

#: Called once per epoch; ``snapshot`` is the denoised image when one is due, else None.
ProgressCallback = Callable[[EpochInfo, Optional[np.ndarray]], None]

#: How MXNet says it ran out of memory: its CPU allocator ("Failed to allocate CPU
#: Memory"), C++ (std::bad_alloc), CUDA ("cudaMalloc retry failed: out of memory",
#: cudaErrorMemoryAllocation) and cuDNN (CUDNN_STATUS_ALLOC_FAILED).
_OOM_MARKS = (
    "out of memory",
    "bad_alloc",
    "cudamalloc",
    "memory allocation failed",
    "failed to allocate",
    "cudaerrormemoryallocation",
    "alloc_failed",
)


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

    def save(self, path: "str | os.PathLike[str]") -> Path:
        """Write :attr:`image` to ``path`` atomically (a temporary file, verified, then
        renamed), in the format its extension names; returns the path."""
        return save_image(self.image, path)


class Stylizer:
    """Loads VGG19 once onto a device and stylizes any number of images with it.

    ``weights``: a path (``.params``, ``.h5``, ``.npz``), an already loaded dict, or
    None for the default location. ``gpu``: None picks GPU 0 if any, else the CPU;
    -1 is the CPU; N is GPU N.
    """

    def __init__(
        self,
        weights: Union[None, str, os.PathLike[str], Mapping[str, np.ndarray]] = None,
        gpu: Optional[int] = None,
        *,
        spec: VGGSpec = VGG19,
        dtype: Any = np.float32,
    ) -> None:
        self.ctx = choose_context(gpu)
        self.spec, self.dtype = spec, dtype
        arrays, self.weights_id = self._read(weights)
        self._params = {k: mx.nd.array(v, ctx=self.ctx, dtype=dtype) for k, v in arrays.items()}
        # The address space in use with the weights loaded and no graph yet: what a new
        # run needs before its graph (MXNet keeps freed memory in its pool, so the figure
        # after running out of memory would be far too high).
        self._base_size = _meminfo("/proc/self/status", "VmSize:")
        self._graphs: "OrderedDict[Tuple[Any, ...], StyleGraph]" = OrderedDict()
        self._precisions: Dict[str, Precision] = {}
        self._device = describe(self.ctx)

    def precision(self, requested: str, width: Optional[int] = None) -> Precision:
        """``--precision`` resolved on this stylizer's device (a :class:`PrecisionError`
        if the device cannot do it), with the reason for the choice; for a graph ``width``
        pixels wide if given (bf16 with AMX has a width limit: :func:`for_width`)."""
        if requested not in self._precisions:
            self._precisions[requested] = resolve(requested, self._device)
        return precision_on(self._device, requested, width, self._precisions[requested])

    def _read(self, weights: Any) -> Tuple[Mapping[str, np.ndarray], str]:
        """The arrays and their fingerprint (computed once: the default file is checked
        against the committed one)."""
        if isinstance(weights, Mapping):
            return weights, fingerprint(weights, self.spec)
        path = find_weights(weights)  # the one search order; its error says how to fetch
        expected = VGG19_FINGERPRINT if weights is None and self.spec == VGG19 else None
        arrays = load_weights(path, self.spec, expected)
        return arrays, expected or fingerprint(arrays, self.spec)

    def graph(self, shape: Tuple[int, int], cfg: Config) -> StyleGraph:
        """The bound graph for this shape, layers and pooling, reused when it is cached;
        the config's weights are applied to it."""
        styles, contents = layer_names(cfg.style_layers), layer_names(cfg.content_layers)
        precision = self.precision(cfg.precision, shape[1])
        key = (tuple(shape), styles, contents, cfg.pooling, precision.name)
        if key in self._graphs:
            self._graphs.move_to_end(key)
        else:
            while len(self._graphs) >= GRAPH_CACHE_SIZE:
                self._graphs.popitem(last=False)
            self._graphs[key] = StyleGraph(
                self.spec,
                self._params,
                shape,
                styles,
                contents,
                self.ctx,
                cfg.pooling,
                self.dtype,
                cfg.normalize_gradients,
                precision=precision,
            )
        graph = self._graphs[key]
        per_layer = {
            term_name(kind, n): w
            for kind, specs in (("style", cfg.style_layers), ("content", cfg.content_layers))
            for n, w in zip(layer_names(specs), layer_weights(specs))
        }
        graph.set_weights(
            style=cfg.style_weight,
            content=cfg.content_weight,
            layer_weights=per_layer,
            loss=cfg.loss,
        )
        return graph

    def judge(self, content: ImageInput, style: ImageInput, shape: Tuple[int, int]) -> Judge:
        """The quality measures (:mod:`neural_style.engine.measures`) for outputs of
        ``shape`` (H, W) made from ``content`` and ``style`` (paths or arrays)."""
        features = mxnet_features(
            self.spec, self._params, self.ctx, MEASURE_STYLE_LAYERS + (CONTENT_LAYER,)
        )
        style_rgb = load_rgb(style, max(shape))
        return Judge(features, load_rgb(content, shape=shape), style_rgb, shape)

    def stylize(
        self,
        content: ImageInput,
        style: Union[ImageInput, Sequence[ImageInput]],
        config: Optional[Config] = None,
        callback: Optional[ProgressCallback] = None,
        style_cache: Optional[StyleCache] = None,
    ) -> StyleResult:
        """Paint ``content`` in the style of ``style`` (paths or (H, W, 3) arrays; a list
        of them blends several styles).

        ``style_cache`` keeps the style targets for later calls (and on disk, if it has
        a folder); without one, they are computed for this call only.
        """
        cfg = config or Config()
        started = time.perf_counter()
        styles: List[ImageInput] = list(style) if isinstance(style, (list, tuple)) else [style]  # type: ignore[list-item]
        content_rgb, style_rgbs = load_inputs(content, styles, cfg.max_long_edge, cfg.style_scale)
        cache = style_cache or StyleCache()
        sizes = plan_sizes(
            cfg, content_rgb, style_rgbs, self.spec, self.dtype, self.ctx, self.precision
        )
        edges, shapes, windows = sizes.edges, sizes.shapes, sizes.windows
        run_cfg = cfg if len(edges) == cfg.scales else cfg.replace(scales=len(edges))
        # --init-image is read now, at the first size, so that a bad one fails before any work
        init_rgb = load_rgb(cfg.init_image or "", shape=shapes[0]) if cfg.init == "image" else None
        if any(w is not None for w in windows):
            # the tiled path keeps the inputs as uint8 and resamples them window by window
            content_rgb = strips.compact(content_rgb)
            style_rgbs = [strips.compact(rgb) for rgb in style_rgbs]
        x: Optional[np.ndarray] = None
        epochs, outcome = 0, None
        last: Callable[[np.ndarray], np.ndarray] = functools.partial(
            finish, cfg=cfg, content_rgb=None
        )
        done: Optional[Tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]] = None
        for scale, (edge, shape, window) in enumerate(zip(edges, shapes, windows)):
            try:
                x, last, outcome = self._size(
                    x,
                    scale,
                    edge,
                    shape,
                    window,
                    content_rgb,
                    style_rgbs,
                    cfg,
                    run_cfg,
                    callback,
                    cache,
                    epochs,
                    init_rgb,
                )
            except KeyboardInterrupt:  # between two sizes' loops (targets, binding,
                if done is None:  # resampling): the last size done is the result
                    raise
                x, last = done
                assert outcome is not None
                outcome = LoopOutcome(StopReason.INTERRUPTED, 0, outcome.eps, outcome.terms)
            done = (x, last)
            epochs += outcome.epochs
            if outcome.reason in (StopReason.INTERRUPTED, StopReason.DIVERGED):
                break
        assert outcome is not None and x is not None
        try:
            image = last(x)
        except KeyboardInterrupt:  # while finishing (colours, denoising): finish, then stop
            outcome.reason = StopReason.INTERRUPTED
            image = last(x)
        return StyleResult(
            image, epochs, outcome.reason, outcome.eps, outcome.terms, time.perf_counter() - started
        )

    def _size(
        self,
        x: Optional[np.ndarray],
        scale: int,
        edge: int,
        shape: Tuple[int, int],
        window: Optional[int],
        content_rgb: np.ndarray,
        style_rgbs: Sequence[np.ndarray],
        cfg: Config,
        run_cfg: Config,
        callback: Optional[ProgressCallback],
        cache: StyleCache,
        epochs: int,
        init_rgb: Optional[np.ndarray] = None,
    ) -> Tuple[np.ndarray, Callable[[np.ndarray], np.ndarray], LoopOutcome]:
        """One size of the run, from ``x`` (the last size's image, None at the first,
        which starts as --init says; ``init_rgb``: the --init-image, read at its size):
        the image it leaves, how to finish it, and how its loop ended."""
        last: Callable[[np.ndarray], np.ndarray]
        with self._memory_guard(shape, cfg, "max_long_edge", edge):
            if window is not None:
                assert x is not None  # a whole-image composition comes first
                content_view = strips.Resampled(content_rgb, shape)
                x = strips.upsample(x, shape)  # a new array; the caller keeps the old for a Ctrl-C
                x, outcome = self._tiled(
                    x, content_view, style_rgbs, window, run_cfg, callback, cache, epochs, scale
                )
                last = functools.partial(finish_strips, cfg=cfg, content=content_view)
            else:
                target = resize(content_rgb, shape)
                last = functools.partial(finish, cfg=cfg, content_rgb=target)
                grams = self._style_targets(style_rgbs, shape, cfg, cache)
                graph = self.graph(shape, cfg)
                graph.set_targets(grams, to_network(target))
                graph.data[:] = (
                    start_image(cfg, to_network(target), init_rgb)
                    if x is None
                    else resize_network(x, shape)
                )
                outcome = optimise(
                    graph,
                    run_cfg,
                    _snapshotting(cfg, callback, target),
                    first_epoch=epochs,
                    scale=scale,
                )
                x = graph.data.asnumpy()
                del graph  # else this name keeps it bound when the cache lets it go
        return x, last, outcome

    def _tiled(
        self,
        start: np.ndarray,
        content: strips.Resampled,
        style_rgbs: Sequence[np.ndarray],
        window: int,
        cfg: Config,
        callback: Optional[ProgressCallback],
        cache: StyleCache,
        first_epoch: int,
        scale: int,
    ) -> Tuple[np.ndarray, LoopOutcome]:
        """One size refined in tiles of ``window`` pixels from ``start`` (the canvas,
        float16, updated in place; see :mod:`.engine.tiled`); only the tile's graph is
        kept, so memory is bounded by the tile."""
        shape = content.shape
        self.release_graphs()

        # the style targets in the tiles' precision, as the untiled path's are in its graph's
        precision = self.precision(cfg.precision, max(tiling.graph_widths(cfg, shape, window)))

        def grams_of(view: strips.Resampled) -> List[np.ndarray]:
            return tiling.tiled_grams(self, cfg, window, view.network_window, view.shape, precision)

        grams = self._style_targets(style_rgbs, shape, cfg, cache, grams_of, precision.name)

        def on_tile(info: EpochInfo, canvas: Optional[np.ndarray]) -> None:
            assert callback is not None
            callback(info, None if canvas is None else finish_strips(canvas, cfg, content))

        run = tiling.TiledScale(
            self,
            content,
            grams,
            start,
            window,
            cfg,
            on_tile if callback is not None else None,
            first_epoch,
            scale,
            precision,
        )
        outcome = run.run()
        canvas = run.canvas
        del run  # it holds the tiles' graph
        self.release_graphs()
        return canvas, outcome

    def release_graphs(self) -> None:
        """Unbind every cached graph (their activations are the bulk of the memory) and
        give the memory back to the system (:func:`.engine.memory.release_freed`)."""
        self._graphs.clear()
        mx.nd.waitall()
        release_freed()

    @property
    def params(self) -> Mapping[str, NDArray]:
        """The network's weights on the device (shared by every bound graph)."""
        return self._params

    def _style_targets(
        self,
        style_rgbs: Sequence[np.ndarray],
        shape: Tuple[int, int],
        cfg: Config,
        cache: StyleCache,
        grams_of: Optional[Callable[[strips.Resampled], List[np.ndarray]]] = None,
        tiled_precision: Optional[str] = None,
    ) -> List[np.ndarray]:
        """The Gram targets for an output of ``shape``: each style's, blended.

        With --style-scale the style keeps its aspect ratio and has its own size; its Gram
        matrices, sums over positions, are then rescaled by the ratio of positions so the
        per-position statistics are what the output is compared with.

        ``grams_of`` (the tiled path) computes them from a :class:`.strips.Resampled`
        view of the style, window by window, so the style at the output's size is never
        made whole, in ``tiled_precision`` (the tiles' graphs').
        """
        blend = blend_weights(len(style_rgbs), cfg.style_blend_weights)
        layers = layer_names(cfg.style_layers)
        out_positions = positions(self.spec, shape, layers, cfg.pooling)
        total: Optional[List[np.ndarray]] = None
        for weight, rgb in zip(blend, style_rgbs):
            style_shape = (
                shape
                if cfg.style_scale is None
                else fit_long_edge(
                    (rgb.shape[0], rgb.shape[1]), max(MIN_EDGE, round(cfg.style_scale * max(shape)))
                )
            )
            precision = (
                tiled_precision
                if grams_of is not None and tiled_precision is not None
                else self.precision(cfg.precision, style_shape[1]).name
            )
            compute: Callable[[], List[np.ndarray]]
            if grams_of is not None:
                key = resampled_style_key(
                    rgb, style_shape, layers, cfg.pooling, self.weights_id, precision
                )
                compute = functools.partial(grams_of, strips.Resampled(rgb, style_shape))
            else:
                style_x = to_network(resize(rgb, style_shape))
                key = style_key(style_x, layers, cfg.pooling, self.weights_id, precision)
                # A graph is bound at the style's shape only when the targets are not cached.
                compute = functools.partial(self._compute_style_targets, style_shape, style_x, cfg)
            knob = (
                ("style_scale", cfg.style_scale)
                if cfg.style_scale is not None
                else ("max_long_edge", max(shape))
            )
            with self._memory_guard(style_shape, cfg, *knob):
                grams = cache.get_or_compute(key, compute)
            style_positions = positions(self.spec, style_shape, layers, cfg.pooling)
            ratios = [out_positions[layer] / style_positions[layer] for layer in layers]
            scaled = [weight * r * g for r, g in zip(ratios, grams)]
            total = scaled if total is None else [t + g for t, g in zip(total, scaled)]
        assert total is not None
        return total

    def _compute_style_targets(
        self,
        shape: Tuple[int, int],
        style_x: np.ndarray,
        cfg: Config,
    ) -> List[np.ndarray]:
        return self.graph(shape, cfg).style_targets(style_x)

    @contextlib.contextmanager
    def _memory_guard(
        self, shape: Tuple[int, int], cfg: Config, knob: str, value: Any
    ) -> Iterator[None]:
        """Out of memory on the device becomes a :class:`DeviceError` that says the size
        tried and what to lower: ``knob`` is the setting that made this size
        (``max_long_edge`` for the output, ``style_scale`` for a style image)."""
        try:
            yield
        except (MemoryError, mx.base.MXNetError) as err:
            text = str(err).lower()
            if not isinstance(err, MemoryError) and not any(m in text for m in _OOM_MARKS):
                raise
            self._graphs.clear()
            # MXNet's engine keeps the failed operation's error and raises it again at the
            # next wait, or at exit as a traceback: collect it here.
            with contextlib.suppress(mx.base.MXNetError):
                mx.nd.waitall()
            available = available_memory(self.ctx, self._base_size)
            try:  # a graph as wide as the image runs in this (with AMX, fp32 if wide)
                precision = self.precision(cfg.precision, shape[1]).name
            except PrecisionError:  # an explicit bf16 too wide for AMX (a tiled size)
                precision = "fp32"
            rate = bytes_per_pixel(
                self.spec,
                layer_names(cfg.style_layers) + layer_names(cfg.content_layers),
                np.dtype(self.dtype).itemsize,
                precision,
            )
            raise DeviceError(
                out_of_memory(self.ctx, shape, knob, value, available, rate)
            ) from None


def out_of_memory(
    ctx: Any,
    shape: Tuple[int, int],
    knob: str,
    value: Any,
    available: Optional[int],
    per_pixel: float,
) -> str:
    """The message for running out of memory at ``shape``, with a setting that fits in
    ``available`` bytes beyond the process without a graph (if known); ``per_pixel``:
    the graph's bytes per pixel (:mod:`engine.memory`'s measured figure)."""
    h, w = shape
    edge = fitting_edge(shape, available, per_pixel)
    tried = (
        f"out of memory on {ctx} at {w}x{h} pixels (the graph needs about "
        f"{format_size(per_pixel * h * w)})"
    )
    if knob == "style_scale" and value is not None:
        factor = edge / max(shape)
        return (
            f"{tried} for a style image at --style-scale {value:g}; try --style-scale "
            f"{max(0.01, math.floor(value * factor * 100) / 100):g}"
        )
    return f"{tried}; try --max-long-edge {max(MIN_EDGE, min(edge, int(value) - 1))}"


def fitting_edge(shape: Tuple[int, int], available: Optional[int], per_pixel: float) -> int:
    """The long edge at which an image of ``shape``'s aspect has a graph that fits in
    ``available`` bytes; without a figure, 70% of the long edge tried."""
    h, w = shape
    if not available:
        return int(max(h, w) * 0.7)
    # 10% and the whole-image arrays (image, content, resizing) for what the graph is not
    budget = max(0.0, available * 0.9 - WHOLE_IMAGE_BYTES_PER_PIXEL * h * w)
    fits = math.sqrt(budget / per_pixel / (h * w)) * max(h, w)
    return max(MIN_EDGE, int(min(fits, max(h, w) * 0.9)))


def available_memory(ctx: Any, base_size: Optional[int] = None) -> Optional[int]:
    """Free bytes for a graph on the CPU: the least of the machine's available memory
    (:func:`engine.memory.available_bytes`), this process's address-space limit
    (``ulimit -v``) less ``base_size`` (the address space in use without a graph;
    default: now) and its cgroup's limit (containers, Slurm); None where it cannot be
    known (GPUs, through MXNet 1.x)."""
    if getattr(ctx, "device_type", "cpu") != "cpu":
        return None
    figures = [available_bytes()]
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        used = base_size or _meminfo("/proc/self/status", "VmSize:")
        figures.append(soft - used if used is not None else None)
    limit, current = (_read_int(f"/sys/fs/cgroup/memory.{n}") for n in ("max", "current"))
    if limit is not None and current is not None:
        figures.append(limit - current)
    known = [f for f in figures if f is not None]
    return max(0, min(known)) if known else None


def _read_int(path: str) -> Optional[int]:
    try:
        with open(path, encoding="ascii") as handle:
            return int(handle.read().strip())  # "max" (no limit) is not a number
    except (OSError, ValueError):
        return None


def _meminfo(path: str, key: str) -> Optional[int]:
    """A "key: N kB" line of a /proc file, in bytes."""
    try:
        with open(path, encoding="ascii") as info:
            for line in info:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def white_noise(shape: Tuple[int, ...], seed: Optional[int]) -> np.ndarray:
    """The example's start: uniform(-0.1, 0.1) in mean-subtracted units."""
    return np.random.default_rng(seed).uniform(-0.1, 0.1, size=shape).astype(np.float32)


def start_image(
    cfg: Config, content_x: np.ndarray, init_rgb: Optional[np.ndarray] = None
) -> np.ndarray:
    """--init: white noise (the example), the content image, or --init-image (``init_rgb``
    if it is already read)."""
    if cfg.init == "content":
        return content_x
    if cfg.init == "image":
        h, w = content_x.shape[2:]
        rgb = init_rgb if init_rgb is not None else load_rgb(cfg.init_image or "", shape=(h, w))
        return to_network(resize(rgb, (h, w)))
    return white_noise(content_x.shape, cfg.seed)


def scale_edges(cfg: Config) -> List[int]:
    """The long edge of each scale: geometric from --start-long-edge (default: halved per
    extra scale) to --max-long-edge."""
    if cfg.scales == 1:
        return [cfg.max_long_edge]
    start = cfg.start_long_edge or max(MIN_EDGE, cfg.max_long_edge // 2 ** (cfg.scales - 1))
    ratio = cfg.max_long_edge / start
    return [int(round(start * ratio ** (i / (cfg.scales - 1)))) for i in range(cfg.scales)]


def precision_on(
    device: Device, requested: str, width: Optional[int] = None, chosen: Optional[Precision] = None
) -> Precision:
    """``--precision`` resolved on ``device`` (``chosen``: already resolved there), for a
    graph ``width`` pixels wide if given (bf16 with AMX has a width limit:
    :func:`.engine.precision.for_width`); a :class:`PrecisionError` if it cannot run."""
    chosen = chosen or resolve(requested, device)
    return chosen if width is None else for_width(chosen, requested, width, amx_in_use(device))


#: ``Stylizer.precision`` or :func:`precision_on` for one device: (requested, width) -> choice.
PrecisionOf = Callable[[str, Optional[int]], Precision]


@dataclass(frozen=True)
class SizePlan:
    """The sizes a run optimises, decided before any work: each size's long edge, its
    shape (H, W) and its tile window (None: optimised whole). With tiles, the first may
    be the whole-image composition that tiling puts in front (:func:`.engine.tiled.scale_edges`)."""

    edges: List[int]
    shapes: List[Tuple[int, int]]
    windows: List[Optional[int]]

    @property
    def composed(self) -> bool:
        """Whether the first size is a composition put in front of the asked sizes."""
        return len(self.edges) > 1 and self.windows[0] is None and self.windows[1] is not None


def plan_sizes(
    cfg: Config,
    content_rgb: np.ndarray,
    style_rgbs: Sequence[np.ndarray],
    spec: VGGSpec,
    dtype: Any,
    ctx: Any,
    precision: PrecisionOf,
    advise: bool = True,
    free: Optional[int] = None,
) -> SizePlan:
    """Every check a run makes once its images are read and before any graph is bound:
    the sizes (too small, too thin to tile), the memory (:func:`.engine.tiled.check_fits`,
    the tiles a --max-memory allows) and a precision every graph can run in. Only the
    images' shapes are used, so :func:`preflight` runs it without decoding pixels
    twice, binding a graph or reading weights. A failure is the run's own error; a graph
    too wide for bf16, or a whole image too big for the ``free`` memory (default: what
    the machine has now), gets the settings that fix it, each checked by this function
    (``advise`` False: without them)."""
    edges = tiling.scale_edges(cfg, scale_edges(cfg), content_rgb, spec, dtype)
    shapes = [check_size(content_rgb, edge, "the content image") for edge in edges]
    run = _Run(cfg, content_rgb, style_rgbs, spec, dtype, ctx, precision, free)
    fits = functools.partial(_memory_fixes, run)
    tiling.check_fits(shapes, cfg, spec, dtype, ctx, free, fits if advise else None)
    windows = [tiling.tile_edge(cfg, shape, spec, dtype) for shape in shapes]
    if len(edges) > cfg.scales:  # the composition tiling put in front is whole (a long
        windows[0] = None  # thin image's may be longer than a tile, never has more pixels)
    sizes = SizePlan(edges, shapes, windows)
    precision(cfg.precision, None)  # the device itself (bf16 on a CPU without it)
    for what, width in _graph_widths(cfg, sizes, style_rgbs):
        try:  # a precision a graph cannot use (bf16 too wide for AMX) fails now, not
            precision(cfg.precision, width)  # after the first sizes' epochs
        except PrecisionError:
            if not advise:
                raise
            fixes = _width_fixes(run)
            raise PrecisionError(
                f"--precision {cfg.precision}: {what} is {width} px wide, and with AMX MXNet "
                f"1.9.1's oneDNN stalls in the backward convolution of graphs wider than "
                f"{AMX_BF16_MAX_WIDTH} px; use {', or '.join(fixes)}"
            ) from None
    return sizes


def preflight(
    content: ImageInput,
    style: Union[ImageInput, Sequence[ImageInput]],
    config: Optional[Config] = None,
    gpu: Optional[int] = None,
    *,
    spec: VGGSpec = VGG19,
    dtype: Any = np.float32,
    load: Optional[Callable[..., np.ndarray]] = None,
) -> SizePlan:
    """The checks :meth:`Stylizer.stylize` makes before any work (:func:`plan_sizes`,
    after reading the images as it does), without the weights, a graph or memory on the
    device: the sizes it would run, or the error the run would stop with. ``load``:
    how the images are read (:class:`.io.images.ShapeReader` reads each once, for the
    shapes only)."""
    cfg = config or Config()
    load = load or load_rgb
    device, ctx, content_rgb, style_rgbs = _read_for_plan(content, style, cfg, gpu, load)
    blend_weights(len(style_rgbs), cfg.style_blend_weights)
    sizes = plan_sizes(
        cfg, content_rgb, style_rgbs, spec, dtype, ctx, functools.partial(precision_on, device)
    )
    if cfg.init == "image" and cfg.init_image:  # read at the first size (start_image)
        load(cfg.init_image, shape=sizes.shapes[0])
    return sizes


def _graph_widths(
    cfg: Config, sizes: SizePlan, style_rgbs: Sequence[np.ndarray]
) -> Iterator[Tuple[str, int]]:
    """What each graph of a run is (in words) and its width: each size's whole image or
    tiles, and a style image at --style-scale (its targets are a graph of its own, on the
    untiled path; without --style-scale it has the output's shape)."""
    for index, (shape, window) in enumerate(zip(sizes.shapes, sizes.windows)):
        h, w = shape
        if window is not None:
            for width in tiling.graph_widths(cfg, shape, window):
                yield f"a tile of --tile {window} at {w}x{h}", width
            continue
        if index == 0 and sizes.composed:
            yield f"the whole-image start ({w}x{h}) that the tiled run begins with", w
        else:
            yield f"the content image at {w}x{h}", w
        if cfg.style_scale is not None:
            for rgb in style_rgbs:
                style = _style_shape(rgb, cfg.style_scale, shape)
                yield (
                    f"the style image at --style-scale {cfg.style_scale:g} ({style[1]}x{style[0]})",
                    style[1],
                )


def _style_shape(rgb: np.ndarray, style_scale: float, shape: Tuple[int, int]) -> Tuple[int, int]:
    """A style image's shape at ``style_scale`` for an output of ``shape``."""
    return fit_long_edge(
        (rgb.shape[0], rgb.shape[1]), max(MIN_EDGE, round(style_scale * max(shape)))
    )


def _widest_edge(shape: Tuple[int, int], width: int) -> int:
    """The largest long edge at which an image of ``shape``'s aspect is at most ``width``
    pixels wide."""
    h, w = shape
    edge = max(MIN_EDGE, int(width * max(h, w) / w))
    while edge > MIN_EDGE and fit_long_edge(shape, edge)[1] > width:
        edge -= 1
    while fit_long_edge(shape, edge + 1)[1] <= width:
        edge += 1
    return edge


@dataclass(frozen=True)
class _Run:
    """What :func:`plan_sizes` plans from, to try the settings that would fix a run."""

    cfg: Config
    content_rgb: np.ndarray
    style_rgbs: Sequence[np.ndarray]
    spec: VGGSpec
    dtype: Any
    ctx: Any
    precision: PrecisionOf
    free: Optional[int] = None

    def tried(self, **change: Any) -> Optional[Tuple[Config, SizePlan]]:
        """The config with ``change`` and its plan, or None if :func:`plan_sizes` (without
        advice) refuses it."""
        try:
            cfg = self.cfg.replace(**change)
            sizes = plan_sizes(
                cfg,
                self.content_rgb,
                self.style_rgbs,
                self.spec,
                self.dtype,
                self.ctx,
                self.precision,
                False,
                self.free,
            )
        except (ConfigError, DeviceError, ImageError):
            return None
        return cfg, sizes


def bf16_tile(run: _Run) -> Optional[int]:
    """The --tile that keeps every graph of this run within bf16's AMX width limit, so
    that bf16 runs throughout, checked by :func:`plan_sizes` in bf16; None where none
    does (a long thin image's whole-image start, a style at --style-scale, a device
    without bf16) or the run already has its tiles (--max-memory, a narrower --tile)."""
    tile = AMX_BF16_MAX_WIDTH // ALIGN * ALIGN
    cfg = run.cfg
    if cfg.max_memory is not None or (cfg.tile is not None and cfg.tile <= tile):
        return None
    return tile if run.tried(tile=tile, precision="bf16") else None


def bf16_tile_for(
    content: ImageInput,
    styles: Sequence[ImageInput],
    cfg: Config,
    gpu: Optional[int],
    load: Callable[..., np.ndarray],
) -> Optional[int]:
    """:func:`bf16_tile` for VGG19 on these images, read by ``load`` (as :func:`preflight`
    reads them: a :class:`.io.images.ShapeReader` reads their shapes), on GPU ``gpu``."""
    device, ctx, content_rgb, style_rgbs = _read_for_plan(content, styles, cfg, gpu, load)
    precision = functools.partial(precision_on, device)
    return bf16_tile(_Run(cfg, content_rgb, style_rgbs, VGG19, np.float32, ctx, precision))


def _read_for_plan(
    content: ImageInput,
    style: Union[ImageInput, Sequence[ImageInput]],
    cfg: Config,
    gpu: Optional[int],
    load: Optional[Callable[..., np.ndarray]],
) -> Tuple[Device, Any, np.ndarray, List[np.ndarray]]:
    """The device asked for (nothing allocated; a GPU that is not there raises), its
    context, and the images as the run reads them (``load``: how)."""
    styles: List[ImageInput] = list(style) if isinstance(style, (list, tuple)) else [style]  # type: ignore[list-item]
    device = describe_request(gpu)
    ctx = mx.cpu() if device.kind == "cpu" else mx.gpu(0 if gpu is None else gpu)
    content_rgb, style_rgbs = load_inputs(
        content, styles, cfg.max_long_edge, cfg.style_scale, load=load or load_rgb
    )
    return device, ctx, content_rgb, style_rgbs


def _width_fixes(run: _Run) -> List[str]:
    """The settings that make every graph of this run narrow enough for bf16 with AMX (or
    run wide ones in fp32), each one kept only if :func:`plan_sizes` passes with it."""
    limit, cfg, style_rgbs = AMX_BF16_MAX_WIDTH, run.cfg, run.style_rgbs
    content = (run.content_rgb.shape[0], run.content_rgb.shape[1])
    candidates: List[Tuple[str, Dict[str, Any]]] = [
        ("--precision auto (fp32 for graphs that wide) or fp32", {"precision": "auto"}),
    ]
    tile = bf16_tile(run)
    if tile is not None:
        candidates.append((f"--tile {tile}", {"tile": tile}))
    edge = min(cfg.max_long_edge - 1, _widest_edge(content, limit))
    if edge >= MIN_EDGE:
        candidates.append((f"--max-long-edge {edge}", {"max_long_edge": edge}))
    if cfg.style_scale is not None and style_rgbs:
        # the style's long edge is round(scale x the output's), at most --max-long-edge
        edges = [_widest_edge((rgb.shape[0], rgb.shape[1]), limit) for rgb in style_rgbs]
        scale = math.floor(min(edges) / cfg.max_long_edge * 100) / 100
        if 0 < scale < cfg.style_scale:
            candidates.append((f"--style-scale {scale:g}", {"style_scale": scale}))
    return [text for text, change in candidates if run.tried(**change)]


#: The tile a whole image too big for the free memory is offered first (README's).
SUGGESTED_TILE = 512


def _memory_fixes(run: _Run, free: int) -> List[str]:
    """The settings that make a run whose whole image does not fit in ``free`` bytes fit:
    tiles (at most :data:`SUGGESTED_TILE`, as large as the free memory allows), a
    --max-memory (90% of the free memory, in MiB as it is typed), a smaller
    --max-long-edge; each kept only if :func:`plan_sizes` passes with it and the memory
    model puts its peak within ``free``."""
    run = dataclasses.replace(run, free=free)
    cfg, spec, dtype = run.cfg, run.spec, run.dtype
    final = check_size(run.content_rgb, cfg.max_long_edge, "the content image")
    narrow = host_precision(cfg.precision)
    rate = tiling.per_pixel(cfg, spec, dtype, narrow)
    tile = min(SUGGESTED_TILE, tile_for_budget(free, final, rate, narrow))
    budget = int(free * 0.9) // 2**20
    candidates: List[Tuple[str, Dict[str, Any]]] = [
        (f"optimise it in tiles with --tile {tile}", {"tile": tile}),
        (f"--max-memory {budget}M", {"max_memory": budget * 2**20}),
    ]
    edge = _fitting_whole_edge(cfg, final, spec, dtype, free)
    if MIN_EDGE <= edge < cfg.max_long_edge:
        candidates.append((f"--max-long-edge {edge}", {"max_long_edge": edge}))
    fixes = []
    for text, change in candidates:
        tried = run.tried(**change)
        if tried is not None:
            changed, sizes = tried
            if tiling.plan_bytes(changed, sizes.shapes, sizes.windows, spec, dtype) <= free:
                fixes.append(text)
    return fixes


def _fitting_whole_edge(
    cfg: Config, shape: Tuple[int, int], spec: VGGSpec, dtype: Any, free: int
) -> int:
    """The largest long edge at which a whole image of ``shape``'s aspect has a graph of
    at most ``free`` bytes (:func:`.engine.tiled.whole_bytes`); below MIN_EDGE if none."""
    rate = tiling.per_pixel(cfg, spec, dtype, "fp32")  # the larger of the two rates
    room = max(0.0, (free - base_bytes("fp32")) / rate)
    edge = int(math.sqrt(room / (shape[0] * shape[1])) * max(shape)) + 1
    while (
        edge >= MIN_EDGE and tiling.whole_bytes(cfg, fit_long_edge(shape, edge), spec, dtype) > free
    ):
        edge -= 1
    return edge


def blend_weights(count: int, weights: Optional[Sequence[float]]) -> List[float]:
    """--style-blend-weights normalised to sum 1; equal when not given."""
    if weights is None:
        return [1.0 / count] * count
    if len(weights) != count:
        raise ConfigError(
            f"{len(weights)} weights for {count} style images", field="style_blend_weights"
        )
    total = float(sum(weights))
    return [w / total for w in weights]


def finish(x: np.ndarray, cfg: Config, content_rgb: Optional[np.ndarray]) -> np.ndarray:
    """Network units -> uint8 image: original colours if asked (``content_rgb``: [0, 1]
    floats or uint8), then denoised."""
    image = from_network(x)
    if cfg.original_colors:
        assert content_rgb is not None
        content = (
            content_rgb
            if content_rgb.dtype == np.uint8
            else np.rint(content_rgb * 255.0).astype(np.uint8)
        )
        image = keep_colors(image, content)
    return denoise(image, cfg.denoise, cfg.denoise_strength)


def finish_strips(x: np.ndarray, cfg: Config, content: Optional[strips.Resampled]) -> np.ndarray:
    """:func:`finish` strip by strip (the tiled path: no float copy of the whole image);
    the content is resampled per strip when --original-colors needs it."""
    return strips.finish_strips(
        x,
        lambda part, content_part: finish(part, cfg, content_part),
        denoise_margin(cfg.denoise, cfg.denoise_strength),
        content if cfg.original_colors else None,
    )


def _snapshotting(
    cfg: Config,
    callback: Optional[ProgressCallback],
    content_rgb: np.ndarray,
) -> Optional[Callable[[EpochInfo, NDArray], None]]:
    if callback is None:
        return None

    def on_epoch(info: EpochInfo, image: NDArray) -> None:
        callback(info, finish(image.asnumpy(), cfg, content_rgb) if info.snapshot_due else None)

    return on_epoch


def stylize(
    content: ImageInput,
    style: ImageInput,
    config: Optional[Config] = None,
    *,
    weights: Any = None,
    gpu: Optional[int] = None,
    callback: Optional[ProgressCallback] = None,
) -> StyleResult:
    """One-shot :meth:`Stylizer.stylize`; use a :class:`Stylizer` for several images."""
    return Stylizer(weights, gpu).stylize(content, style, config, callback)
