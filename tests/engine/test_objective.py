"""``--loss``: the example's scaling and the relative one (every term relative to its target)."""

from __future__ import annotations

from typing import Dict, List

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_style import Config, Stylizer
from neural_style._mxnet import mx
from neural_style.config import CONTENT_LAYERS, STYLE_LAYERS
from neural_style.engine.graph import StyleGraph
from neural_style.engine.losses import TVSmoothing, relative_tv_scale
from neural_style.engine.measures import relative_error
from neural_style.engine.objective import LOSSES
from neural_style.engine.optimise import optimise
from neural_style.errors import ConfigError
from tests.helpers import TINY
from tests.reference import features, gram

SHAPE = (20, 28)


def relative_graph(weights: Dict[str, np.ndarray], seed: int = 0) -> StyleGraph:
    params = {k: mx.nd.array(v, dtype=np.float64) for k, v in weights.items()}
    graph = StyleGraph(
        TINY, params, SHAPE, STYLE_LAYERS, CONTENT_LAYERS, mx.cpu(), dtype=np.float64
    )
    style, content = np.random.default_rng(seed).uniform(-60, 60, size=(2, 1, 3) + SHAPE)
    graph.set_targets(graph.style_targets(style), content)
    return graph


def test_the_registry_is_what_config_accepts() -> None:
    assert set(LOSSES) == {"example", "relative"}
    for name in LOSSES:
        assert Config(loss=name).loss == name
    with pytest.raises(ConfigError, match="choose from example, relative") as raised:
        Config(loss="relatve")
    assert raised.value.field == "loss"


@pytest.mark.parametrize("style_weight, content_weight", [(1.0, 1.0), (10.0, 0.5)])
def test_relative_terms_are_the_measures(
    tiny_weights: Dict[str, np.ndarray], style_weight: float, content_weight: float
) -> None:
    """Each weighted term is weight x its layer's relative error / the number of layers of
    its kind, computed here independently in numpy."""
    graph = relative_graph(tiny_weights)
    rng = np.random.default_rng(1)
    style, content = np.random.default_rng(0).uniform(-60, 60, size=(2, 1, 3) + SHAPE)
    image = rng.uniform(-60, 60, size=(1, 3) + SHAPE)
    graph.set_weights(style=style_weight, content=content_weight, loss="relative")
    graph.data[:] = image
    got = graph.weighted(graph.forward_backward().read())
    mine = features(TINY, tiny_weights, image, STYLE_LAYERS + CONTENT_LAYERS)
    theirs = features(TINY, tiny_weights, style, STYLE_LAYERS)
    target = features(TINY, tiny_weights, content, CONTENT_LAYERS)
    for layer in STYLE_LAYERS:
        want = style_weight * relative_error(gram(mine[layer]), gram(theirs[layer])) / 5
        assert got[f"style:{layer}"] == pytest.approx(want, rel=1e-6), layer
    want = content_weight * relative_error(mine["relu4_2"], target["relu4_2"])
    assert got["content:relu4_2"] == pytest.approx(want, rel=1e-6)


def test_switching_back_restores_the_example(tiny_weights: Dict[str, np.ndarray]) -> None:
    graph = relative_graph(tiny_weights)
    graph.data[:] = np.random.default_rng(5).uniform(-60, 60, size=(1, 3) + SHAPE)
    graph.set_weights(style=1.0, content=1.0)
    example = graph.weighted(graph.forward_backward().read())
    graph.set_weights(style=1.0, content=1.0, loss="relative")
    relative = graph.weighted(graph.forward_backward().read())
    graph.set_weights(style=1.0, content=1.0, loss="example")
    assert graph.weighted(graph.forward_backward().read()) == pytest.approx(example)
    assert relative != pytest.approx(example)
    assert graph.tv_scale == 1.0
    with pytest.raises(ConfigError, match="choose from"):
        graph.set_weights(style=1.0, content=1.0, loss="raw")


@settings(max_examples=20, deadline=None)
@given(log_k=st.floats(-6.0, 6.0), seed=st.integers(0, 1000))
def test_relative_terms_follow_targets_of_any_scale(log_k: float, seed: int) -> None:
    """A target k times larger (a brighter style, a larger image: the example's terms
    then mean something else) leaves a relative term the relative error it is."""
    from tests.helpers import random_weights

    weights = random_weights(TINY, seed=7)
    params = {name: mx.nd.array(v, dtype=np.float64) for name, v in weights.items()}
    graph = StyleGraph(TINY, params, SHAPE, STYLE_LAYERS, (), mx.cpu(), dtype=np.float64)
    rng = np.random.default_rng(seed)
    style, image = rng.uniform(-60, 60, size=(2, 1, 3) + SHAPE)
    k = 10.0**log_k
    targets = [k * t for t in graph.style_targets(style)]
    mine = graph.style_targets(image)
    graph.set_targets(targets, image)
    graph.set_weights(style=2.0, content=1.0, loss="relative")
    graph.data[:] = image
    got = graph.weighted(graph.forward_backward().read())
    for layer, g, a in zip(STYLE_LAYERS, mine, targets):
        want = 2.0 * relative_error(g, a) / len(STYLE_LAYERS)
        assert got[f"style:{layer}"] == pytest.approx(want, rel=1e-6)


def test_relative_tv_is_relative_to_the_content(tiny_weights: Dict[str, np.ndarray]) -> None:
    """At x = the content, the relative TV term is the TV weight itself; the gradient
    scales by the same factor; a flat content keeps the example's TV."""
    content = np.random.default_rng(3).uniform(-60, 60, size=(1, 3) + SHAPE)
    x = mx.nd.array(content, dtype=np.float64)
    scale = relative_tv_scale(x)
    smoothing = TVSmoothing(0.3 * scale, mx.cpu(), np.float64)
    assert float(smoothing.value(x, smoothing.gradient(x)).asscalar()) == pytest.approx(0.3)
    assert relative_tv_scale(mx.nd.zeros((1, 3) + SHAPE, dtype=np.float64)) == 1.0
    graph = relative_graph(tiny_weights)
    graph.set_weights(style=1.0, content=1.0, loss="relative")
    graph.set_targets(graph.style_targets(content), content)
    assert graph.tv_scale == pytest.approx(scale)


def test_a_zero_target_keeps_the_example_factor(tiny_weights: Dict[str, np.ndarray]) -> None:
    graph = relative_graph(tiny_weights)
    targets = graph.style_targets(np.random.default_rng(9).uniform(-60, 60, (1, 3) + SHAPE))
    targets[0] = np.zeros_like(targets[0])
    graph.set_targets(targets, np.random.default_rng(8).uniform(-60, 60, (1, 3) + SHAPE))
    graph.set_weights(style=1.0, content=1.0, loss="relative")
    example = {t.name: t.weight for t in graph.terms}
    assert graph._weights["style:relu1_1"] == example["style:relu1_1"]
    assert graph._weights["style:relu2_1"] != example["style:relu2_1"]
    assert all(np.isfinite(v) for v in graph._weights.values())


def test_a_relative_run_lowers_the_relative_measures(tiny_weights: Dict[str, np.ndarray]) -> None:
    """End to end on the tiny network: Adam from the content under the relative loss lowers
    the mean relative style error (what the term is) while content stays finite."""
    graph = relative_graph(tiny_weights, seed=4)
    graph.set_weights(style=10.0, content=1.0, loss="relative")
    graph.data[:] = np.random.default_rng(4).uniform(-60, 60, size=(2, 1, 3) + SHAPE)[1]
    style_means: List[float] = []
    outcome = optimise(
        graph,
        Config(
            optimizer="adam",
            lr=2.0,
            loss="relative",
            max_num_epochs=30,
            stop_eps=1e-9,
            tv_weight=0.0,
        ),
        lambda info, image: style_means.append(
            sum(v for n, v in info.terms.items() if n.startswith("style:"))
        ),
    )
    assert outcome.epochs == 30
    assert style_means[-1] < 0.5 * style_means[0]


def test_the_stylizer_applies_the_configs_loss(tiny_weights: Dict[str, np.ndarray]) -> None:
    stylizer = Stylizer(tiny_weights, gpu=-1, spec=TINY)
    relative = stylizer.graph(SHAPE, Config(loss="relative"))
    assert relative._relative
    assert not stylizer.graph(SHAPE, Config())._relative
