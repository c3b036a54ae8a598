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
  pooling grid), and shared by every tile. A tile is not compared with that target
  scaled to its positions (which asks every tile to carry all of the style by itself)
  but with its own Gram matrices at its start plus its share of the image's remaining
  difference to the target, the image's taken the same way at each sweep's start
  (:meth:`TiledScale.tile_targets`). Under ``loss="relative"`` a tile is normalised by
  the whole image's content targets, TV value and style targets, scaled to its share
  (:class:`.losses.RelativeScale`), not by its own.
- Each tile's content target is computed from the full-resolution content in its
  window, resampled for that window from the loaded pixels (:mod:`.strips`), once: with
  several sweeps it is kept on disk for the tile's next visits (:class:`.spill.SpilledCache`;
  it never changes, the grid being the same every sweep). The
  window's context (``--tile-margin`` beyond the blend region) is seen by
  the network, but its gradient is discarded, so only the tile moves.
- Tiles are visited in order, each starting from the image as the tiles before it
  left it (Gauss-Seidel). A tile's update (result - start) is pasted with weights that
  ramp over the overlap towards the tiles before it, and towards the tiles after it hold
  to the boundary and fade over the far half of the ramp, so that the next tile starts
  from it there and little of the sweep's start is left (:func:`.tiles.span_weights`;
  pasting with the blending weights left a quarter of it on every boundary, which came
  out soft). With a single sweep, the blending weights (README). The sweeps share
  ``max_num_epochs`` as evenly as whole epochs allow, and a first-order optimiser's
  state (NAG's momentum, Adam's moments) is kept between a tile's visits, pasted into
  image-sized arrays (on disk) as the image is, with its update count (Adam's bias correction,
  the learning-rate schedule): so four sweeps of ten epochs follow the untiled run
  where one of forty drifted from it (README). L-BFGS starts afresh at each visit.
  Every sweep uses the same grid: one graph for the size.
- Stop rules: a tile's own loop stops on the usual rule; a size stops when the image's
  change over a sweep, per epoch, falls below --stop-eps (the change is estimated from
  the pasted updates, without a copy of the image). A diverged tile, Ctrl-C or SIGTERM
  ends the run with the image as of the last completed tile (always a whole image).
- Memory: only the tile's graph and the image-sized arrays are kept: the image in
  float16 (6 bytes a pixel, see :mod:`.strips` for why that is precise enough), the
  loaded content and style as uint8; with several sweeps the optimiser's state
  (float32, 12 bytes a pixel per array) is on disk, read and written a tile's window at
  a time (:mod:`.spill`), and so are the tiles' content targets once made (a tile's
  whole); the style at the output's size, the content targets, the upsampled start and
  the finished image are made window by window or strip by strip (:mod:`.strips`),
  never whole in float.
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
from .optimise import Carry, EpochInfo, LoopOutcome, StopReason, optimise, scheduled_lr
from .optimisers import OPTIMISERS
from .pixels import check_size, smallest_long_edge
from .precision import AMX_BF16_MAX_WIDTH, Precision, bind_params
from .spill import SpilledArray, SpilledCache
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


#: The fewest epochs a sweep gives each tile: each sweep takes the image's statistics
#: again and each visit forwards its tile twice before its epochs, which shorter visits
#: do not repay (at 1024x768, four sweeps of 2 to 3 epochs cost 2.1x the untiled run's
#: time per pixel-epoch, one sweep of 10 about 1.2x; README).
MIN_SWEEP_EPOCHS = 10


def sweeps(cfg: Config) -> int:
    """The sweeps a tiled size makes: ``tile_sweeps``, fewer if it would leave a sweep
    fewer than :data:`MIN_SWEEP_EPOCHS` epochs, and at least one."""
    return max(1, min(cfg.tile_sweeps, cfg.max_num_epochs // MIN_SWEEP_EPOCHS))


def kept_arrays(cfg: Config) -> int:
    """Image-sized arrays of optimiser state a tiled size keeps between a tile's visits:
    the first-order optimiser's, when it makes more than one sweep."""
    return OPTIMISERS[cfg.optimizer].state_arrays if sweeps(cfg) > 1 else 0


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
    rate = per_pixel(cfg, spec, dtype, precision)
    edge = tile_for_budget(cfg.max_memory, image, rate, precision)
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
    tile ``window``, its tiles' (one shape)."""
    if window is None:
        return [image[1]]
    return [grid(image, window, cfg.tile_margin, cfg.tile_overlap)[0].shape[1]]


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
    process with the tiles' graph (they have one shape), in the precision it runs in, and
    the tiled path's image-sized arrays."""
    h, w = grid(image, window, cfg.tile_margin, cfg.tile_overlap)[0].shape
    precision = host_precision(cfg.precision, w)
    rate = per_pixel(cfg, spec, dtype, precision)
    return graph_bytes((h, w), rate, precision) + IMAGE_BYTES_PER_PIXEL * image[0] * image[1]


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
        self.tiles = grid(self.shape, window, cfg.tile_margin, cfg.tile_overlap)
        self.image_grams = list(grams)
        self.whole = self._whole_scale() if cfg.loss == "relative" else None
        self.graph: Optional[StyleGraph] = None
        self.grams: List[np.ndarray] = []  # the style's target scaled to a tile's positions
        self.ratios: List[float] = []  # a tile's positions / the image's, per style layer
        self.relative: Optional[RelativeScale] = None
        # A first-order optimiser's state, kept between a tile's visits: image-wide arrays
        # pasted as the image is, on disk (made now: a disk too small is found before any
        # work), and each tile's update count.
        self.sweeps = sweeps(cfg)
        self.state = [SpilledArray(self.canvas.shape) for _ in range(kept_arrays(cfg))]
        self.counts: Dict[int, int] = {}
        # Each tile's content targets, computed at its first visit and read back at the
        # next (on disk; with one sweep there is no next).
        self.content_cache = SpilledCache() if self.sweeps > 1 else None
        self.image_now = self._image_statistics()  # the first sweep's
        self._bind()
        self.epoch = first_epoch
        self.started = time.perf_counter()

    def _bind(self) -> StyleGraph:
        """The tiles' graph (one shape for every tile), bound only when none is (one tile
        graph at a time: memory is bounded by the tile); and the targets scaled to it: a
        Gram matrix sums over positions, so a tile's share of the style's target is the
        whole image's times (its positions / the image's)."""
        if self.graph is not None:
            return self.graph
        cfg, shape = self.cfg, self.tiles[0].shape
        self.graph = self.stylizer.graph(shape, cfg)
        layers = layer_names(cfg.style_layers)
        tile_pos = positions(self.stylizer.spec, shape, layers, cfg.pooling)
        image_pos = positions(self.stylizer.spec, self.shape, layers, cfg.pooling)
        self.ratios = [tile_pos[name] / image_pos[name] for name in layers]
        self.grams = [g * r for g, r in zip(self.image_grams, self.ratios)]
        self.relative = self._tile_scale(shape)
        return self.graph

    def _release(self) -> None:
        self.graph = None
        self.stylizer.release_graphs()

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
        the whole image does, not by its own content's energy. The style terms divide by
        the style's target scaled so, not by the tile's (shifted) target."""
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
        for layer, g in zip(layer_names(self.cfg.style_layers), self.grams):
            squares[term_name("style", layer)] = float(np.sum(np.square(g, dtype=np.float64)))
        pixels = (shape[0] * shape[1]) / (self.shape[0] * self.shape[1])
        assert self.whole.tv is not None
        return RelativeScale(squares, self.whole.tv * pixels)

    def _image_statistics(self) -> List[np.ndarray]:
        """The Gram matrices of the image as it is now (the canvas, window by window, as
        the style's targets are; no tile graph may be bound: memory stays one graph's)."""
        canvas = self.canvas

        def view(rows: Tuple[int, int], cols: Tuple[int, int]) -> np.ndarray:
            return canvas[:, :, rows[0] : rows[1], cols[0] : cols[1]].astype(np.float32)

        return tiled_grams(self.stylizer, self.cfg, self.window, view, self.shape, self.precision)

    def tile_targets(self, start: np.ndarray) -> List[np.ndarray]:
        """The style targets of a tile starting from ``start`` (its window): its own Gram
        matrices now, plus its share r (positions) of the image's remaining difference to
        the style's at the sweep's start, G_tile + r (A - G_image).

        Where this departs from the plain split (each tile compared with the style's
        target scaled to its positions, r A), and why: that asks every tile to carry all
        of the style's statistics by itself, a tile of sky as much brushwork as one of
        buildings, which pulled the tiles from the content (at 1024x768 after 40 epochs,
        content +10.2% against the untiled run). Here a tile keeps its own deviation from
        the image's mean statistics and closes its share of the image's difference, so its
        first gradient is the untiled run's at its pixels (tests/engine/test_tiled.py); and
        since the sweeps refresh G_image while each tile's optimiser state carries over,
        the tiles together follow the untiled run (content +3.8%, README)."""
        assert self.graph is not None
        own = self.graph.style_targets(start)
        return [
            g + r * (a - now)
            for g, r, a, now in zip(own, self.ratios, self.image_grams, self.image_now)
        ]

    def run(self) -> LoopOutcome:
        outcome = LoopOutcome(StopReason.MAX_EPOCHS, 0, math.inf)
        try:
            for sweep in range(self.sweeps):
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
            for kept in self.state:
                kept.close()
            if self.content_cache is not None:
                self.content_cache.close()
        return outcome

    def epochs_before(self, sweep: int) -> int:
        """Epochs every tile has had at this size before ``sweep``: the sweeps share
        max_num_epochs as evenly as whole epochs allow."""
        return self.cfg.max_num_epochs * sweep // self.sweeps

    def sweep_epochs(self, sweep: int) -> int:
        return self.epochs_before(sweep + 1) - self.epochs_before(sweep)

    def _tile_config(self, sweep: int) -> Config:
        """A visit's settings: this sweep's epochs, and the size's learning rate (a kept
        optimiser state's update count carries the schedule on)."""
        return self.cfg.replace(
            max_num_epochs=self.sweep_epochs(sweep), save_epochs=0, scales=1, start_long_edge=None
        )

    def _sweep(self, sweep: int, outcome: LoopOutcome) -> LoopOutcome:
        if sweep > 0:  # the image's statistics as the last sweep left them
            self._release()
            self.image_now = self._image_statistics()
            self._bind()
        tile_cfg = self._tile_config(sweep)
        moved = 0.0
        terms: Dict[str, float] = {}
        for index, tile in enumerate(self.tiles):
            share = self._share(tile)
            carry = self._carry(index, tile, sweep)
            kept = [] if carry is None else carry.arrays  # the visit puts new ones in carry
            result = self._visit(index, tile, tile_cfg, carry)
            pasted = (
                None
                if result.reason in (StopReason.INTERRUPTED, StopReason.DIVERGED)
                else self._paste(tile, index, carry, kept)
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
            self._report(sweep, index, len(self.tiles), result)
        eps = (
            math.sqrt(moved)
            / max(math.sqrt(square_norm(self.canvas)), 1e-12)
            / self.sweep_epochs(sweep)
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

    def _carry(self, index: int, tile: Tile, sweep: int) -> Optional[Carry]:
        """The optimiser state a tile starts from: its window of the kept state, and its
        update count (None when no state is kept: one sweep, or L-BFGS)."""
        if not self.state:
            return None
        rows, cols = tile.window
        arrays = [kept.read(rows, cols) for kept in self.state]
        return Carry(arrays, self.counts.get(index, self.epochs_before(sweep)))

    def _visit(
        self, index: int, tile: Tile, tile_cfg: Config, carry: Optional[Carry]
    ) -> LoopOutcome:
        """Optimise one tile in the graph (the canvas is not touched)."""
        rows, cols = tile.window
        graph = self.graph
        assert graph is not None
        start = self.canvas[:, :, rows, cols].astype(np.float32)
        style = self.tile_targets(start)
        cached = None if self.content_cache is None else self.content_cache.get(index)
        if cached is None:
            content = self.content.network_window(tile.rows.window, tile.cols.window)
            if self.content_cache is not None and not self.content_cache.full:
                cached = graph.content_targets(content)
                self.content_cache.put(index, cached)
            graph.set_targets(style, content, self.relative, content_targets=cached)
        else:  # no forward of the content (about 5 % of a visit of 10 epochs)
            graph.set_targets(style, None, self.relative, content_targets=cached)
        graph.data[:] = start
        graph.grad_mask = mx.nd.array(
            tile.blend_mask()[None, None], ctx=graph.data.context, dtype=graph.data.dtype
        )
        return optimise(graph, tile_cfg, whole=int(np.prod(self.canvas.shape)), carry=carry)

    def _paste_weights(self, tile: Tile) -> np.ndarray:
        """With more than one sweep, the held paste weights (:meth:`Tile.weights`); with one,
        the blending weights. Every sweep pasted with the blending weights leaves a
        quarter of its start on the boundaries, so with several sweeps the softness came
        back each sweep; the paste weights leave at most 1/8 of it, but fade a tile's
        update over half the ramp, and a single sweep's update, the whole stylisation,
        shows there: one sweep of 10 epochs at 384 px in tiles of 192 (VGG19) made the
        boundaries 1.02 to 1.35 of the lines beside them, the blending weights 0.74 to
        1.00 (README, "Seams across the whole ramp")."""
        hold = self.sweeps > 1
        return tile.weights(self.shape, self.cfg.tile_overlap, hold).astype(np.float32)

    def _paste(
        self, tile: Tile, index: int, carry: Optional[Carry], kept: Sequence[np.ndarray]
    ) -> Optional[float]:
        """Add the tile's update to the canvas with its paste weights (:meth:`_paste_weights`),
        and its optimiser state's (from ``kept``, its window of the kept state before the
        visit) to the kept state the same way; the update's squared norm (None, and
        nothing pasted, if the update is not finite)."""
        rows, cols = tile.window
        before = self.canvas[:, :, rows, cols].astype(np.float32)
        assert self.graph is not None
        delta = self.graph.data.asnumpy() - before
        if not np.all(np.isfinite(delta)):
            return None
        weights = self._paste_weights(tile)
        delta *= weights
        before += delta
        self.canvas[:, :, rows, cols] = before  # one numpy call: never half pasted
        if carry is not None:
            for spilled, old, new in zip(self.state, kept, carry.arrays):
                spilled.write(rows, cols, old + weights * (new - old))
            self.counts[index] = carry.count
        return float(np.sum(np.square(delta, dtype=np.float64)))

    def _report(self, sweep: int, index: int, count: int, result: LoopOutcome) -> None:
        epochs = self.sweep_epochs(sweep)
        before = self.epoch
        self.epoch = self.first_epoch + self.epochs_before(sweep) + epochs * (index + 1) // count
        if self.callback is None:
            return
        cfg = self.cfg
        done = (sweep * count + index + 1) / (self.sweeps * count)
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
            self.sweeps,
            elapsed * (1 - done) / done,
            scales=cfg.scales,
            long_edge=max(self.canvas.shape[2:]),
        )
        self.callback(info, self.canvas if due else None)

    def _tile_lr(self, sweep: int) -> float:
        """The learning rate of this sweep's first update (0 for L-BFGS)."""
        if self.cfg.optimizer == "lbfgs":
            return 0.0
        return scheduled_lr(self.cfg, self.epochs_before(sweep) + 1)
