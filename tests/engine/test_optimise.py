from __future__ import annotations

from typing import Dict, List

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_style._mxnet import mx
from neural_style.config import STYLE_LAYERS, Config
from neural_style.engine.graph import StyleGraph
from neural_style.engine.optimise import (
    Callback,
    EpochInfo,
    StopReason,
    clip_by_norm,
    clip_norm,
    make_optimizer,
    optimise,
    relative_change,
    scheduled_lr,
)
from neural_style.engine.optimisers import MOMENTUM, WEIGHT_DECAY
from tests.helpers import ready_graph

SHAPE = (24, 24)


@pytest.fixture()
def graph(tiny_weights: Dict[str, np.ndarray]) -> StyleGraph:
    return ready_graph(tiny_weights)


def test_nag_step_matches_the_formula() -> None:
    cfg = Config(lr=0.01)
    opt = make_optimizer(cfg)
    rng = np.random.default_rng(0)
    w0, g1, g2 = rng.standard_normal((3, 2, 5))
    weight = mx.nd.array(w0)
    state = opt.create_state(0, weight)
    mom, w = np.zeros_like(w0), w0.copy()
    for g in (g1, g2):
        opt.update(0, weight, mx.nd.array(g), state)
        # Nesterov momentum as MXNet 1.x defines it (nag_mom_update):
        grad = g + WEIGHT_DECAY * w
        mom = MOMENTUM * mom + grad
        w = w - 0.01 * (grad + MOMENTUM * mom)
        np.testing.assert_allclose(weight.asnumpy(), w, rtol=1e-5, atol=1e-7)


def test_lr_schedule_steps_every_delay_epochs() -> None:
    cfg = Config(lr=0.1, lr_sched_delay=5, lr_sched_factor=0.5)
    opt = make_optimizer(cfg)
    weight = mx.nd.zeros((2,))
    state = opt.create_state(0, weight)
    rates = []
    for _ in range(12):
        opt.update(0, weight, mx.nd.ones((2,)), state)
        rates.append(opt.learning_rate)
    assert rates == pytest.approx([0.1] * 5 + [0.05] * 5 + [0.025] * 2)
    # what a tiled size reports as a sweep's rate: update n's, without running the updates
    assert [scheduled_lr(cfg, n) for n in range(1, 13)] == rates
    assert scheduled_lr(cfg, 11) == rates[10]  # asked again, out of order: a fresh schedule


def test_relative_change() -> None:
    old, new = mx.nd.array([3.0, 4.0]), mx.nd.array([0.0, 4.0])
    assert relative_change(old, new).asscalar() == pytest.approx(3.0 / 4.0)


def test_clip_by_norm() -> None:
    big = mx.nd.array([30.0, 40.0])
    clip_by_norm(big, 5.0)
    np.testing.assert_allclose(big.asnumpy(), [3.0, 4.0], rtol=1e-6)
    small = mx.nd.array([0.3, 0.4])
    clip_by_norm(small, 5.0)
    np.testing.assert_allclose(small.asnumpy(), [0.3, 0.4], rtol=1e-6)


@settings(max_examples=50, deadline=None)
@given(
    window=st.integers(1, 4000),
    parts=st.integers(1, 50),
    value=st.floats(1e-3, 1e4),
)
def test_a_window_is_clipped_as_its_whole_image_would_be(
    window: int, parts: int, value: float
) -> None:
    """A tile's window of a gradient as dense as its image's gets, per element, what the
    whole image's clipped gradient gives there: not less (the TV term, added after the
    clip, would then weigh more in tiles), whether or not the clip is active."""
    whole = window * parts
    image, tile = mx.nd.full((whole,), value), mx.nd.full((window,), value)
    clip_by_norm(image, clip_norm(whole))
    clip_by_norm(tile, clip_norm(window, whole))
    np.testing.assert_allclose(tile.asnumpy(), image.asnumpy()[:window], rtol=1e-4)
    assert clip_norm(window) == clip_norm(window, window) == window


def record(infos: List[EpochInfo], images: List[np.ndarray]) -> Callback:
    def callback(info: EpochInfo, image: mx.nd.NDArray) -> None:
        infos.append(info)
        images.append(image.asnumpy().copy())

    return callback


def test_eps_is_the_relative_change_and_loss_falls(graph: StyleGraph) -> None:
    infos: List[EpochInfo] = []
    images: List[np.ndarray] = [graph.data.asnumpy().copy()]
    outcome = optimise(
        graph, Config(lr=0.1, max_num_epochs=30, stop_eps=1e-9), record(infos, images)
    )
    assert outcome.reason is StopReason.MAX_EPOCHS and outcome.epochs == 30
    for info, before, after in zip(infos, images, images[1:]):
        want = np.linalg.norm(before - after) / np.linalg.norm(after)
        assert info.eps == pytest.approx(want, rel=1e-4)
    assert [i.epoch for i in infos] == list(range(1, 31))
    assert min(i.loss for i in infos[10:]) < 0.2 * infos[0].loss  # NAG oscillates; it still falls
    assert set(infos[0].terms) == {*(f"style:{s}" for s in STYLE_LAYERS), "content:relu4_2", "tv"}


def test_stops_when_eps_is_below_stop_eps(graph: StyleGraph) -> None:
    infos: List[EpochInfo] = []
    outcome = optimise(graph, Config(lr=1.0, max_num_epochs=500, stop_eps=0.05), record(infos, []))
    assert outcome.reason is StopReason.CONVERGED
    assert outcome.epochs == len(infos) < 500
    assert infos[-1].eps < 0.05 and all(i.eps >= 0.05 for i in infos[:-1])
    assert outcome.eps == infos[-1].eps


def test_snapshots_are_due_at_multiples_of_save_epochs(graph: StyleGraph) -> None:
    infos: List[EpochInfo] = []
    optimise(graph, Config(max_num_epochs=10, save_epochs=3, stop_eps=1e-9), record(infos, []))
    assert [i.epoch for i in infos if i.snapshot_due] == [3, 6, 9]
    infos.clear()
    optimise(graph, Config(max_num_epochs=4, save_epochs=0, stop_eps=1e-9), record(infos, []))
    assert not any(i.snapshot_due for i in infos)


def test_divergence_keeps_the_last_finite_image(graph: StyleGraph) -> None:
    outcome = optimise(graph, Config(lr=1e4, max_num_epochs=50, stop_eps=1e-9, tv_weight=0.0))
    assert outcome.reason is StopReason.DIVERGED
    assert outcome.epochs < 50
    assert np.isfinite(graph.data.asnumpy()).all()


def test_ctrl_c_keeps_the_last_completed_epoch(graph: StyleGraph) -> None:
    images: List[np.ndarray] = []

    def callback(info: EpochInfo, image: mx.nd.NDArray) -> None:
        images.append(image.asnumpy().copy())
        if info.epoch == 3:
            raise KeyboardInterrupt

    outcome = optimise(graph, Config(lr=1.0, max_num_epochs=50, stop_eps=1e-9), callback)
    assert outcome.reason is StopReason.INTERRUPTED and outcome.epochs == 3
    np.testing.assert_array_equal(graph.data.asnumpy(), images[-1])
