"""The optimisation loop: an optimiser steps the image, a monitor applies the stop rules.

The default follows MXNet's example: the content/style gradient's L2 norm is clipped at
the number of image elements, the TV smoothing gradient is added after clipping, and
NAG (momentum 0.95, weight decay 1e-4) steps with a learning rate multiplied by
lr_sched_factor every lr_sched_delay epochs. Adam uses the same gradient and schedule.
L-BFGS (scipy's L-BFGS-B, the pixel range as bounds) needs an objective consistent with
its gradient, so it optimises content + style + TV exactly, without clipping.

Departures from the example, for every optimiser: a non-finite image stops the run
("diverged") and keeps the last finite image; Ctrl-C stops it ("interrupted") with the
last completed epoch's image; a snapshot is due at every multiple of save_epochs, the
stopping epoch included; the stop rule may average eps over a window of epochs
(--stop-window 1 is the example's rule, which a single dip can fool).
"""

from __future__ import annotations

import collections
import enum
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

import numpy as np

from .._mxnet import mx
from ..config import Config
from .graph import StyleGraph
from .losses import NDArray, Readings, TVSmoothing, l2_norm
from .optimisers import OPTIMISERS
from .vgg import RGB_MEAN

EPS = "eps"  # the reading of the relative change


class StopReason(str, enum.Enum):
    CONVERGED = "converged"  # (mean) eps fell below stop-eps
    MAX_EPOCHS = "max-epochs"
    INTERRUPTED = "interrupted"  # Ctrl-C
    DIVERGED = "diverged"  # the image became NaN or infinite


@dataclass(frozen=True)
class EpochInfo:
    """What one epoch did, for progress displays and snapshot writers."""

    epoch: int  # 1-based, counted across scales
    max_epochs: int
    eps: float  # relative change of the image in this epoch
    loss: float  # total weighted loss before the update
    terms: Dict[str, float]  # each weighted term, and "tv"
    lr: float
    elapsed: float  # seconds since this scale's loop started
    snapshot_due: bool
    scale: int = 0  # index of the scale (0 for a single-scale run)
    tile: int = 0  # tiles done in this sweep (a tiled size reports once per tile; else 0)
    tiles: int = 0  # tiles in this sweep (0: this size is not tiled)
    sweep: int = 0  # 1-based sweep over the tiles
    sweeps: int = 0
    eta: Optional[float] = None  # seconds left at this size, when known
    scales: int = 1  # how many scales the run has
    long_edge: int = 0  # this scale's long edge in pixels

    def scale_label(self) -> str:
        """``scale 2/3, 512 px`` in a multi-scale run, else empty."""
        if self.scales == 1:
            return ""
        return f"scale {self.scale + 1}/{self.scales}, {self.long_edge} px"


@dataclass
class LoopOutcome:
    reason: StopReason
    epochs: int
    eps: float
    terms: Dict[str, float] = field(default_factory=dict)


Callback = Callable[[EpochInfo, NDArray], None]


@dataclass
class Carry:
    """A first-order optimiser's state to start from and, after the loop, as it was left:
    its arrays (NAG's momentum, Adam's two moments; empty: a fresh state) and its update
    count (which sets Adam's bias correction and the learning-rate schedule). A tiled size
    keeps one per tile between its visits (:mod:`.tiled`)."""

    arrays: List[np.ndarray] = field(default_factory=list)
    count: int = 0


def _state_arrays(state: Any) -> List[NDArray]:
    """The arrays of an MXNet optimiser's state: None, one array, or a tuple of them."""
    if state is None:
        return []
    return list(state) if isinstance(state, (tuple, list)) else [state]


class _Stop(Exception):
    """Raised by the monitor to end a driver's loop."""


def make_optimizer(cfg: Config) -> Any:
    """The MXNet optimiser of ``cfg.optimizer`` (NAG with the example's momentum and weight
    decay, or Adam), with the factor schedule."""
    chosen = OPTIMISERS[cfg.optimizer]
    if chosen.mxnet is None:
        raise ValueError(f"{cfg.optimizer} is not an MXNet optimiser")
    return mx.optimizer.create(
        chosen.mxnet,
        learning_rate=cfg.learning_rate,
        lr_scheduler=_schedule(cfg),
        **chosen.options,
    )


def _schedule(cfg: Config) -> Any:
    """The learning-rate schedule: times lr_sched_factor every lr_sched_delay updates."""
    return mx.lr_scheduler.FactorScheduler(
        step=cfg.lr_sched_delay, factor=cfg.lr_sched_factor, base_lr=cfg.learning_rate
    )


def scheduled_lr(cfg: Config, update: int) -> float:
    """The learning rate of update number ``update`` (from 1) under ``cfg``'s schedule, as
    the optimiser of :func:`make_optimizer` takes it (a fresh schedule: MXNet's keeps
    the last rate it gave)."""
    return float(_schedule(cfg)(update))


def relative_change(old: NDArray, new: NDArray) -> NDArray:
    """eps = ‖old − new‖₂ / ‖new‖₂, the example's stop statistic (left on the device)."""
    return l2_norm(old - new) / l2_norm(new)


def clip_by_norm(grad: NDArray, max_norm: float) -> None:
    """Scale ``grad`` in place so its L2 norm is at most ``max_norm`` (no host sync)."""
    norm = l2_norm(grad)
    grad *= mx.nd.minimum(mx.nd.ones_like(norm), max_norm / mx.nd.maximum(norm, 1e-12))


class Monitor:
    """Per-epoch bookkeeping shared by the drivers: eps, averaging, divergence, callbacks
    and the stop rules. ``previous`` always holds the last completed epoch's image."""

    def __init__(
        self,
        graph: StyleGraph,
        cfg: Config,
        callback: Optional[Callback],
        first_epoch: int,
        scale: int,
    ) -> None:
        self.graph, self.cfg, self.callback = graph, cfg, callback
        self.first_epoch, self.scale = first_epoch, scale
        self.previous = graph.data.copy()
        self.average = graph.data.copy() if cfg.average_decay > 0 else None
        self.window: Deque[float] = collections.deque(maxlen=cfg.stop_window)
        self.outcome = LoopOutcome(StopReason.MAX_EPOCHS, 0, math.inf)
        self.start = time.perf_counter()

    def after_step(self, readings: Readings, lr: float) -> None:
        """``readings``: the raw terms and any others (``tv``); read here, in one host sync,
        with this epoch's ``eps``."""
        image = self.graph.data
        values = readings.plus(EPS, relative_change(self.previous, image)).read()
        eps, terms = values.pop(EPS), self.graph.weighted(values)
        epoch = self.outcome.epochs + 1
        if not (math.isfinite(eps) and all(math.isfinite(v) for v in terms.values())):
            self.previous.copyto(image)
            self.outcome = LoopOutcome(StopReason.DIVERGED, epoch, eps, self.outcome.terms)
            raise _Stop
        image.copyto(self.previous)
        if self.average is not None:
            decay = self.cfg.average_decay
            self.average[:] = decay * self.average + (1 - decay) * image
        self.outcome = LoopOutcome(StopReason.MAX_EPOCHS, epoch, eps, terms)
        self.window.append(eps)
        if self.callback is not None:
            self.callback(self._info(epoch, eps, terms, lr), self.result_image)
        if (
            len(self.window) == self.window.maxlen
            and sum(self.window) / len(self.window) < self.cfg.stop_eps
        ):
            self.outcome.reason = StopReason.CONVERGED
            raise _Stop
        if epoch >= self.cfg.max_num_epochs:
            raise _Stop

    @property
    def result_image(self) -> NDArray:
        return self.average if self.average is not None else self.graph.data

    def _info(self, epoch: int, eps: float, terms: Dict[str, float], lr: float) -> EpochInfo:
        cfg, overall = self.cfg, self.first_epoch + epoch
        due = cfg.save_epochs > 0 and overall % cfg.save_epochs == 0
        return EpochInfo(
            overall,
            cfg.max_num_epochs * cfg.scales,
            eps,
            sum(terms.values()),
            terms,
            lr,
            time.perf_counter() - self.start,
            due,
            self.scale,
            scales=cfg.scales,
            long_edge=max(self.graph.shape[2:]),
        )

    def interrupted(self) -> None:
        self.previous.copyto(self.graph.data)  # never a half-made update
        self.outcome.reason = StopReason.INTERRUPTED

    def finish(self) -> LoopOutcome:
        if self.average is not None and self.outcome.reason is not StopReason.DIVERGED:
            self.average.copyto(self.graph.data)
        self.graph.data.wait_to_read()
        return self.outcome


def _evaluate(
    graph: StyleGraph,
    smoothing: Optional[TVSmoothing],
    clip: Optional[float],
) -> Readings:
    """Forward + backward; the gradient (clipped if asked, plus TV) is left in graph.grad."""
    readings = graph.forward_backward()
    if clip is not None:
        clip_by_norm(graph.grad, clip)
    if smoothing is not None:
        tv_grad = smoothing.gradient(graph.data)
        readings = readings.plus(smoothing.name, smoothing.value(graph.data, tv_grad))
        graph.grad += tv_grad
    if graph.grad_mask is not None:
        graph.grad[:] = mx.nd.broadcast_mul(graph.grad, graph.grad_mask)
    return readings


def clip_norm(window: int, whole: Optional[int] = None) -> float:
    """The norm at which the content/style gradient of an image of ``window`` elements is
    clipped: the example's, that number of elements; for a tile (a window of an image of
    ``whole`` elements), sqrt(window x whole).

    Where this departs from the example, and why: a gradient's norm grows with the square
    root of its elements, so clipping a window at its own size would leave each element
    sqrt(window / whole) of what the whole image's clipped gradient gives it (0.45x for
    416x384 windows of 1024x768, 0.2x for 512x512 windows of 4096x3072), while the TV
    gradient, added after clipping, stays the same: the smoothing would weigh 2 to 5 times
    as much in tiles. Clipped at sqrt(window x whole), a window whose gradient is as dense
    as the image's is clipped as the image would be (the whole image's norm, estimated
    from the window's, against the whole image's threshold)."""
    return float(window if whole is None else math.sqrt(window * whole))


def _first_order(
    graph: StyleGraph,
    cfg: Config,
    smoothing: Optional[TVSmoothing],
    monitor: Monitor,
    whole: Optional[int] = None,
    carry: Optional[Carry] = None,
) -> None:
    optimizer = make_optimizer(cfg)
    state = optimizer.create_state(0, graph.data)
    arrays = _state_arrays(state)
    if carry is not None and carry.arrays:
        for array, kept in zip(arrays, carry.arrays):
            array[:] = kept
    if carry is not None:  # MXNet's own counters: the bias correction and the schedule
        optimizer._index_update_count[0] = optimizer.num_update = carry.count
    clip = clip_norm(int(np.prod(graph.data.shape)), whole)
    try:
        while True:
            readings = _evaluate(graph, smoothing, clip)
            optimizer.update(0, graph.data, graph.grad, state)
            monitor.after_step(readings, optimizer.learning_rate)
    finally:
        if carry is not None:
            carry.arrays = [a.asnumpy() for a in arrays]
            carry.count = optimizer.num_update


def lbfgs_objective(
    graph: StyleGraph,
    smoothing: Optional[TVSmoothing],
    last: Dict[str, Any],
) -> Callable[[np.ndarray], Tuple[float, np.ndarray]]:
    """The objective scipy sees: content + style + TV at a flat float64 image, and its
    exact gradient (no clipping). ``last`` keeps the latest point and its statistics."""
    image, shape = graph.data, graph.data.shape

    def objective(x: np.ndarray) -> Tuple[float, np.ndarray]:
        image[:] = x.reshape(shape)
        readings = _evaluate(graph, smoothing, clip=None)
        total = sum(graph.weighted(readings.read()).values())
        last.update(x=x.copy(), readings=readings)
        return total, graph.grad.asnumpy().astype(np.float64).ravel()

    return objective


def _lbfgs(
    graph: StyleGraph,
    cfg: Config,
    smoothing: Optional[TVSmoothing],
    monitor: Monitor,
    whole: Optional[int] = None,
) -> None:
    del whole  # L-BFGS optimises the exact objective: no clipping
    from scipy.optimize import Bounds, minimize

    image, shape = graph.data, graph.data.shape
    last: Dict[str, Any] = {}
    objective = lbfgs_objective(graph, smoothing, last)

    def on_iteration(xk: np.ndarray) -> None:
        if last.get("x") is None or not np.array_equal(last["x"], xk):
            objective(xk)  # the stats of the accepted point
        monitor.after_step(last["readings"], 0.0)

    low = np.broadcast_to(-np.asarray(RGB_MEAN).reshape(1, 3, 1, 1), shape).ravel()
    minimize(
        objective,
        image.asnumpy().astype(np.float64).ravel(),
        jac=True,
        method="L-BFGS-B",
        bounds=Bounds(low, low + 255.0),
        callback=on_iteration,
        options={"maxiter": cfg.max_num_epochs + 1, "maxcor": 20, "ftol": 0.0, "gtol": 0.0},
    )
    monitor.previous.copyto(image)  # scipy stopped by itself: keep the last accepted point


def optimise(
    graph: StyleGraph,
    cfg: Config,
    callback: Optional[Callback] = None,
    first_epoch: int = 0,
    scale: int = 0,
    whole: Optional[int] = None,
    carry: Optional[Carry] = None,
) -> LoopOutcome:
    """Optimise ``graph.data`` until the stop rule, max_num_epochs, Ctrl-C or divergence.
    ``whole``: when ``graph.data`` is a tile's window, the whole image's number of
    elements, for the gradient clip (:func:`clip_norm`). ``carry``: a first-order
    optimiser's state to start from, updated in place to the state the loop leaves
    (L-BFGS keeps none: its history is of one objective, which a tile's next visit
    changes)."""
    smoothing = (
        TVSmoothing(cfg.tv_weight * graph.tv_scale, graph.data.context, graph.data.dtype)
        if cfg.tv_weight > 0
        else None
    )
    monitor = Monitor(graph, cfg, callback, first_epoch, scale)
    try:
        if OPTIMISERS[cfg.optimizer].mxnet is None:
            _lbfgs(graph, cfg, smoothing, monitor, whole)
        else:
            _first_order(graph, cfg, smoothing, monitor, whole, carry)
    except _Stop:
        pass
    except KeyboardInterrupt:
        monitor.interrupted()
    return monitor.finish()
