"""The terms of the objective, as small pieces of MXNet graph.

Gatys et al. (2015) write the style loss of a layer as 1/(4 N² M²) ‖G − A‖²; like
MXNet's example we use 1/(N² M) ‖G − A‖² with N channels and M = H·W positions
(the constant differs, and the style weight absorbs it), and the content loss
without the paper's 1/2. Each term is built raw; its weight is applied as the head
gradient of the backward pass, so changing a weight never rebinds the graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Tuple

import numpy as np

from .._mxnet import mx

Symbol = Any  # mx.sym.Symbol; MXNet 1.x ships no type stubs
NDArray = Any  # mx.nd.NDArray


@dataclass(frozen=True)
class LossTerm:
    """One term: ``user weight * scale * raw``, raw being the graph output ``symbol``."""

    name: str  # e.g. "style:relu1_1", "content:relu4_2"
    kind: str  # "style" or "content": which user weight applies
    symbol: Symbol
    scale: float  # the layer's normalisation


def gram(features: Symbol, channels: int) -> Symbol:
    """G = F·Fᵀ of a (1, C, H, W) feature map, F reshaped to (C, H·W)."""
    flat = mx.sym.reshape(features, shape=(channels, -1))
    return mx.sym.linalg.syrk(flat, transpose=False, alpha=1.0)  # BLAS syrk: half of dot's work


def style_term(layer: str, features: Symbol, shape: Tuple[int, ...],
               ) -> Tuple[LossTerm, Symbol, Symbol]:
    """The style term of one layer, its Gram symbol, and the target variable it compares to."""
    _, channels, height, width = shape
    g = gram(features, channels)
    target = mx.sym.Variable(f"target_gram_{layer}")
    raw = mx.sym.sum(mx.sym.square(g - target))
    scale = 1.0 / (channels * channels * height * width)
    return LossTerm(f"style:{layer}", "style", raw, scale), g, target


def content_term(layer: str, features: Symbol) -> Tuple[LossTerm, Symbol]:
    """The content term of one layer: ‖F − P‖², and the target variable P."""
    target = mx.sym.Variable(f"target_content_{layer}")
    raw = mx.sym.sum(mx.sym.square(features - target))
    return LossTerm(f"content:{layer}", "content", raw, 1.0), target


#: 4-neighbour Laplacian / 8, the example's smoothing kernel.
_LAPLACIAN = np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], dtype=np.float64) / 8.0


class TVSmoothing:
    """The example's total-variation term, applied as a gradient.

    tv_weight · (Laplacian / 8) ∗ x per channel (zero padding) is the exact gradient of
    tv_weight/16 · Σ over neighbouring pixel pairs of their squared difference (the
    border counting as zeros); its value is therefore ½ · xᵀ·gradient. Like the
    example, it is added after the content/style gradient is clipped, so it is not
    part of the clipped objective.
    """

    def __init__(self, tv_weight: float, ctx: Any, dtype: Any = np.float32) -> None:
        self.tv_weight = tv_weight
        kernel = np.broadcast_to(_LAPLACIAN, (3, 1, 3, 3)) * tv_weight
        self._kernel = mx.nd.array(kernel, ctx=ctx, dtype=dtype)

    def gradient(self, image: NDArray) -> NDArray:
        return mx.nd.Convolution(image, self._kernel, kernel=(3, 3), pad=(1, 1),
                                 num_filter=3, num_group=3, no_bias=True)

    @staticmethod
    def value(image: NDArray, gradient: NDArray) -> NDArray:
        return 0.5 * mx.nd.sum(image * gradient)


# ---- --normalize-gradients ---------------------------------------------------------------
# jcjohnson/neural-style divides each loss module's gradient by its L1 norm (+1e-8) and
# multiplies it by the module's strength. Our terms get their weight as the head gradient,
# so the gradient arriving here is weight·dL/dF; passing it on as weight·g/‖g‖₁ is the same
# thing. The op is the identity in the forward pass.

_NORMALIZE_OP = "neural_style_grad_normalize"


class _GradNormalize(mx.operator.CustomOp):  # type: ignore[misc]
    def forward(self, is_train: bool, req: Any, in_data: Any, out_data: Any, aux: Any) -> None:
        self.assign(out_data[0], req[0], in_data[0])

    def backward(self, req: Any, out_grad: Any, in_data: Any, out_data: Any, in_grad: Any,
                 aux: Any) -> None:
        grad, weight = out_grad[0], in_data[1]
        scale = mx.nd.abs(weight) / (mx.nd.sum(mx.nd.abs(grad)).reshape((1,)) + 1e-8)
        self.assign(in_grad[0], req[0], mx.nd.broadcast_mul(grad, scale.reshape((1, 1, 1, 1))))
        self.assign(in_grad[1], req[1], mx.nd.zeros_like(in_data[1]))


@mx.operator.register(_NORMALIZE_OP)  # type: ignore[misc]
class _GradNormalizeProp(mx.operator.CustomOpProp):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(need_top_grad=True)

    def list_arguments(self) -> list:
        return ["data", "weight"]

    def infer_shape(self, in_shape: Any) -> Any:
        return [in_shape[0], (1,)], [in_shape[0]], []

    def infer_type(self, in_type: Any) -> Any:
        return [in_type[0], in_type[0]], [in_type[0]], []

    def create_operator(self, ctx: Any, shapes: Any, dtypes: Any) -> _GradNormalize:
        return _GradNormalize()


def normalized(features: Symbol, term: str) -> Symbol:
    """``features`` whose gradient is L1-normalised (times the variable ``norm_weight_<term>``)."""
    weight = mx.sym.Variable(f"norm_weight_{term.replace(':', '_')}")
    return mx.sym.Custom(features, weight, op_type=_NORMALIZE_OP)
