"""The optimisation loop: NAG on the image, the relative-change stop rule, callbacks.

It follows MXNet's example: the content/style gradient's L2 norm is clipped at the
number of image elements, the TV smoothing gradient is added after clipping, and NAG
(momentum 0.95, weight decay 1e-4) steps with a learning rate multiplied by
lr_sched_factor every lr_sched_delay epochs. It departs from the example in three
places: a non-finite image stops the run ("diverged") and keeps the last finite
image; Ctrl-C stops it ("interrupted") with the last completed epoch's image; and a
snapshot is due at every multiple of save_epochs, the stopping epoch included.
"""

from __future__ import annotations

import enum
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional

import numpy as np

from ._mxnet import mx
from .config import Config
from .graph import StyleGraph
from .losses import NDArray, TVSmoothing

MOMENTUM = 0.95
WEIGHT_DECAY = 1e-4


class StopReason(str, enum.Enum):
    CONVERGED = "converged"  # eps fell below stop-eps
    MAX_EPOCHS = "max-epochs"
    INTERRUPTED = "interrupted"  # Ctrl-C
    DIVERGED = "diverged"  # the image became NaN or infinite


@dataclass(frozen=True)
class EpochInfo:
    """What one epoch did, for progress displays and snapshot writers."""

    epoch: int  # 1-based: the number of updates made
    max_epochs: int
    eps: float  # relative change of the image in this update
    loss: float  # total weighted loss before the update
    terms: Dict[str, float]  # each weighted term, and "tv"
    lr: float
    elapsed: float  # seconds since the loop started
    snapshot_due: bool


@dataclass
class LoopOutcome:
    reason: StopReason
    epochs: int
    eps: float
    terms: Dict[str, float] = field(default_factory=dict)


Callback = Callable[[EpochInfo, NDArray], None]


def make_optimizer(cfg: Config) -> Any:
    """MXNet's NAG with the example's momentum, weight decay and factor schedule."""
    schedule = mx.lr_scheduler.FactorScheduler(step=cfg.lr_sched_delay, factor=cfg.lr_sched_factor,
                                               base_lr=cfg.lr)
    return mx.optimizer.NAG(learning_rate=cfg.lr, momentum=MOMENTUM, wd=WEIGHT_DECAY,
                            lr_scheduler=schedule)


def relative_change(old: NDArray, new: NDArray) -> NDArray:
    """eps = ‖old − new‖₂ / ‖new‖₂, the example's stop statistic (left on the device)."""
    return mx.nd.norm(old - new) / mx.nd.norm(new)


def clip_by_norm(grad: NDArray, max_norm: float) -> None:
    """Scale ``grad`` in place so its L2 norm is at most ``max_norm`` (no host sync)."""
    norm = mx.nd.norm(grad).reshape((1,))
    grad *= mx.nd.minimum(mx.nd.ones_like(norm), max_norm / mx.nd.maximum(norm, 1e-12))


def optimise(graph: StyleGraph, cfg: Config, callback: Optional[Callback] = None) -> LoopOutcome:
    """Run NAG on ``graph.data`` until eps < stop_eps, max_num_epochs, Ctrl-C or divergence."""
    image, ctx = graph.data, graph.data.context
    optimizer = make_optimizer(cfg)
    state = optimizer.create_state(0, image)
    smoothing = TVSmoothing(cfg.tv_weight, ctx, image.dtype) if cfg.tv_weight > 0 else None
    clip = float(np.prod(image.shape))
    previous = image.copy()
    start, outcome = time.perf_counter(), LoopOutcome(StopReason.MAX_EPOCHS, 0, math.inf)
    try:
        for epoch in range(1, cfg.max_num_epochs + 1):
            raw = graph.forward_backward()
            clip_by_norm(graph.grad, clip)
            stats = [raw]
            if smoothing is not None:
                tv_grad = smoothing.gradient(image)
                stats.append(smoothing.value(image, tv_grad).reshape((1,)))
                graph.grad += tv_grad
            optimizer.update(0, image, graph.grad, state)
            lr = optimizer.learning_rate  # the rate this update used
            stats.append(relative_change(previous, image).reshape((1,)))
            values = mx.nd.concat(*stats, dim=0).asnumpy().astype(np.float64)  # one sync
            eps = float(values[-1])
            terms = graph.weighted(values[: len(graph.terms)])
            if smoothing is not None:
                terms["tv"] = float(values[len(graph.terms)])
            if not (math.isfinite(eps) and all(math.isfinite(v) for v in terms.values())):
                previous.copyto(image)
                return LoopOutcome(StopReason.DIVERGED, epoch, eps, outcome.terms)
            image.copyto(previous)
            outcome = LoopOutcome(StopReason.MAX_EPOCHS, epoch, eps, terms)
            if callback is not None:
                callback(_info(cfg, epoch, eps, terms, lr, start), image)
            if eps < cfg.stop_eps:
                outcome.reason = StopReason.CONVERGED
                break
    except KeyboardInterrupt:
        previous.copyto(image)  # the last completed epoch, never a half-made update
        previous.wait_to_read()
        outcome.reason = StopReason.INTERRUPTED
    image.wait_to_read()
    return outcome


def _info(cfg: Config, epoch: int, eps: float, terms: Dict[str, float], lr: float,
          start: float) -> EpochInfo:
    due = cfg.save_epochs > 0 and epoch % cfg.save_epochs == 0
    return EpochInfo(epoch, cfg.max_num_epochs, eps, sum(terms.values()), terms, lr,
                     time.perf_counter() - start, due)
