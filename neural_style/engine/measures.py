"""Two size-normalised quality measures of a stylized image (lower is better).

- content = ‖F(x) − F(c)‖² / ‖F(c)‖² at relu4_2, with c the content image at the
  output's size;
- style = for each of relu1_1 … relu5_1, ‖G(x) − G(s)‖² / ‖G(s)‖² with
  G = F·Fᵀ / (H·W), s the style image resized to the output's long edge with its aspect
  kept; and their mean, so each layer counts the same (fine brush texture at relu1_1
  and relu2_1 as much as the deep layers).

They are relative errors, comparable across image sizes, optimisers and weights, unlike
the loss the optimiser minimises (sums of raw Gram errors, dominated by the layers with
the largest values). The network is VGG19 with average pooling, as the example's.
These are the measures of issue 8 and of ``benchmarks/speed_to_quality.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Mapping, Sequence, Tuple

import numpy as np

from .._mxnet import mx
from .graph import feature_symbols
from .pixels import fit_long_edge, resize, to_network
from .vgg import VGGSpec

CONTENT_LAYER = "relu4_2"
STYLE_LAYERS: Tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")

#: (1, 3, H, W) network units -> {layer: (C, H', W') float64 feature maps}.
FeatureFn = Callable[[np.ndarray], Dict[str, np.ndarray]]


@dataclass(frozen=True)
class Quality:
    """The measures of one image: content, and style layer by layer."""

    content: float
    style_layers: Dict[str, float]

    @property
    def style(self) -> float:
        """The mean of the per-layer style measures."""
        return float(np.mean(list(self.style_layers.values())))

    def at_most(self, other: "Quality") -> bool:
        """Both the content measure and the mean style measure are <= ``other``'s."""
        return self.content <= other.content and self.style <= other.style

    def as_dict(self) -> Dict[str, float]:
        return {
            "content": self.content,
            "style": self.style,
            **{f"style:{k}": v for k, v in self.style_layers.items()},
        }


def gram(f: np.ndarray) -> np.ndarray:
    """F·Fᵀ / (H·W) of a (C, H, W) feature map."""
    flat = f.reshape(f.shape[0], -1).astype(np.float64)
    return flat @ flat.T / flat.shape[1]


def relative_error(x: np.ndarray, target: np.ndarray) -> float:
    """‖x − target‖² / ‖target‖² (inf if the target is all zeros and x is not)."""
    den = float(np.sum(np.square(target, dtype=np.float64)))
    num = float(np.sum(np.square(x.astype(np.float64) - target)))
    if den == 0.0:
        return 0.0 if num == 0.0 else float("inf")
    return num / den


def mxnet_features(
    spec: VGGSpec,
    params: Mapping[str, "mx.nd.NDArray"],
    ctx: object,
    layers: Sequence[str],
    pooling: str = "avg",
) -> FeatureFn:
    """A :data:`FeatureFn` that runs the network forward (bound per call: shapes vary)."""
    feats = feature_symbols(spec, layers, pooling)
    names = list(feats)
    group = mx.sym.Group([feats[n] for n in names])

    def run(x: np.ndarray) -> Dict[str, np.ndarray]:
        dtype = next(iter(params.values())).dtype
        data = mx.nd.array(x, ctx=ctx, dtype=dtype)
        args = {n: (data if n == "data" else params[n]) for n in group.list_arguments()}
        executor = group.bind(ctx, args=args, grad_req="null")
        outputs = executor.forward(is_train=False)
        return {n: o.asnumpy()[0].astype(np.float64) for n, o in zip(names, outputs)}

    return run


class Judge:
    """Measures images of one output shape against one content and one style image.

    ``content_rgb`` and ``style_rgb`` are (H, W, 3) float arrays in [0, 1] (decoded at
    full size or near it: see :func:`neural_style.io.images.load_rgb`); the targets are
    computed once, for images of ``shape`` (H, W).
    """

    def __init__(
        self,
        features: FeatureFn,
        content_rgb: np.ndarray,
        style_rgb: np.ndarray,
        shape: Tuple[int, int],
        content_layer: str = CONTENT_LAYER,
        style_layers: Sequence[str] = STYLE_LAYERS,
    ) -> None:
        self.features, self.shape = features, (int(shape[0]), int(shape[1]))
        self.content_layer, self.style_layers = content_layer, tuple(style_layers)
        self._content = features(to_network(resize(content_rgb, self.shape)))[content_layer]
        style_shape = fit_long_edge((style_rgb.shape[0], style_rgb.shape[1]), max(self.shape))
        style_feats = features(to_network(resize(style_rgb, style_shape)))
        self._grams = {layer: gram(style_feats[layer]) for layer in self.style_layers}

    def __call__(self, image: np.ndarray) -> Quality:
        """The measures of an (H, W, 3) uint8 image (or float in [0, 1]) of the judge's shape."""
        if tuple(image.shape[:2]) != self.shape:
            raise ValueError(f"the judge measures {self.shape} images, not {image.shape[:2]}")
        rgb = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image
        feats = self.features(to_network(np.asarray(rgb, dtype=np.float32)))
        style = {
            layer: relative_error(gram(feats[layer]), self._grams[layer])
            for layer in self.style_layers
        }
        return Quality(relative_error(feats[self.content_layer], self._content), style)
