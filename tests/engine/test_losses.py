"""The terms of the objective: named, weighted by kind, read by name; TV smoothing."""

from __future__ import annotations

from typing import List, Tuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_style._mxnet import mx
from neural_style.config import CONTENT_LAYERS, STYLE_LAYERS, Config
from neural_style.engine.graph import StyleGraph
from neural_style.engine.losses import (
    TERM_BUILDERS,
    LossTerm,
    Readings,
    Symbol,
    Term,
    TVSmoothing,
    dot_all,
    l2_norm,
    squared_norm,
    term_name,
)
from neural_style.engine.optimise import EpochInfo, optimise
from tests.helpers import TINY, Weights, ready_graph
from tests.reference import conv3x3


def tv_energy(x: np.ndarray) -> float:
    """Σ over neighbouring pixel pairs of squared differences, the border as zeros."""
    p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    return float(np.sum(np.diff(p, axis=2) ** 2) + np.sum(np.diff(p, axis=3) ** 2))


def test_tv_gradient_is_the_examples_laplacian() -> None:
    x = np.random.default_rng(0).standard_normal((1, 3, 7, 9))
    tv = TVSmoothing(0.25, mx.cpu(), np.float64)
    got = tv.gradient(mx.nd.array(x, dtype=np.float64)).asnumpy()
    lap = np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]]) / 8.0
    for c in range(3):
        want = conv3x3(x[0, c : c + 1], lap[None, None], np.zeros(1))[0] * 0.25
        np.testing.assert_allclose(got[0, c], want, rtol=1e-12, atol=1e-12)


def test_tv_value_and_gradient_agree() -> None:
    x = np.random.default_rng(1).standard_normal((1, 3, 5, 6))
    tv = TVSmoothing(0.5, mx.cpu(), np.float64)
    nd = mx.nd.array(x, dtype=np.float64)
    grad = tv.gradient(nd)
    value = tv.value(nd, grad).asscalar()
    assert value == pytest.approx(0.5 / 16 * tv_energy(x), rel=1e-12)
    h, index = 1e-4, (0, 1, 2, 3)
    up, down = x.copy(), x.copy()
    up[index] += h
    down[index] -= h
    numeric = 0.5 / 16 * (tv_energy(up) - tv_energy(down)) / (2 * h)
    assert grad.asnumpy()[index] == pytest.approx(numeric, rel=1e-6)


def test_terms_are_named_and_weighted_by_kind(tiny_weights: Weights) -> None:
    graph = ready_graph(tiny_weights)
    assert graph.term_names == [*(f"style:{layer}" for layer in STYLE_LAYERS), "content:relu4_2"]
    terms: List[Term] = list(graph.terms)  # a LossTerm is a Term
    assert [t.kind for t in terms] == ["style"] * len(STYLE_LAYERS) + ["content"]
    assert all(t.weight > 0 for t in terms)
    raw = graph.forward_backward().read()
    assert list(raw) == graph.term_names  # read by name
    graph.set_weights(style=2.0, content=3.0, layer_weights={"style:relu2_1": 5.0})
    got = graph.weighted(raw)
    by_name = {t.name: t for t in graph.terms}
    assert got["style:relu1_1"] == pytest.approx(
        2.0 * by_name["style:relu1_1"].weight * raw["style:relu1_1"]
    )
    assert got["style:relu2_1"] == pytest.approx(
        10.0 * by_name["style:relu2_1"].weight * raw["style:relu2_1"]
    )
    assert got["content:relu4_2"] == pytest.approx(3.0 * raw["content:relu4_2"])
    assert graph.weighted({"tv": 0.5}) == {"tv": 0.5}  # readings from outside the graph


def test_readings_are_read_by_name_in_one_go() -> None:
    readings = Readings(["a", "b"], mx.nd.array([1.0, 2.0]))
    more = readings.plus("c", mx.nd.array([3.0]))
    assert more.read() == {"a": 1.0, "b": 2.0, "c": 3.0}
    assert readings.read() == {"a": 1.0, "b": 2.0}  # plus() leaves the original alone
    assert Readings().read() == {}


def mean_term(layer: str, features: Symbol, shape: Tuple[int, ...]) -> LossTerm:
    """A new kind of loss for the test: the squared distance of the features' channel
    means from those of the style image."""
    means = mx.sym.mean(features, axis=(2, 3))
    target = f"target_mean_{layer}"
    raw = mx.sym.sum(mx.sym.square(means - mx.sym.Variable(target)))
    return LossTerm(term_name("mean", layer), "mean", 1.0, raw, target, means, "style")


def test_a_new_loss_is_one_more_term(
    tiny_weights: Weights,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Adding a loss is adding a builder: the graph, the optimiser and the statistics
    take it by name, without a change to them."""
    monkeypatch.setitem(TERM_BUILDERS, "mean", mean_term)
    params = {k: mx.nd.array(v, dtype=np.float64) for k, v in tiny_weights.items()}
    graph = StyleGraph(
        TINY,
        params,
        (24, 24),
        STYLE_LAYERS,
        CONTENT_LAYERS,
        mx.cpu(),
        dtype=np.float64,
        more_layers={"mean": ["relu2_1"]},
    )
    rng = np.random.default_rng(0)
    style, content = rng.uniform(-100, 100, size=(2, 1, 3, 24, 24))
    targets = graph.style_targets(style)  # the Gram matrices, then the means
    assert len(targets) == len(STYLE_LAYERS) + 1 and targets[-1].shape == (1, 6)
    graph.set_targets(targets, content)
    graph.set_weights(style=0.0, content=0.0, kinds={"mean": 1.0})  # only the new term
    graph.data[:] = rng.uniform(-100, 100, size=(1, 3, 24, 24))
    infos: List[EpochInfo] = []
    optimise(
        graph,
        Config(max_num_epochs=3, tv_weight=0.0, optimizer="adam"),
        lambda info, image: infos.append(info),
    )
    assert [i.epoch for i in infos] == [1, 2, 3]
    assert set(infos[0].terms) == {*graph.term_names} and "mean:relu2_1" in infos[0].terms
    assert infos[0].loss == pytest.approx(infos[0].terms["mean:relu2_1"])
    assert infos[-1].terms["mean:relu2_1"] < infos[0].terms["mean:relu2_1"]  # its gradient flows
    graph.data[:] = style  # at the style image the new term is zero
    assert graph.forward_backward().read()["mean:relu2_1"] == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 5),
    st.integers(1, 5),
    st.integers(0, 2**31 - 1),
)
def test_gram_gradient_is_the_two_sided_one(channels: int, h: int, w: int, seed: int) -> None:
    """gram() back-propagates through its data only, doubled: for ‖G − A‖² with a
    symmetric A that is the exact gradient 4·(G − A)·F (both sides of G = F·Fᵀ)."""
    rng = np.random.default_rng(seed)
    f = rng.standard_normal((1, channels, h, w))
    a = rng.standard_normal((channels, channels))
    a = a + a.T
    term = TERM_BUILDERS["style"]("relu1_1", mx.sym.Variable("data"), (1, channels, h, w))
    args = {"data": mx.nd.array(f, dtype=np.float64), term.target: mx.nd.array(a, dtype=np.float64)}
    grad = mx.nd.zeros(f.shape, dtype=np.float64)
    ex = term.symbol.bind(
        mx.cpu(),
        args=args,
        args_grad={"data": grad},
        grad_req={"data": "write", term.target: "null"},
    )
    ex.forward(is_train=True)
    ex.backward([mx.nd.ones((1,), dtype=np.float64)])
    flat = f.reshape(channels, -1)
    g = flat @ flat.T
    assert ex.outputs[0].asscalar() == pytest.approx(float(np.sum((g - a) ** 2)), rel=1e-10)
    want = (4 * (g - a) @ flat).reshape(f.shape)
    np.testing.assert_allclose(grad.asnumpy(), want, rtol=1e-9, atol=1e-9 * np.abs(want).max())


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(1, 9), st.integers(0, 2**31 - 1))
def test_squared_norm_value_and_gradient(rows: int, length: int, seed: int) -> None:
    """‖x‖² by rows of dot products: the value, and the gradient 2x times the head."""
    x = np.random.default_rng(seed).standard_normal((1, rows, length))
    grad = mx.nd.zeros(x.shape, dtype=np.float64)
    ex = squared_norm(mx.sym.Variable("x"), rows).bind(
        mx.cpu(), args={"x": mx.nd.array(x, dtype=np.float64)}, args_grad={"x": grad}
    )
    ex.forward(is_train=True)
    ex.backward([mx.nd.full((1,), 0.5, dtype=np.float64)])
    assert ex.outputs[0].shape == (1,)
    assert ex.outputs[0].asscalar() == pytest.approx(float(np.sum(x**2)), rel=1e-12)
    np.testing.assert_allclose(grad.asnumpy(), 2 * 0.5 * x, rtol=1e-12)


@pytest.mark.parametrize("rows, length", [(512, 512), (512, 768), (64, 49152)])
def test_squared_norm_is_as_exact_as_a_sum_in_fp32(rows: int, length: int) -> None:
    """In fp32, on the sizes of VGG19's terms at 256x192 (relu4_1's Gram matrix, relu4_2's
    features, relu1_1's features), the value is as close to the float64 sum as MXNet's
    (Kahan) sum of squares, which it replaced: a long fp32 dot product would be 1e-5 off."""
    x = (np.random.default_rng(0).standard_normal((rows, length)) * 1e3).astype(np.float32)
    exact = float(np.sum(x.astype(np.float64) ** 2))
    ex = squared_norm(mx.sym.Variable("x"), rows).bind(mx.cpu(), args={"x": mx.nd.array(x)})
    value = ex.forward()[0]
    assert value.dtype == np.float32
    old = float(mx.nd.sum(mx.nd.square(mx.nd.array(x))).asscalar())
    assert abs(old / exact - 1) < 1e-6  # the reference's own accuracy
    assert abs(float(value.asscalar()) / exact - 1) < 1e-6


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.integers(1, 5), min_size=1, max_size=4),
    st.integers(0, 2**31 - 1),
)
def test_dot_all_and_l2_norm(shape: List[int], seed: int) -> None:
    """Σ a·b and ‖a‖₂ over arrays of any shape, as (1,) NDArrays."""
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((2, *shape))
    na, nb = (mx.nd.array(v, dtype=np.float64) for v in (a, b))
    assert dot_all(na, nb).shape == (1,) and l2_norm(na).shape == (1,)
    assert dot_all(na, nb).asscalar() == pytest.approx(float(np.sum(a * b)), rel=1e-12, abs=1e-12)
    assert l2_norm(na).asscalar() == pytest.approx(float(np.linalg.norm(a)), rel=1e-12)
