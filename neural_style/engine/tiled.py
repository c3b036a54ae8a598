"""Tiled optimisation: sizes whose whole-image graph does not fit are refined tile by
tile, with memory bounded by the tile, not the picture (``--tile``, ``--max-memory``).
The geometry and blending are in :mod:`.tiles`, the memory model in :mod:`.memory`.

How, and where it departs from whole-image optimisation:

- Composition first: a whole image at a size that fits is optimised as usual
  (:func:`scale_edges` prepends that size when the first one would be tiled); each
  larger size starts from the previous result, upsampled.
- The style targets are the Gram matrices of the style at the output's size, computed
  once, in the tiles' precision, from windows whose cores partition the style image
  (exact, up to float
  rounding: the windows carry the receptive field's half as context and start on the
  pooling grid), and shared by every tile. A Gram matrix sums over positions, so a
  tile is compared with the whole-image target times (the tile's positions / the
  image's positions) per layer: the per-position statistics are what must match
  (targets that pursue the image's remaining difference instead were tried, README).
  Under ``loss="relative"`` a tile is normalised by the whole image's content targets
  and TV value, scaled the same way (:class:`.losses.RelativeScale`), not by its own.
- Each tile's content target is computed from the full-resolution content in its
  window, resampled for that window from the loaded pixels (:mod:`.strips`). The
  window's context (``--tile-margin`` beyond the blend region) is seen by
  the network, but its gradient is discarded, so only the tile moves.
- Tiles are visited in order, each starting from the image as the tiles before it
  left it (Gauss-Seidel). A tile's update (result - start) is pasted with feathered
  weights that sum to one over the tiles of a sweep (:mod:`.tiles`). Each sweep
  gives every tile ``ceil(max_num_epochs / tile_sweeps)`` epochs with a fresh
  optimiser state (momentum, Adam moments and L-BFGS history do not carry over between
  tiles), the learning rate following the schedule of the epochs done at this size.
  The grid changes between sweeps, so no boundary stays in place.
- Stop rules: a tile's own loop stops on the usual rule; a size stops when the image's
  change over a sweep, per epoch, falls below --stop-eps (the change is estimated from
  the pasted updates, without a copy of the image). A diverged tile, Ctrl-C or SIGTERM
  ends the run with the image as of the last completed tile (always a whole image).
- Memory: only the tile's graph and three image-sized arrays are kept: the image in
  float16 (6 bytes a pixel, see :mod:`.strips` for why that is precise enough), the
  loaded content and style as uint8; the style at the output's size, the content
  targets, the upsampled start and the finished image are made window by window or
  strip by strip (:mod:`.strips`), never whole in float.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple

import numpy as np

from .._mxnet import mx
from ..config import Config, layer_names
from ..errors import ConfigError, DeviceError
from .graph import StyleGraph, network, positions
from .losses import NDArray, RelativeScale, term_name
from .memory import (
    IMAGE_BYTES_PER_PIXEL,
    available_bytes,
    base_bytes,
    bytes_per_pixel,
    format_size,
    graph_bytes,
    host_precision,
    release_freed,
    tile_for_budget,
)
from .optimise import EpochInfo, LoopOutcome, StopReason, optimise
from .pixels import check_size, smallest_long_edge
from .precision import AMX_BF16_MAX_WIDTH, Precision, bind_params
from .strips import CANVAS_DTYPE, Resampled, square_norm, tv_strips
from .tiles import (
    ALIGN,
    Span,
    Tile,
    aligned_spans,
    context_margin,
    feature_core,
    fitting_guard,
    grid,
    layer_strides,
    smallest_tile,
)
from .vgg import VGGSpec

Shape = Tuple[int, int]


class GraphSource(Protocol):
    """What the driver needs of :class:`neural_style.api.Stylizer`: bound graphs by shape
    (cached), the weights on the device, and where and how they live."""

    spec: VGGSpec
    ctx: Any
    dtype: Any

    @property
    def params(self) -> Mapping[str, NDArray]: ...

    def graph(self, shape: Tuple[int, int], cfg: Config) -> StyleGraph: ...

    def precision(self, requested: str, width: Optional[int] = None) -> Precision: ...

    def release_graphs(self) -> None: ...


def per_pixel(cfg: Config, spec: VGGSpec, dtype: Any, precision: Optional[str] = None) -> float:
    """Bytes a pixel of the graph, in ``precision`` (by default, what ``cfg.precision``
    resolves to on this CPU for a narrow graph)."""
    layers = layer_names(cfg.style_layers) + layer_names(cfg.content_layers)
    if precision is None:
        precision = host_precision(cfg.precision)
    return bytes_per_pixel(spec, layers, np.dtype(dtype).itemsize, precision)


def whole_bytes(cfg: Config, shape: Shape, spec: VGGSpec, dtype: Any) -> int:
    """The memory of a whole-image graph at ``shape`` (H, W), in the precision a graph that
    wide runs in (with AMX, fp32 above bf16's width limit under ``auto``)."""
    precision = host_precision(cfg.precision, shape[1])
    return graph_bytes(shape, per_pixel(cfg, spec, dtype, precision), precision)


def budget_edge(cfg: Config, image: Shape, spec: VGGSpec, dtype: Any) -> int:
    """The largest window edge whose graph fits ``cfg.max_memory`` with the image's
    arrays, in the precision that window runs in. With AMX, bf16 runs only up to its
    width limit: a budget that allows wider windows gets windows at the limit, in bf16
    (they fit, being smaller, and a bf16 pass costs about a third of an fp32 one here),
    rather than wider ones in fp32, which the bf16 model would underestimate."""
    assert cfg.max_memory is not None
    precision = host_precision(cfg.precision)
    edge = tile_for_budget(cfg.max_memory, image, per_pixel(cfg, spec, dtype, precision), precision)
    if host_precision(cfg.precision, edge) != precision:
        edge = min(edge, AMX_BF16_MAX_WIDTH // ALIGN * ALIGN)
    return edge


def tile_edge(cfg: Config, image: Shape, spec: VGGSpec, dtype: Any) -> Optional[int]:
    """The window edge for tiling an image of ``image`` (H, W), or None: not tiled."""
    if cfg.tile is not None:
        return None if max(image) <= cfg.tile else cfg.tile
    if cfg.max_memory is None:
        return None
    if whole_bytes(cfg, image, spec, dtype) <= cfg.max_memory:
        return None
    edge = budget_edge(cfg, image, spec, dtype)
    smallest = smallest_tile(cfg.tile_margin, cfg.tile_overlap)
    if edge < smallest:
        raise ConfigError(_too_little(cfg, image, spec, dtype, edge, smallest), field="max_memory")
    return edge


def _too_little(
    cfg: Config, image: Shape, spec: VGGSpec, dtype: Any, edge: int, smallest: int
) -> str:
    """Why ``cfg.max_memory`` allows no tile for an image of ``image`` (H, W) (only
    ``edge``-pixel ones, less than the ``smallest`` tile), and the settings that fix it,
    each checked with :func:`budget_edge`."""
    assert cfg.max_memory is not None
    precision = host_precision(cfg.precision)
    rate = per_pixel(cfg, spec, dtype, precision)
    h, w = image
    # the process, the image's arrays and the smallest tile's graph (tile_for_budget
    # inverted; its tiles are multiples of ALIGN)
    tile = ALIGN * math.ceil(smallest / ALIGN)
    need = base_bytes(precision) + IMAGE_BYTES_PER_PIXEL * h * w + rate * tile * tile
    whole = whole_bytes(cfg, image, spec, dtype)  # or no tiles at all, if that is less

    def enough(mib: int) -> bool:
        changed = cfg.replace(max_memory=mib * 2**20)
        return whole <= mib * 2**20 or budget_edge(changed, image, spec, dtype) >= smallest

    budgets = [m for m in (math.ceil(need / 2**20), math.ceil(whole / 2**20)) if enough(m)]
    fixes = [f"raise `max_memory` to {min(budgets)}M"] if budgets else []  # in MiB, as it takes
    fits = fitting_guard(edge, cfg.tile_margin, cfg.tile_overlap)
    if fits is not None:
        fixes.append(
            f"lower `tile_margin` and `tile_overlap` to at most {sum(fits)} together (e.g. "
            f"`tile_margin` {fits[0]} `tile_overlap` {fits[1]})"
        )
    return (
        f"{format_size(cfg.max_memory, up=False)} is too little for even a {tile}x{tile} tile "
        f"(a core of {tile - (smallest - ALIGN)} pixels with `tile_margin` {cfg.tile_margin} "
        f"and `tile_overlap` {cfg.tile_overlap} on both sides) at {w}x{h}: the process, the "
        f"image's arrays and that tile's graph need about {math.ceil(need / 2**20)} MiB"
        + (f"; {', or '.join(fixes)}" if fixes else "")
    )


def graph_widths(cfg: Config, image: Shape, window: Optional[int]) -> List[int]:
    """The widths of the graphs a size of ``image`` (H, W) binds: the image's, or with a
    tile ``window``, its sweeps' windows' (even and odd sweeps' may differ)."""
    if window is None:
        return [image[1]]
    sweeps = range(min(2, cfg.tile_sweeps))
    return sorted(
        {grid(image, window, cfg.tile_margin, cfg.tile_overlap, s)[0].shape[1] for s in sweeps}
    )


def scale_edges(
    cfg: Config, edges: List[int], content: np.ndarray, spec: VGGSpec, dtype: Any
) -> List[int]:
    """``edges`` with a whole-image composition size in front when the first would be
    tiled (its long edge: the tile's, or for a long thin image what keeps its short side
    at the network's minimum: 942 px for a 1000x17 photo, a graph of 942x16). The
    composition must be smaller than the first size and have no more pixels than a tile
    (memory is bounded by the tile), else a :class:`ConfigError` names the fix."""
    first = check_size(content, edges[0], "the content image")
    window = tile_edge(cfg, first, spec, dtype)
    if window is None:
        return edges
    compose = max(window, smallest_long_edge(content))
    shape = check_size(content, compose, "the content image")
    pixels = shape[0] * shape[1]
    if compose < edges[0] and pixels <= window * window:
        return [compose] + edges
    flag = "--tile" if cfg.tile is not None else "--max-memory"
    needed = ALIGN * math.ceil(math.sqrt(pixels) / ALIGN)
    whole = f"{first[1]}x{first[0]}, {first[0] * first[1]} pixels"
    fix = (
        f"raise {flag} to allow a {needed}x{needed} tile"
        if compose < edges[0]
        else f"leave out {flag} (the whole image is {whole})"
    )
    raise ConfigError(
        f"the content image is too thin for tiles of {window} px: the whole-image start that "
        f"keeps its short side at {min(shape)} px is {shape[1]}x{shape[0]} ({pixels} pixels, "
        f"{'more than a tile' if compose < edges[0] else 'the size itself'}); {fix}",
        field="tile" if cfg.tile is not None else "max_memory",
    )


def check_fits(
    shapes: Sequence[Shape],
    cfg: Config,
    spec: VGGSpec,
    dtype: Any,
    ctx: Any,
    available: Optional[int] = None,
    fixes: Optional[Callable[[int], Sequence[str]]] = None,
) -> None:
    """Before any work: a size that would be optimised whole but whose graph needs more
    than the machine's free memory is refused (a :class:`DeviceError`: the machine, not
    the setting, is short), with the settings ``fixes(free bytes)`` gives: the caller's,
    each checked to work for this image (:func:`neural_style.api.plan_sizes`)."""
    if cfg.tile is not None or cfg.max_memory is not None or ctx.device_type != "cpu":
        return
    free = available if available is not None else available_bytes()
    if free is None:
        return
    for shape in shapes:
        need = whole_bytes(cfg, shape, spec, dtype)
        if need > free:
            found = list(fixes(free)) if fixes is not None else []
            advice = (
                f"; {', or '.join(found)}"
                if found
                else "; no tile, budget or smaller size fits it: free some memory"
            )
            raise DeviceError(
                f"at {shape[1]}x{shape[0]} pixels the whole-image graph needs about "
                f"{format_size(need)} and this machine has {format_size(free, up=False)} free"
                + advice
            )


def tiled_bytes(cfg: Config, image: Shape, window: int, spec: VGGSpec, dtype: Any) -> int:
    """The memory of a size of ``image`` (H, W) optimised in tiles of ``window``: the
    process with the largest tile's graph (each sweep's tiles have one shape), in the
    precision that tile runs in, and the tiled path's image-sized arrays."""
    worst = 0
    for sweep in range(min(2, cfg.tile_sweeps)):
        h, w = grid(image, window, cfg.tile_margin, cfg.tile_overlap, sweep)[0].shape
        precision = host_precision(cfg.precision, w)
        rate = per_pixel(cfg, spec, dtype, precision)
        worst = max(worst, graph_bytes((h, w), rate, precision))
    return worst + IMAGE_BYTES_PER_PIXEL * image[0] * image[1]


def plan_bytes(
    cfg: Config,
    shapes: Sequence[Shape],
    windows: Sequence[Optional[int]],
    spec: VGGSpec,
    dtype: Any,
) -> int:
    """The peak memory of a planned run: its largest size, whole or tiled."""
    return max(
        whole_bytes(cfg, shape, spec, dtype)
        if window is None
        else tiled_bytes(cfg, shape, window, spec, dtype)
        for shape, window in zip(shapes, windows)
    )


# ---- the style targets at the output's size, window by window ----------------------------


class _Features:
    """A forward-only VGG up to the style layers, its convolutions in ``precision`` (as
    the whole-image graph's, whose style targets the untiled path takes), rebound when
    the window's shape changes."""

    def __init__(
        self, stylizer: GraphSource, layers: Sequence[str], pooling: str, precision: Precision
    ) -> None:
        self._symbol = network(stylizer.spec, layers, pooling, precision)
        self._stylizer = stylizer
        self._shape: Optional[Tuple[int, ...]] = None
        self._executor: Any = None

    def __call__(self, x: np.ndarray) -> List[NDArray]:
        if x.shape != self._shape:
            self._executor = None  # free the old one before binding the new
            s = self._stylizer
            arg_shapes, _, _ = self._symbol.infer_shape(data=x.shape)
            weights = bind_params(self._symbol, s.params)
            args = {
                name: weights[name]
                if name in weights
                else mx.nd.zeros(shape, ctx=s.ctx, dtype=s.dtype)
                for name, shape in zip(self._symbol.list_arguments(), arg_shapes)
            }
            self._executor = self._symbol.bind(s.ctx, args=args, grad_req="null")
            self._shape = x.shape
        self._executor.arg_dict["data"][:] = x
        # training mode, as StyleGraph's targets: oneDNN then reuses one set of cached
        # convolutions rather than keeping an inference set (and its scratch) as well
        self._executor.forward(is_train=True)
        return list(self._executor.outputs)


def tiled_grams(
    stylizer: GraphSource,
    cfg: Config,
    window: int,
    style: Callable[[Tuple[int, int], Tuple[int, int]], np.ndarray],
    shape: Shape,
    precision: Optional[Precision] = None,
) -> List[np.ndarray]:
    """The Gram matrices of a style image of ``shape`` (H, W) as the whole-image graph
    gives them, from windows of about ``window`` pixels: ``style(rows, cols)`` gives a
    window ((1, 3, h, w), network units), so the whole style is never made; each core's
    feature positions are summed once (on the device; only the small Gram matrices come
    back).

    ``precision``: that of the tiles' graphs (the windows here only run forward, up to
    :data:`.tiles.ALIGN` - 1 pixels wider than a tile; the AMX width limit is the
    backward convolutions'); by default, that of a graph ``window`` pixels wide."""

    def gram(flat: NDArray) -> np.ndarray:
        return mx.nd.linalg.syrk(flat, transpose=False, alpha=1.0).asnumpy()

    layers = layer_names(cfg.style_layers)
    totals = _over_cores(stylizer, cfg, layers, window, style, shape, gram, precision)
    return [t.astype(np.float32) for t in totals]


def tiled_squares(
    stylizer: GraphSource,
    cfg: Config,
    window: int,
    content: Callable[[Tuple[int, int], Tuple[int, int]], np.ndarray],
    shape: Shape,
    precision: Optional[Precision] = None,
) -> Dict[str, float]:
    """``{content layer: Σ of its features' squares}`` over a content image of ``shape``
    (H, W) as the whole-image graph gives them, window by window as
    :func:`tiled_grams`: the content targets' ‖P‖² that ``loss="relative"`` divides by."""

    def square(flat: NDArray) -> np.ndarray:
        return mx.nd.sum(mx.nd.square(flat)).asnumpy().astype(np.float64)

    layers = layer_names(cfg.content_layers)
    if not layers:  # a style-only run: no content terms to normalise
        return {}
    totals = _over_cores(stylizer, cfg, layers, window, content, shape, square, precision)
    return {layer: float(t.sum()) for layer, t in zip(layers, totals)}


def _over_cores(
    stylizer: GraphSource,
    cfg: Config,
    layers: Sequence[str],
    window: int,
    image: Callable[[Tuple[int, int], Tuple[int, int]], np.ndarray],
    shape: Shape,
    reduce: Callable[[NDArray], np.ndarray],
    precision: Optional[Precision],
) -> List[np.ndarray]:
    """Per layer, the sum of ``reduce`` (of a (C, positions) array) over windows whose
    cores partition the image (exact, up to float rounding: the windows carry the
    receptive field's half as context and start on the pooling grid)."""
    margin = context_margin(stylizer.spec, layers)
    strides = layer_strides(stylizer.spec, layers)
    h, w = shape
    if precision is None:
        precision = stylizer.precision(cfg.precision, min(window, w))
    net = _Features(stylizer, layers, cfg.pooling, precision)
    totals: List[np.ndarray] = []
    for rows in aligned_spans(h, window, margin):
        for cols in aligned_spans(w, window, margin):
            _add_cores(totals, net(image(rows.window, cols.window)), rows, cols, strides, reduce)
    del net  # the forward-only executor, before the tiles' graph is bound
    mx.nd.waitall()
    release_freed()
    return totals


def _add_cores(
    totals: List[np.ndarray],
    feats: Sequence[NDArray],
    rows: Span,
    cols: Span,
    strides: Sequence[int],
    reduce: Callable[[NDArray], np.ndarray],
) -> None:
    """Add ``reduce`` of each layer's features at the window's core positions to
    ``totals`` (on the device; only the reduced values come back)."""
    for k, (f, stride) in enumerate(zip(feats, strides)):
        r, c = feature_core(rows, stride), feature_core(cols, stride)
        if r.stop <= r.start or c.stop <= c.start:
            if len(totals) <= k:
                totals.append(np.zeros(()))
            continue  # a last core thinner than the stride: no positions at this layer
        core = mx.nd.slice(f, begin=(0, 0, r.start, c.start), end=(1, f.shape[1], r.stop, c.stop))
        value = reduce(mx.nd.reshape(core, shape=(f.shape[1], -1)))
        if len(totals) <= k:
            totals.append(np.zeros(value.shape))
        totals[k] = totals[k] + value


# ---- the tiled loop -----------------------------------------------------------------------


class TiledScale:
    """One tiled size: the image (``canvas``, float16, network units) is whole at every
    moment between tiles."""

    def __init__(
        self,
        stylizer: GraphSource,
        content: Resampled,
        grams: Sequence[np.ndarray],
        canvas: np.ndarray,
        window: int,
        cfg: Config,
        callback: Optional[Callable[[EpochInfo, Optional[np.ndarray]], None]],
        first_epoch: int,
        scale: int,
        precision: Optional[Precision] = None,
    ) -> None:
        self.stylizer, self.cfg, self.callback = stylizer, cfg, callback
        self.precision = precision  # the tiles' graphs' (None: tiled_grams' default)
        self.content = content  # at the canvas's size, window by window
        self.canvas = canvas.astype(CANVAS_DTYPE, copy=False)  # (1, 3, H, W), in place
        self.shape: Shape = (canvas.shape[2], canvas.shape[3])
        self.window, self.first_epoch, self.scale = window, first_epoch, scale
        self.epochs_per_sweep = math.ceil(cfg.max_num_epochs / cfg.tile_sweeps)
        self.image_grams = list(grams)
        self.whole = self._whole_scale() if cfg.loss == "relative" else None
        self.graph: Optional[StyleGraph] = None
        self.grams: List[np.ndarray] = []
        self.relative: Optional[RelativeScale] = None
        self._bind(0)
        self.epoch = first_epoch
        self.started = time.perf_counter()

    def _bind(self, sweep: int) -> StyleGraph:
        """The graph for ``sweep``'s window shape (even and odd sweeps' may differ, see
        :func:`.tiles.spans`), bound only when the shape changes, after the old one is
        released (one tile graph at a time: memory is bounded by the tile); and the
        targets scaled to it: a Gram matrix sums over positions, so a tile is compared
        with the whole image's target times (its positions / the image's)."""
        cfg = self.cfg
        shape = grid(self.shape, self.window, cfg.tile_margin, cfg.tile_overlap, sweep)[0].shape
        if self.graph is not None and tuple(self.graph.shape[2:]) == shape:
            return self.graph
        self.graph = None
        self.stylizer.release_graphs()
        self.graph = self.stylizer.graph(shape, cfg)
        layers = layer_names(cfg.style_layers)
        tile_pos = positions(self.stylizer.spec, shape, layers, cfg.pooling)
        image_pos = positions(self.stylizer.spec, self.shape, layers, cfg.pooling)
        self.grams = [
            g * (tile_pos[name] / image_pos[name]) for name, g in zip(layers, self.image_grams)
        ]
        self.relative = self._tile_scale(shape)
        return self.graph

    def _whole_scale(self) -> RelativeScale:
        """What ``loss="relative"`` divides by for the whole image: its content targets'
        ‖P‖² and the content's TV value (computed window by window and strip by strip)."""
        squares = tiled_squares(
            self.stylizer,
            self.cfg,
            self.window,
            self.content.network_window,
            self.shape,
            self.precision,
        )
        names = {term_name("content", layer): value for layer, value in squares.items()}
        return RelativeScale(names, tv_strips(self.content))

    def _tile_scale(self, shape: Shape) -> Optional[RelativeScale]:
        """The whole image's :class:`RelativeScale` for a tile of ``shape``: each figure
        times the tile's share of the image's positions (at that layer, or pixels for the
        TV), as the style targets are; so every tile weighs content, style and TV as
        the whole image does, not by its own content's energy."""
        if self.whole is None:
            return None
        layers = layer_names(self.cfg.content_layers)
        tile_pos = positions(self.stylizer.spec, shape, layers, self.cfg.pooling) if layers else {}
        image_pos = (
            positions(self.stylizer.spec, self.shape, layers, self.cfg.pooling) if layers else {}
        )
        squares = {
            term_name("content", layer): self.whole.squares[term_name("content", layer)]
            * (tile_pos[layer] / image_pos[layer])
            for layer in layers
        }
        pixels = (shape[0] * shape[1]) / (self.shape[0] * self.shape[1])
        assert self.whole.tv is not None
        return RelativeScale(squares, self.whole.tv * pixels)

    def run(self) -> LoopOutcome:
        outcome = LoopOutcome(StopReason.MAX_EPOCHS, 0, math.inf)
        try:
            for sweep in range(self.cfg.tile_sweeps):
                outcome = self._sweep(sweep, outcome)
                if outcome.reason is not StopReason.MAX_EPOCHS:
                    break
        except KeyboardInterrupt:  # between tiles: the canvas is whole, and as far along
            # as the tiles done (their epochs; the eps and terms of the last sweep done)
            outcome = LoopOutcome(
                StopReason.INTERRUPTED, self.epoch - self.first_epoch, outcome.eps, outcome.terms
            )
        finally:
            if self.graph is not None:
                self.graph.grad_mask = None
        return outcome

    def _tile_config(self, sweep: int) -> Config:
        cfg, done = self.cfg, sweep * self.epochs_per_sweep
        lr = cfg.learning_rate * cfg.lr_sched_factor ** (done // cfg.lr_sched_delay)
        return cfg.replace(
            max_num_epochs=self.epochs_per_sweep,
            save_epochs=0,
            lr=lr,
            scales=1,
            start_long_edge=None,
        )

    def _sweep(self, sweep: int, outcome: LoopOutcome) -> LoopOutcome:
        tiles = grid(self.shape, self.window, self.cfg.tile_margin, self.cfg.tile_overlap, sweep)
        self._bind(sweep)
        tile_cfg = self._tile_config(sweep)
        moved = 0.0
        terms: Dict[str, float] = {}
        for index, tile in enumerate(tiles):
            share = self._share(tile)
            result = self._visit(tile, tile_cfg)
            pasted = (
                None
                if result.reason in (StopReason.INTERRUPTED, StopReason.DIVERGED)
                else self._paste(tile)
            )
            if pasted is None:  # the tile is dropped: the canvas is as the last tile left it
                reason = (
                    StopReason.DIVERGED
                    if result.reason is not StopReason.INTERRUPTED
                    else StopReason.INTERRUPTED
                )
                return LoopOutcome(reason, self.epoch - self.first_epoch, result.eps, outcome.terms)
            moved += pasted
            for name, value in result.terms.items():
                terms[name] = terms.get(name, 0.0) + share * value
            self._report(sweep, index, len(tiles), result)
        eps = (
            math.sqrt(moved)
            / max(math.sqrt(square_norm(self.canvas)), 1e-12)
            / self.epochs_per_sweep
        )
        reason = StopReason.CONVERGED if eps < self.cfg.stop_eps else StopReason.MAX_EPOCHS
        return LoopOutcome(reason, self.epoch - self.first_epoch, eps, terms)

    def _share(self, tile: Tile) -> float:
        """What a tile's term values count for in the size's: under the example's loss a
        term sums over the tile's window, so its core's part (core / window pixels);
        under ``loss="relative"`` a term is already the whole image's relative error as
        the tile sees it, so its core's weight in a mean (core / image pixels)."""
        (r0, r1), (c0, c1) = tile.rows.core, tile.cols.core
        core = (r1 - r0) * (c1 - c0)
        if self.cfg.loss == "relative":
            return core / (self.shape[0] * self.shape[1])
        return core / (tile.shape[0] * tile.shape[1])

    def _visit(self, tile: Tile, tile_cfg: Config) -> LoopOutcome:
        """Optimise one tile in the graph (the canvas is not touched)."""
        rows, cols = tile.window
        graph = self.graph
        assert graph is not None
        graph.set_targets(
            self.grams,
            self.content.network_window(tile.rows.window, tile.cols.window),
            self.relative,
        )
        graph.data[:] = self.canvas[:, :, rows, cols].astype(np.float32)
        graph.grad_mask = mx.nd.array(
            tile.blend_mask()[None, None], ctx=graph.data.context, dtype=graph.data.dtype
        )
        return optimise(graph, tile_cfg, whole=int(np.prod(self.canvas.shape)))

    def _paste(self, tile: Tile) -> Optional[float]:
        """Add the tile's weighted update to the canvas; its squared norm (None, and
        nothing pasted, if the update is not finite)."""
        rows, cols = tile.window
        before = self.canvas[:, :, rows, cols].astype(np.float32)
        assert self.graph is not None
        delta = self.graph.data.asnumpy() - before
        if not np.all(np.isfinite(delta)):
            return None
        delta *= tile.weights(self.shape, self.cfg.tile_overlap).astype(np.float32)
        before += delta
        self.canvas[:, :, rows, cols] = before  # one numpy call: never half pasted
        return float(np.sum(np.square(delta, dtype=np.float64)))

    def _report(self, sweep: int, index: int, count: int, result: LoopOutcome) -> None:
        per_sweep = self.epochs_per_sweep
        before = self.epoch
        self.epoch = self.first_epoch + sweep * per_sweep + per_sweep * (index + 1) // count
        if self.callback is None:
            return
        cfg = self.cfg
        done = (sweep * count + index + 1) / (cfg.tile_sweeps * count)
        elapsed = time.perf_counter() - self.started
        due = cfg.save_epochs > 0 and self.epoch // cfg.save_epochs > before // cfg.save_epochs
        info = EpochInfo(
            self.epoch,
            cfg.max_num_epochs * cfg.scales,
            result.eps,
            sum(result.terms.values()),
            result.terms,
            self._tile_lr(sweep),
            elapsed,
            due,
            self.scale,
            index + 1,
            count,
            sweep + 1,
            cfg.tile_sweeps,
            elapsed * (1 - done) / done,
            scales=cfg.scales,
            long_edge=max(self.canvas.shape[2:]),
        )
        self.callback(info, self.canvas if due else None)

    def _tile_lr(self, sweep: int) -> float:
        return 0.0 if self.cfg.optimizer == "lbfgs" else self._tile_config(sweep).learning_rate
