"""An independent numpy implementation of the network and the objective, for tests."""

from __future__ import annotations

from typing import Dict, Mapping, Sequence

import numpy as np

from neural_style.engine.vgg import VGGSpec


def conv3x3(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross-correlation, pad 1: x (C, H, W), w (O, C, 3, 3) -> (O, H, W)."""
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    h, wd = x.shape[1:]
    out = sum(
        np.einsum("chw,oc->ohw", padded[:, i : i + h, j : j + wd], w[:, :, i, j])
        for i in range(3)
        for j in range(3)
    )
    return np.asarray(out) + b[:, None, None]


def pool2x2(x: np.ndarray, kind: str = "avg") -> np.ndarray:
    c, h, w = x.shape
    blocks = x[:, : h // 2 * 2, : w // 2 * 2].reshape(c, h // 2, 2, w // 2, 2)
    return blocks.mean(axis=(2, 4)) if kind == "avg" else blocks.max(axis=(2, 4))


def features(
    spec: VGGSpec,
    params: Mapping[str, np.ndarray],
    image: np.ndarray,
    layers: Sequence[str],
    pooling: str = "avg",
) -> Dict[str, np.ndarray]:
    """image (1, 3, H, W) -> {relu name: (C, H, W)}."""
    x, out = image[0].astype(np.float64), {}
    for layer in spec.layers_up_to(layers):
        if layer.pool_before:
            x = pool2x2(x, pooling)
        x = np.maximum(conv3x3(x, params[f"{layer.name}_weight"], params[f"{layer.name}_bias"]), 0)
        if layer.relu in layers:
            out[layer.relu] = x
    return out


def gram(f: np.ndarray) -> np.ndarray:
    flat = f.reshape(f.shape[0], -1)
    return flat @ flat.T


def objective(
    spec: VGGSpec,
    params: Mapping[str, np.ndarray],
    image: np.ndarray,
    style: np.ndarray,
    content: np.ndarray,
    style_layers: Sequence[str],
    content_layers: Sequence[str],
    style_weight: float,
    content_weight: float,
) -> Dict[str, float]:
    """Σ_l sw/(C²HW)·‖G_l − A_l‖² and cw·‖F − P‖², term by term."""
    layers = list(style_layers) + list(content_layers)
    x, s, c = (features(spec, params, i, layers) for i in (image, style, content))
    terms = {}
    for layer in style_layers:
        ch, h, w = x[layer].shape
        terms[f"style:{layer}"] = (
            style_weight / (ch * ch * h * w) * float(np.sum((gram(x[layer]) - gram(s[layer])) ** 2))
        )
    for layer in content_layers:
        terms[f"content:{layer}"] = content_weight * float(np.sum((x[layer] - c[layer]) ** 2))
    return terms
