from __future__ import annotations

from typing import Dict

import numpy as np
import pytest

from neural_style._mxnet import mx
from neural_style.config import CONTENT_LAYERS, STYLE_LAYERS
from neural_style.engine.graph import StyleGraph
from neural_style.engine.vgg import VGG19, check_layers
from neural_style.errors import ConfigError
from tests.helpers import TINY
from tests.reference import features, gram, objective

SHAPE = (20, 28)


def make_graph(weights: Dict[str, np.ndarray], dtype: type = np.float64) -> StyleGraph:
    params = {k: mx.nd.array(v, dtype=dtype) for k, v in weights.items()}
    return StyleGraph(TINY, params, SHAPE, STYLE_LAYERS, CONTENT_LAYERS, mx.cpu(), dtype=dtype)


def images(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-60, 60, size=(3, 1, 3) + SHAPE)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-6), (np.float32, 1e-3)])
def test_gram_matches_numpy(tiny_weights: Dict[str, np.ndarray], dtype: type, rtol: float) -> None:
    # float32 takes oneDNN's convolutions, whose blocked memory layout every op after
    # them must respect (MXNet's linalg.syrk did not: it read the raw blocks).
    graph = make_graph(tiny_weights, dtype)
    image = images(0)[0]
    grams, contents = graph.targets(image, "style"), graph.targets(image, "content")
    want = features(TINY, tiny_weights, image, STYLE_LAYERS + CONTENT_LAYERS)
    assert list(grams) == [f"style:{layer}" for layer in STYLE_LAYERS]
    for layer in STYLE_LAYERS:
        scale = np.abs(gram(want[layer])).max()
        np.testing.assert_allclose(
            grams[f"style:{layer}"], gram(want[layer]), rtol=rtol, atol=rtol * scale
        )
    np.testing.assert_allclose(
        contents["content:relu4_2"][0],
        want["relu4_2"],
        rtol=rtol,
        atol=rtol * np.abs(want["relu4_2"]).max(),
    )


@pytest.mark.parametrize("style_weight, content_weight", [(1.0, 10.0), (3.0, 0.5)])
def test_objective_matches_numpy(
    tiny_weights: Dict[str, np.ndarray], style_weight: float, content_weight: float
) -> None:
    graph = make_graph(tiny_weights)
    image, style, content = images(1)
    graph.set_targets(graph.style_targets(style), content)
    graph.set_weights(style=style_weight, content=content_weight)
    graph.data[:] = image
    got = graph.weighted(graph.forward_backward().read())
    want = objective(
        TINY,
        tiny_weights,
        image,
        style,
        content,
        STYLE_LAYERS,
        CONTENT_LAYERS,
        style_weight,
        content_weight,
    )
    assert list(got) == list(want)
    for name in want:
        assert got[name] == pytest.approx(want[name], rel=1e-6), name
    assert all(v > 0 for v in want.values())


def test_gradient_matches_finite_differences(tiny_weights: Dict[str, np.ndarray]) -> None:
    graph = make_graph(tiny_weights)
    image, style, content = images(2)
    graph.set_targets(graph.style_targets(style), content)
    graph.set_weights(style=1.0, content=10.0)

    def total(x: np.ndarray) -> float:
        graph.data[:] = x
        return sum(graph.weighted(graph.forward_backward().read()).values())

    total(image)
    grad = graph.grad.asnumpy().copy()
    rng = np.random.default_rng(3)
    for _ in range(3):
        direction = rng.standard_normal(image.shape)
        direction /= np.linalg.norm(direction)
        h = 1e-3
        numeric = (total(image + h * direction) - total(image - h * direction)) / (2 * h)
        assert float(np.sum(grad * direction)) == pytest.approx(numeric, rel=1e-5)
    # and pixel by pixel, for a few pixels
    for index in [(0, 0, 0, 0), (0, 2, 10, 13), (0, 1, 19, 27)]:
        bump = np.zeros_like(image)
        bump[index] = 1e-3
        numeric = (total(image + bump) - total(image - bump)) / 2e-3
        assert grad[index] == pytest.approx(numeric, rel=1e-4, abs=1e-6)


def test_weights_change_without_rebinding(tiny_weights: Dict[str, np.ndarray]) -> None:
    graph = make_graph(tiny_weights)
    image, style, content = images(4)
    graph.set_targets(graph.style_targets(style), content)
    graph.data[:] = image
    graph.set_weights(style=1.0, content=1.0)
    base = graph.weighted(graph.forward_backward().read())
    g1 = graph.grad.asnumpy().copy()
    graph.set_weights(style=2.0, content=2.0)
    doubled = graph.weighted(graph.forward_backward().read())
    assert doubled["style:relu1_1"] == pytest.approx(2 * base["style:relu1_1"])
    np.testing.assert_allclose(graph.grad.asnumpy(), 2 * g1, rtol=1e-9)


@pytest.mark.parametrize("loss", ["example", "relative"])
def test_content_targets_given_bind_as_the_content_image_does(
    tiny_weights: Dict[str, np.ndarray], loss: str
) -> None:
    """Targets from :meth:`content_targets` (what the tiled driver keeps between visits)
    give the same terms and gradient as the content image they came from; without the
    image, the relative loss needs a scale for its TV, and neither is an error."""
    from neural_style.engine.losses import RelativeScale

    image, style, content = images(5)
    graph = make_graph(tiny_weights, np.float32)
    graph.set_weights(style=1.0, content=1.0, loss=loss)
    styles = graph.style_targets(style)
    graph.set_targets(styles, content)
    graph.data[:] = image
    want = graph.forward_backward().read()
    want_grad = graph.grad.asnumpy().copy()
    kept = graph.content_targets(content)
    assert [k.dtype for k in kept] == [np.float32] * len(CONTENT_LAYERS)
    graph.set_targets(styles, images(6)[2])  # other targets bound between
    scale = RelativeScale({}, tv=1.0 / graph.tv_scale) if loss == "relative" else None
    graph.set_targets(styles, None, scale, content_targets=kept)
    graph.data[:] = image
    assert graph.forward_backward().read() == want
    np.testing.assert_array_equal(graph.grad.asnumpy(), want_grad)
    with pytest.raises(ValueError, match="not neither"):
        graph.set_targets(styles, None)
    with pytest.raises(ValueError, match="content targets for"):
        graph.set_targets(styles, None, scale, content_targets=kept + kept)
    if loss == "relative":
        with pytest.raises(ValueError, match="needs a scale"):
            graph.set_targets(styles, None, content_targets=kept)


def test_only_the_image_gets_a_gradient(tiny_weights: Dict[str, np.ndarray]) -> None:
    graph = make_graph(tiny_weights)
    grads = graph._executor.grad_dict
    assert [name for name, g in grads.items() if g is not None] == ["data"]


def test_bad_layer_name_suggests() -> None:
    with pytest.raises(ConfigError, match="did you mean 'relu4_2'"):
        check_layers(VGG19, ["relu4-2"], "--content-layers")
    with pytest.raises(ConfigError, match="choose from"):
        check_layers(VGG19, ["fc7"], "--style-layers")


def test_float32_gradient_matches_float64(tiny_weights: Dict[str, np.ndarray]) -> None:
    """The production dtype (oneDNN's path on the CPU) against the checked float64 one."""
    image, style, content = images(6)
    grads = []
    for dtype in (np.float64, np.float32):
        graph = make_graph(tiny_weights, dtype)
        graph.set_targets(graph.style_targets(style), content)
        graph.set_weights(style=1.0, content=10.0)
        graph.data[:] = image
        graph.forward_backward()
        grads.append(graph.grad.asnumpy().astype(np.float64))
    scale = np.abs(grads[0]).max()
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-3, atol=1e-3 * scale)


def test_targets_are_those_of_an_inference_pass(tiny_weights: Dict[str, np.ndarray]) -> None:
    """The targets are forwarded in training mode (so oneDNN reuses the training pass's
    convolutions, see StyleGraph._sources); the values are an inference pass's."""
    graph = make_graph(tiny_weights)
    _, style, _ = images(5)
    targets = graph.style_targets(style)
    graph._executor.forward(is_train=False)  # the data is still the style image
    sources = graph._executor.outputs[len(graph.terms) :]
    inference = [s.asnumpy() for t, s in zip(graph.terms, sources) if t.reference == "style"]
    assert len(targets) == len(inference) > 0
    for target, expected in zip(targets, inference):
        np.testing.assert_allclose(target, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())
