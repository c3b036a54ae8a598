"""The terms of the objective, as small pieces of MXNet graph.

Gatys et al. (2015) write the style loss of a layer as 1/(4 N² M²) ‖G − A‖²; like
MXNet's example we use 1/(N² M) ‖G − A‖² with N channels and M = H·W positions
(the constant differs, and the style weight absorbs it), and the content loss
without the paper's 1/2. Each term is built raw; its weight is applied as the head
gradient of the backward pass, so changing a weight never rebinds the graph.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple

import numpy as np

from .._mxnet import mx

Symbol = Any  # mx.sym.Symbol; MXNet 1.x ships no type stubs
NDArray = Any  # mx.nd.NDArray


class Term(Protocol):
    """One named term of the objective. Its statistics are read by ``name``, never by
    position; its contribution is ``user weight of its kind * weight * raw``."""

    @property
    def name(self) -> str:  # unique, "<kind>:<layer>", e.g. "style:relu1_1"
        ...

    @property
    def kind(self) -> str:  # which user weight applies: "style", "content"
        ...

    @property
    def weight(self) -> float:  # the term's own constant factor (the layer's normalisation)
        ...

    @property
    def symbol(self) -> Symbol:  # the raw value, a graph output of shape (1,)
        ...


@dataclass(frozen=True)
class LossTerm:
    """A :class:`Term` comparing a statistic of one layer with a target variable.

    ``source`` is that statistic as a symbol: forwarding the ``reference`` image (the
    style or the content image) through it gives the value to bind to ``target``.
    """

    name: str
    kind: str
    weight: float
    symbol: Symbol
    target: str  # the name of the target variable
    source: Symbol
    reference: str  # "style" or "content": the image the target is computed from


def term_name(kind: str, layer: str) -> str:
    return f"{kind}:{layer}"


def gram(features: Symbol, channels: int) -> Symbol:
    """G = F·Fᵀ of a (1, C, H, W) feature map, F reshaped to (C, H·W).

    As a FullyConnected layer with F as data and weight: oneDNN's inner product, which
    measured faster than BLAS syrk forward and backward here even though it does twice the
    multiplications (benchmarks/epoch_speed.py --profile). It is fp32 in every precision
    (engine/graph.features gives fp32 features).

    The backward pass goes through the data only (the weight is F behind BlockGrad),
    doubled: dL/dF = (D + Dᵀ)·F with D = dL/dG, which is 2·D·F when D is symmetric, as
    it is for every loss on G compared with a symmetric target (‖G − A‖² gives
    D = 2(G − A)). One product instead of two and no sum of the two gradients: the
    Gram backward costs half (tests/engine/test_losses.py checks it against the
    two-sided gradient).
    """
    flat = mx.sym.reshape(features, shape=(channels, -1))
    g = mx.sym.FullyConnected(
        flat, weight=mx.sym.BlockGrad(flat), num_hidden=channels, no_bias=True, flatten=False
    )
    return mx.sym.contrib.gradientmultiplier(g, scalar=2.0)


def squared_norm(x: Symbol, rows: int) -> Symbol:
    """‖x‖², a graph output of shape (1,), with gradient 2x: ``x`` split into ``rows``
    rows (``rows`` divides its size), each row's dot product with itself (``batch_dot``
    against the row behind BlockGrad, the gradient doubled as in :func:`gram`), then
    MXNet's sum of the rows.

    The obvious ``sum(square(x))`` is the same value, but MXNet's ``sum`` over all of a
    large array runs on one thread, element by element (it is exact: Kahan summation):
    with ``square`` and their backward passes it cost about 7 % of a bf16 pass at
    256x192 (benchmarks/epoch_speed.py --profile). Here the long sums are BLAS dot
    products and ``sum`` only adds ``rows`` numbers; the value agrees with the float64
    sum of the same fp32 inputs as closely as ``sum(square(x))`` did (a few 1e-8,
    tests/engine/test_losses.py). A single dot product (``dot``, or FullyConnected) of
    the whole array was as fast but off by up to 2e-5 (one long fp32 accumulation).
    """
    row = mx.sym.reshape(x, shape=(rows, 1, -1))
    col = mx.sym.reshape(mx.sym.BlockGrad(x), shape=(rows, -1, 1))
    return mx.sym.sum(mx.sym.contrib.gradientmultiplier(mx.sym.batch_dot(row, col), scalar=2.0))


def dot_all(a: NDArray, b: NDArray) -> NDArray:
    """Σ a·b over all elements of two NDArrays of one shape, as a (1,) NDArray (no host
    sync): the dot products of their rows (the last axis) by ``batch_dot``, then MXNet's
    sum of those. For the same reason as :func:`squared_norm`: ``mx.nd.norm`` and
    ``mx.nd.sum`` of a whole image run on one thread, and ``norm`` is the less accurate
    (7e-5 off at 512x384 against 1e-8 here)."""
    rows = a.size // a.shape[-1]
    products = mx.nd.batch_dot(a.reshape((rows, 1, -1)), b.reshape((rows, -1, 1)))
    return mx.nd.sum(products).reshape((1,))


def l2_norm(x: NDArray) -> NDArray:
    """‖x‖₂ as a (1,) NDArray, by :func:`dot_all`."""
    return mx.nd.sqrt(dot_all(x, x))


def style_term(layer: str, features: Symbol, shape: Tuple[int, ...]) -> LossTerm:
    """The style term of one layer: ‖G − A‖² / (N² M), A the target Gram matrix."""
    _, channels, height, width = shape
    g = gram(features, channels)
    target = f"target_gram_{layer}"
    raw = squared_norm(g - mx.sym.Variable(target), channels)
    scale = 1.0 / (channels * channels * height * width)
    return LossTerm(term_name("style", layer), "style", scale, raw, target, g, "style")


def content_term(layer: str, features: Symbol, shape: Tuple[int, ...]) -> LossTerm:
    """The content term of one layer: ‖F − P‖², P the target features."""
    target = f"target_content_{layer}"
    raw = squared_norm(features - mx.sym.Variable(target), shape[1])
    return LossTerm(term_name("content", layer), "content", 1.0, raw, target, features, "content")


#: How a term of each kind is built from a layer's features (and their shape): adding a
#: kind of loss is adding an entry here (and a weight for it), nothing else in the engine.
TermBuilder = Callable[[str, Symbol, Tuple[int, ...]], LossTerm]
TERM_BUILDERS: Dict[str, TermBuilder] = {"style": style_term, "content": content_term}


@dataclass(frozen=True)
class RelativeScale:
    """What ``loss="relative"`` divides by, where not the bound targets' own: a tile of a
    larger image is normalised as the whole image is (:mod:`.tiled`). ``squares``: some
    terms' ‖target‖² (by term name), ``tv``: the content's own TV value at weight 1, each
    the whole image's scaled to the tile's share of its positions. With the tile's own
    targets instead, the tile of a 1024x768 photo whose content features had 0.58x the
    image's energy per position weighed its content 1.7x as much as the whole image does
    there, and the busiest (1.4x) 0.7x. (Under ``normalize_gradients`` each term's
    gradient is scaled to its weight in every tile, so these figures set that balance
    instead, as a tile's own would.)"""

    squares: Mapping[str, float]
    tv: Optional[float] = None


def relative_norms(
    terms: Sequence[LossTerm],
    targets: Mapping[str, NDArray],
    squares: Optional[Mapping[str, float]] = None,
) -> Dict[str, float]:
    """Each term's factor in ``loss="relative"``: 1 / (‖target‖² · the number of terms of
    its kind), so a kind's weight multiplies the mean of its layers' relative errors (the
    measures of :mod:`.measures`, which the term then equals, up to the style image's
    aspect). Not in the paper: Gatys et al. weight each style layer by 1/(4N²M²), which
    leaves the layers' errors on scales many orders of magnitude apart, so the deep layers
    (relu5_1) are hardly optimised; normalising by the target makes them count the same.
    A target that is all zeros keeps the example's factor (its relative error is undefined).
    ``squares`` gives ‖target‖² for some terms by name (:class:`RelativeScale`); the
    others' come from ``targets``.
    """
    if not terms:
        return {}
    given = dict(squares or {})
    own = [t for t in terms if t.name not in given]
    sizes = dict(given)
    if own:
        sums = mx.nd.concat(
            *[mx.nd.sum(mx.nd.square(targets[t.name])).reshape((1,)) for t in own], dim=0
        )
        sizes.update(zip((t.name for t in own), sums.asnumpy().astype(np.float64).tolist()))
    counts: Dict[str, int] = {}
    for t in terms:
        counts[t.kind] = counts.get(t.kind, 0) + 1
    return {
        t.name: 1.0 / (sizes[t.name] * counts[t.kind]) if sizes[t.name] > 0 else t.weight
        for t in terms
    }


class Readings:
    """Named scalar statistics left on the device, read together in one host sync.

    The graph gives its terms' raw values; the optimiser adds its own (``tv``, ``eps``).
    Readers look values up by name, so a new term needs no change where they are read.
    """

    def __init__(self, names: Sequence[str] = (), values: Optional[NDArray] = None) -> None:
        self.names: Tuple[str, ...] = tuple(names)
        self._parts: List[NDArray] = [] if values is None else [values.reshape((-1,))]

    def plus(self, name: str, value: NDArray) -> "Readings":
        """A copy with one more statistic (a one-element NDArray)."""
        out = Readings()
        out.names, out._parts = self.names + (name,), self._parts + [value.reshape((1,))]
        return out

    def read(self) -> Dict[str, float]:
        """``{name: value}``, copied to the host as float64."""
        if not self._parts:
            return {}
        values = mx.nd.concat(*self._parts, dim=0).asnumpy().astype(np.float64)
        return dict(zip(self.names, values.tolist()))


def weighted(readings: Mapping[str, float], weights: Mapping[str, float]) -> Dict[str, float]:
    """Each reading times its weight; readings without one (``tv``, already weighted) as
    they are."""
    return {name: weights.get(name, 1.0) * value for name, value in readings.items()}


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

    name = "tv"  # its reading; the value comes weighted

    def __init__(self, tv_weight: float, ctx: Any, dtype: Any = np.float32) -> None:
        self.tv_weight = tv_weight
        kernel = np.broadcast_to(_LAPLACIAN, (3, 1, 3, 3)) * tv_weight
        self._kernel = mx.nd.array(kernel, ctx=ctx, dtype=dtype)

    def gradient(self, image: NDArray) -> NDArray:
        return mx.nd.Convolution(
            image, self._kernel, kernel=(3, 3), pad=(1, 1), num_filter=3, num_group=3, no_bias=True
        )

    @staticmethod
    def value(image: NDArray, gradient: NDArray) -> NDArray:
        return 0.5 * dot_all(image, gradient)


def tv_value(content: NDArray) -> float:
    """The TV term's value at weight 1 for ``content`` ((1, 3, H, W))."""
    smoothing = TVSmoothing(1.0, content.context, content.dtype)
    return float(smoothing.value(content, smoothing.gradient(content)).asscalar())


def relative_tv_scale(content: Optional[NDArray], value: Optional[float] = None) -> float:
    """What multiplies the TV weight in ``loss="relative"``: 1 / the content's own TV value
    at weight 1 (``value``, or :func:`tv_value` of ``content``), so the TV term is the
    image's roughness relative to the content's (1 where the content is flat)."""
    if value is None:
        assert content is not None
        value = tv_value(content)
    return 1.0 / value if value > 0 else 1.0


# ---- --normalize-gradients ---------------------------------------------------------------
# jcjohnson/neural-style divides each loss module's gradient by its L1 norm (+1e-8) and
# multiplies it by the module's strength. Our terms get their weight as the head gradient,
# so the gradient arriving here is weight·dL/dF; passing it on as weight·g/‖g‖₁ is the same
# thing. The op is the identity in the forward pass.

_NORMALIZE_OP = "neural_style_grad_normalize"


class _GradNormalize(mx.operator.CustomOp):  # type: ignore[misc]
    def forward(self, is_train: bool, req: Any, in_data: Any, out_data: Any, aux: Any) -> None:
        self.assign(out_data[0], req[0], in_data[0])

    def backward(
        self, req: Any, out_grad: Any, in_data: Any, out_data: Any, in_grad: Any, aux: Any
    ) -> None:
        grad, weight = out_grad[0], in_data[1]
        scale = mx.nd.abs(weight) / (mx.nd.sum(mx.nd.abs(grad)).reshape((1,)) + 1e-8)
        self.assign(in_grad[0], req[0], mx.nd.broadcast_mul(grad, scale.reshape((1, 1, 1, 1))))
        self.assign(in_grad[1], req[1], mx.nd.zeros_like(in_data[1]))


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


def norm_weight_name(term: str) -> str:
    """The variable that holds a term's weight for :func:`normalized`."""
    return f"norm_weight_{term.replace(':', '_')}"


@functools.lru_cache(maxsize=None)
def _normalize_op() -> str:
    """Register the custom op with MXNet on first use (not as a side effect of import)."""
    mx.operator.register(_NORMALIZE_OP)(_GradNormalizeProp)
    return _NORMALIZE_OP


def normalized(features: Symbol, term: str) -> Symbol:
    """``features`` whose gradient is L1-normalised (times the variable ``norm_weight_<term>``)."""
    weight = mx.sym.Variable(norm_weight_name(term))
    return mx.sym.Custom(features, weight, op_type=_normalize_op())
