"""The quality measures of issue 8, on the tiny network, against plain numpy."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import numpy as np
import pytest

from neural_style._mxnet import mx
from neural_style.engine.measures import (
    CONTENT_LAYER,
    STYLE_LAYERS,
    FeatureFn,
    Judge,
    Quality,
    mxnet_features,
)
from neural_style.engine.pixels import resize, to_network
from tests.helpers import TINY
from tests.reference import features

LAYERS = STYLE_LAYERS + (CONTENT_LAYER,)


def numpy_measures(
    weights: Dict[str, np.ndarray], image: np.ndarray, content: np.ndarray, style: np.ndarray
) -> Dict[str, float]:
    """The definitions written out again: content ‖F(x) − F(c)‖² / ‖F(c)‖² at relu4_2;
    style per layer ‖G(x) − G(s)‖² / ‖G(s)‖², G = F Fᵀ / (H W), the style at the output's
    long edge with its aspect kept (30x60 -> 24x48 for a 32x48 output)."""
    h, w = image.shape[:2]
    long_edge = max(h, w)
    sh, sw = style.shape[:2]
    style_shape = (round(sh * long_edge / max(sh, sw)), round(sw * long_edge / max(sh, sw)))
    fx = features(TINY, weights, to_network(image), LAYERS)
    fc = features(TINY, weights, to_network(resize(content, (h, w))), LAYERS)
    fs = features(TINY, weights, to_network(resize(style, style_shape)), LAYERS)
    out = {
        "content": float(
            np.sum((fx[CONTENT_LAYER] - fc[CONTENT_LAYER]) ** 2) / np.sum(fc[CONTENT_LAYER] ** 2)
        )
    }
    for layer in STYLE_LAYERS:
        flat = [f.reshape(f.shape[0], -1) for f in (fx[layer], fs[layer])]
        gx, gs = (m @ m.T / m.shape[1] for m in flat)
        out[f"style:{layer}"] = float(np.sum((gx - gs) ** 2) / np.sum(gs**2))
    out["style"] = float(np.mean([out[f"style:{name}"] for name in STYLE_LAYERS]))
    return out


def tiny_features(weights: Dict[str, np.ndarray]) -> FeatureFn:
    params = {k: mx.nd.array(v, dtype=np.float64) for k, v in weights.items()}
    return mxnet_features(TINY, params, mx.cpu(), LAYERS)


def test_measures_match_numpy(tiny_weights: Dict[str, np.ndarray]) -> None:
    rng = np.random.default_rng(0)
    content = rng.random((40, 60, 3)).astype(np.float32)
    style = rng.random((30, 60, 3)).astype(np.float32)  # 1:2, not the output's 2:3
    image = rng.random((32, 48, 3)).astype(np.float32)
    judge = Judge(tiny_features(tiny_weights), content, style, (32, 48))
    got = judge(image).as_dict()
    want = numpy_measures(tiny_weights, image, content, style)
    assert set(got) == set(want)
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-6), key
    assert got["style"] > 0 and got["content"] > 0


def test_measures_are_zero_at_their_targets(tiny_weights: Dict[str, np.ndarray]) -> None:
    rng = np.random.default_rng(1)
    content = rng.random((16, 24, 3)).astype(np.float32)
    judge = Judge(tiny_features(tiny_weights), content, content, (16, 24))
    quality = judge(content)
    assert quality.content == pytest.approx(0, abs=1e-12)
    assert all(v == pytest.approx(0, abs=1e-12) for v in quality.style_layers.values())
    noise = judge(rng.random((16, 24, 3)).astype(np.float32))
    assert noise.content > 0.01 and noise.style > 0.001


def test_uint8_images_are_read_as_0_to_255(tiny_weights: Dict[str, np.ndarray]) -> None:
    rng = np.random.default_rng(2)
    content, style = rng.random((2, 16, 24, 3)).astype(np.float32)
    judge = Judge(tiny_features(tiny_weights), content, style, (16, 24))
    image = rng.integers(0, 256, size=(16, 24, 3), dtype=np.uint8)
    assert judge(image) == judge(image.astype(np.float32) / 255.0)
    with pytest.raises(ValueError, match="measures"):
        judge(image[:8])


def test_quality_mean_and_comparison() -> None:
    layers = {name: float(i) for i, name in enumerate(STYLE_LAYERS)}  # 0..4: mean 2
    q = Quality(0.5, layers)
    assert q.style == 2.0
    assert q.at_most(q) and q.at_most(Quality(0.6, {name: 2.0 for name in STYLE_LAYERS}))
    assert not q.at_most(Quality(0.4, {name: 9.0 for name in STYLE_LAYERS}))  # content worse
    assert not q.at_most(Quality(0.9, {name: 1.0 for name in STYLE_LAYERS}))  # style worse


def test_stylizer_judge_uses_its_network(
    tiny_weights: Dict[str, np.ndarray], content_path: Path, style_path: Path
) -> None:
    from neural_style import Stylizer
    from neural_style.io.images import load_rgb

    judge = Stylizer(tiny_weights, gpu=-1, spec=TINY).judge(content_path, style_path, (16, 24))
    image = np.random.default_rng(3).integers(0, 256, size=(16, 24, 3), dtype=np.uint8)
    want = numpy_measures(
        tiny_weights, image.astype(np.float32) / 255.0, load_rgb(content_path), load_rgb(style_path)
    )
    got = judge(image).as_dict()
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-4), key  # float32 network
