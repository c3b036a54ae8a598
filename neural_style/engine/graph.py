"""VGG19 as an MXNet symbol graph, bound once per image shape.

One executor does everything: a forward pass with the style (or content) image
yields the targets, and forward + backward with the image being optimised yields
the loss terms and the gradient. Only the image has a gradient; the weights are
bound with ``grad_req="null"`` and shared, as NDArrays, by every executor.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .._mxnet import mx
from ..errors import ConfigError
from .losses import (
    TERM_BUILDERS,
    LossTerm,
    NDArray,
    Readings,
    RelativeScale,
    Symbol,
    norm_weight_name,
    normalized,
    relative_norms,
    relative_tv_scale,
    term_name,
    weighted,
)
from .objective import LOSSES
from .precision import FP32_LAYERS, Precision, bind_params, convert
from .vgg import POOLING, VGGSpec, check_layers

#: Full precision, the default of every graph.
FP32 = Precision("fp32", "the default")


def feature_symbols(
    spec: VGGSpec,
    layers: Sequence[str],
    pooling: str = "avg",
    fp32_taps: bool = False,
) -> Dict[str, Symbol]:
    """VGG up to the deepest of ``layers``; returns ``{relu name: symbol}`` for them.

    Pooling is 2x2 average by default, the example's choice (Gatys et al. also
    prefer it to VGG's max pooling for image synthesis).

    ``fp32_taps`` (for a network AMP will convert to a low precision): each feature is
    cast to fp32 where it is taken, and the deeper layers read that fp32 copy (AMP casts
    it back for the next convolution; bf16 -> fp32 -> bf16 is exact). The gradients of
    the loss and of the deeper layers then meet, and are summed, in fp32: MXNet 1.9.1
    sums bf16 gradients without oneDNN, about ten times slower than fp32 ones (relu1_1
    at 256x192: 20 ms against 1.8 ms), and its casts of oneDNN's blocked bf16 arrays are
    slow too, so a fork in bf16 cost more than the two casts of a fork in fp32.
    """
    if pooling not in POOLING:
        raise ConfigError(f"must be one of {', '.join(POOLING)}, not {pooling!r}", field="pooling")
    x = mx.sym.Variable("data")
    found: Dict[str, Symbol] = {}
    for layer in spec.layers_up_to(layers):
        if layer.pool_before:
            x = mx.sym.Pooling(
                x,
                kernel=(2, 2),
                stride=(2, 2),
                pool_type=pooling,
                name=f"pool{int(layer.name[4]) - 1}",
            )
        x = mx.sym.Convolution(
            x, num_filter=layer.out_channels, kernel=(3, 3), pad=(1, 1), name=layer.name
        )
        x = mx.sym.Activation(x, act_type="relu", name=layer.relu)
        if layer.relu in layers:
            if fp32_taps and layer.name not in FP32_LAYERS:
                x = mx.sym.amp_cast(x, dtype="float32", name=f"{layer.relu}_fp32")
            found[layer.relu] = x
    return found


def network_features(
    spec: VGGSpec, layers: Sequence[str], pooling: str = "avg", precision: Precision = FP32
) -> Dict[str, Symbol]:
    """``{relu name: fp32 feature symbol}`` of the network with its convolutions in
    ``precision``: the converted graph, whose outputs the loss is built on (outside
    AMP's reach, so the Gram matrices and terms are plain fp32 operators)."""
    low = precision.amp_dtype is not None
    feats = feature_symbols(spec, layers, pooling, fp32_taps=low)
    names = list(feats)
    converted = convert(mx.sym.Group([feats[name] for name in names]), precision)
    return {name: converted[i] for i, name in enumerate(names)} if low else feats


def _shapes(feats: Dict[str, Symbol], data_shape: Tuple[int, ...]) -> Dict[str, Tuple[int, ...]]:
    names = list(feats)
    _, out_shapes, _ = mx.sym.Group([feats[n] for n in names]).infer_shape(data=data_shape)
    return dict(zip(names, (tuple(s) for s in out_shapes)))


def network(
    spec: VGGSpec, layers: Sequence[str], pooling: str = "avg", precision: Precision = FP32
) -> Symbol:
    """The bare network: VGG's features at ``layers`` as one group (fp32 outputs), its
    convolutions in ``precision``. What an epoch costs without the loss is this
    graph's forward and backward."""
    feats = network_features(spec, layers, pooling, precision)
    return mx.sym.Group([feats[name] for name in layers])


def bind_image(
    symbol: Symbol,
    params: Mapping[str, NDArray],
    shape: Tuple[int, ...],
    ctx: Any,
    dtype: Any = np.float32,
) -> Any:
    """An executor of ``symbol`` whose only gradient is that of ``data`` (of ``shape``);
    the weights are the shared ``params`` (cast once where a low-precision network
    declares them so: :func:`~neural_style.engine.precision.bind_params`), every other
    input is zeros of ``dtype``."""
    arg_shapes, _, _ = symbol.infer_shape(data=shape)
    weights = bind_params(symbol, params)
    args = {}
    for name, arg_shape in zip(symbol.list_arguments(), arg_shapes):
        args[name] = (
            weights[name] if name in weights else mx.nd.zeros(arg_shape, ctx=ctx, dtype=dtype)
        )
    grad_req = {name: ("write" if name == "data" else "null") for name in args}
    grads = {"data": mx.nd.zeros(shape, ctx=ctx, dtype=dtype)}
    return symbol.bind(ctx, args=args, args_grad=grads, grad_req=grad_req)


def positions(
    spec: VGGSpec,
    shape: Tuple[int, int],
    layers: Sequence[str],
    pooling: str = "avg",
) -> Dict[str, int]:
    """H·W of each layer's feature map for an image of ``shape``, by shape inference alone
    (nothing is bound)."""
    shapes = _shapes(feature_symbols(spec, layers, pooling), (1, 3) + tuple(shape))
    return {layer: shapes[layer][2] * shapes[layer][3] for layer in layers}


class StyleGraph:
    """The bound objective for one image shape: a list of named terms (:class:`Term`).

    ``data`` is the image being optimised (bound in place, so an optimiser that
    updates it needs no copy); ``grad`` receives the gradient of the weighted terms.
    With a low ``precision`` the network runs in it; inputs and outputs stay fp32.
    Terms are built by kind from :data:`~neural_style.engine.losses.TERM_BUILDERS`, and
    everything about them (targets, weights, readings) is looked up by term name.
    """

    def __init__(
        self,
        spec: VGGSpec,
        params: Mapping[str, NDArray],
        shape: Tuple[int, int],
        style_layers: Sequence[str],
        content_layers: Sequence[str],
        ctx: Any,
        pooling: str = "avg",
        dtype: Any = np.float32,
        normalize_gradients: bool = False,
        more_layers: Optional[Mapping[str, Sequence[str]]] = None,
        precision: Precision = FP32,
    ) -> None:
        """``more_layers``: the layers of further kinds of term, by kind (a key of
        :data:`~neural_style.engine.losses.TERM_BUILDERS`)."""
        self.shape = (1, 3) + tuple(shape)
        self.pooling, self.precision = pooling, precision
        self.layers: Dict[str, Tuple[str, ...]] = {
            "style": tuple(style_layers),
            "content": tuple(content_layers),
        }
        self.layers.update({kind: tuple(layers) for kind, layers in (more_layers or {}).items()})
        for kind, layers in self.layers.items():
            check_layers(spec, layers, f"{kind}_layers")
        self.normalize_gradients = normalize_gradients
        self.terms: List[LossTerm] = self._build_terms(spec, pooling)
        # The sources (Gram matrices, content features) give the targets; BlockGrad keeps
        # them out of the backward pass. Outputs: every term's value, then every source.
        outputs = [t.symbol for t in self.terms] + [mx.sym.BlockGrad(t.source) for t in self.terms]
        symbol = mx.sym.Group(outputs)
        self._executor = bind_image(symbol, params, self.shape, ctx, dtype)
        self.data: NDArray = self._executor.arg_dict["data"]
        self.grad: NDArray = self._executor.grad_dict["data"]
        #: (1, 1, H, W) or None: multiplies the whole gradient (the tiled driver's context
        #: pixels are read but never changed).
        self.grad_mask: Optional[NDArray] = None
        self._head_grads = [mx.nd.zeros((1,), ctx=ctx, dtype=dtype) for _ in self.terms]
        self._weights: Dict[str, float] = {}
        self._user: Tuple[Dict[str, float], Dict[str, float]] = ({}, {})
        self._relative = False
        #: Each term's normalisation in ``loss="relative"``, from the targets bound last.
        self._relative_norms: Dict[str, float] = {}
        self._relative_tv = 1.0
        self.set_weights(style=1.0, content=1.0)

    @property
    def style_layers(self) -> Tuple[str, ...]:
        return self.layers["style"]

    @property
    def content_layers(self) -> Tuple[str, ...]:
        return self.layers["content"]

    def _build_terms(self, spec: VGGSpec, pooling: str) -> List[LossTerm]:
        wanted = [layer for layers in self.layers.values() for layer in layers]
        feats = network_features(spec, wanted, pooling, self.precision)
        shapes = _shapes(feats, self.shape)
        terms = []
        for kind, layers in self.layers.items():
            for layer in layers:
                name = term_name(kind, layer)
                features = (
                    normalized(feats[layer], name) if self.normalize_gradients else feats[layer]
                )
                terms.append(TERM_BUILDERS[kind](layer, features, shapes[layer]))
        return terms

    def set_weights(
        self,
        style: float,
        content: float,
        layer_weights: Optional[Mapping[str, float]] = None,
        kinds: Optional[Mapping[str, float]] = None,
        loss: str = "example",
    ) -> None:
        """The user's style and content weights (and those of further ``kinds``, 1 if not
        given), optional per-term weights keyed by term name, and how the terms are
        normalised (:data:`~neural_style.engine.objective.LOSSES`): the backward pass's head
        gradients."""
        if loss not in LOSSES:
            raise ConfigError(f"choose from {', '.join(LOSSES)}, not {loss!r}", field="loss")
        self._user = (
            {"style": style, "content": content, **(kinds or {})},
            dict(layer_weights or {}),
        )
        self._relative = loss == "relative"
        self._apply_weights()

    def _apply_weights(self) -> None:
        by_kind, per_term = self._user
        norms = self._relative_norms if self._relative else {}
        self._weights = {
            t.name: by_kind.get(t.kind, 1.0)
            * norms.get(t.name, t.weight)
            * per_term.get(t.name, 1.0)
            for t in self.terms
        }
        for term, head in zip(self.terms, self._head_grads):
            head[:] = self._weights[term.name]
        if self.normalize_gradients:
            for term in self.terms:
                self._executor.arg_dict[norm_weight_name(term.name)][:] = self._weights[term.name]

    @property
    def tv_scale(self) -> float:
        """What multiplies --tv-weight: 1 (the example's), or with ``loss="relative"``,
        1 / the content's own TV value, so the weight is relative to the content's roughness."""
        return self._relative_tv if self._relative else 1.0

    @property
    def term_names(self) -> List[str]:
        return [t.name for t in self.terms]

    def _sources(self, image: np.ndarray, reference: str) -> List[Tuple[LossTerm, NDArray]]:
        """Forward ``image``; each term whose target comes from the ``reference`` image
        ("style" or "content"), with its source's value (on the device).

        Forwarded in training mode, though nothing is trained: the values are the same
        (no layer here differs between the modes), but oneDNN then reuses the training
        pass's convolutions instead of creating a second set for inference, each holding
        its own scratch memory for as long as the process runs (MXNet caches them). In
        bf16 with AMX that second set cost 211 MB in a 256x192 run (869 against 658 MB
        peak RSS), and more in the tiled path, which forwards every tile's content."""
        self.data[:] = image
        self._executor.forward(is_train=True)
        sources = self._executor.outputs[len(self.terms) :]
        return [(t, s) for t, s in zip(self.terms, sources) if t.reference == reference]

    def targets(self, image: np.ndarray, reference: str) -> Dict[str, np.ndarray]:
        """``{term name: target}`` of the terms whose reference image is ``image`` ((1, 3,
        H, W), network units): the style image for ``"style"``, the content for ``"content"``."""
        return {t.name: s.asnumpy() for t, s in self._sources(image, reference)}

    def style_targets(self, style_image: np.ndarray) -> List[np.ndarray]:
        """The targets ``style_image`` gives (the Gram matrices), in term order: what the
        style cache keeps."""
        return list(self.targets(style_image, "style").values())

    def content_targets(self, content_image: np.ndarray) -> List[np.ndarray]:
        """The content targets ``content_image`` gives, in term order, as float32 (what
        :meth:`set_targets` binds; the tiled driver keeps each tile's between its visits)."""
        # astype: an fp16 graph keeps BlockGrad in fp16 (AMP's lists); the targets are fp32
        return [
            s.astype(np.float32, copy=False).asnumpy()
            for _, s in self._sources(content_image, "content")
        ]

    def set_targets(
        self,
        style_targets: Sequence[np.ndarray],
        content_image: Optional[np.ndarray],
        scale: Optional[RelativeScale] = None,
        content_targets: Optional[Sequence[np.ndarray]] = None,
    ) -> None:
        """Bind the style targets (from :meth:`style_targets`, perhaps cached and blended)
        and the content targets: ``content_targets`` (from :meth:`content_targets`), or
        else those computed from ``content_image``; ``loss="relative"`` normalises by
        these targets, or where ``scale`` says, by its figures (a tile's: the whole
        image's). Without ``content_image``, ``loss="relative"`` needs ``scale`` (the TV
        is relative to the content's)."""
        args = self._executor.arg_dict
        content_terms = [t for t in self.terms if t.reference == "content"]
        if content_targets is None:
            if content_image is None:
                raise ValueError("content targets or a content image, not neither")
            for term, source in self._sources(content_image, "content"):
                # astype: as content_targets'
                source.astype(np.float32, copy=False).copyto(args[term.target])
        elif len(content_targets) != len(content_terms):
            raise ValueError(
                f"{len(content_targets)} content targets for {len(content_terms)} terms"
            )
        else:
            for term, target in zip(content_terms, content_targets):
                args[term.target][:] = target
        style_terms = [t for t in self.terms if t.reference == "style"]
        if len(style_targets) != len(style_terms):
            raise ValueError(f"{len(style_targets)} style targets for {len(style_terms)} terms")
        for term, target in zip(style_terms, style_targets):
            args[term.target][:] = target
        self._relative_norms = relative_norms(
            self.terms,
            {t.name: args[t.target] for t in self.terms},
            None if scale is None else scale.squares,
        )
        self._relative_tv = self._tv_scale(content_image, scale)
        self._apply_weights()

    def _tv_scale(
        self, content_image: Optional[np.ndarray], scale: Optional[RelativeScale]
    ) -> float:
        """:func:`relative_tv_scale` of the content (or ``scale``'s TV figure); 1 when
        neither is given and the loss is not relative (where it is not used)."""
        if scale is not None and scale.tv is not None:
            return relative_tv_scale(None, scale.tv)
        if content_image is None:
            if self._relative:
                raise ValueError('loss="relative" without a content image needs a scale')
            return 1.0
        return relative_tv_scale(mx.nd.array(content_image, ctx=self.data.context))

    def forward_backward(self) -> Readings:
        """Each term's raw (unweighted) value at ``data``, by name; gradient into ``grad``."""
        self._executor.forward(is_train=True)
        self._executor.backward(self._head_grads)
        values = mx.nd.concat(*self._executor.outputs[: len(self.terms)], dim=0)
        return Readings(self.term_names, values)

    def weighted(self, readings: Mapping[str, float]) -> Dict[str, float]:
        """``{name: weight * raw value}`` for the terms in ``readings`` (other readings, such
        as ``tv``, as they are)."""
        return weighted(readings, self._weights)
