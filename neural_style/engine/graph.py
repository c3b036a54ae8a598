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
from .losses import LossTerm, NDArray, Symbol, content_term, normalized, style_term
from .precision import Precision, convert
from .vgg import VGGSpec, check_layers

#: Full precision, the default of every graph.
FP32 = Precision("fp32", "the default")

POOLING = ("avg", "max")


def feature_symbols(spec: VGGSpec, layers: Sequence[str], pooling: str = "avg",
                    ) -> Dict[str, Symbol]:
    """VGG up to the deepest of ``layers``; returns ``{relu name: symbol}`` for them.

    Pooling is 2x2 average by default, the example's choice (Gatys et al. also
    prefer it to VGG's max pooling for image synthesis).
    """
    if pooling not in POOLING:
        raise ConfigError(f"pooling must be one of {', '.join(POOLING)}, not {pooling!r}")
    x = mx.sym.Variable("data")
    found: Dict[str, Symbol] = {}
    for layer in spec.layers_up_to(layers):
        if layer.pool_before:
            x = mx.sym.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type=pooling,
                               name=f"pool{int(layer.name[4]) - 1}")
        x = mx.sym.Convolution(x, num_filter=layer.out_channels, kernel=(3, 3), pad=(1, 1),
                               name=layer.name)
        x = mx.sym.Activation(x, act_type="relu", name=layer.relu)
        if layer.relu in layers:
            found[layer.relu] = x
    return found


def _shapes(feats: Dict[str, Symbol], data_shape: Tuple[int, ...]) -> Dict[str, Tuple[int, ...]]:
    names = list(feats)
    _, out_shapes, _ = mx.sym.Group([feats[n] for n in names]).infer_shape(data=data_shape)
    return dict(zip(names, (tuple(s) for s in out_shapes)))


def network(spec: VGGSpec, layers: Sequence[str], pooling: str = "avg",
            precision: Precision = FP32) -> Symbol:
    """The bare network: VGG's features at ``layers`` as one group (fp32 outputs), its
    convolutions in ``precision``. What an epoch costs without the loss is this
    graph's forward and backward."""
    feats = feature_symbols(spec, layers, pooling)
    return convert(mx.sym.Group([feats[name] for name in layers]), precision)


def bind_image(symbol: Symbol, params: Mapping[str, NDArray], shape: Tuple[int, ...], ctx: Any,
               dtype: Any = np.float32) -> Any:
    """An executor of ``symbol`` whose only gradient is that of ``data`` (of ``shape``);
    the weights are the shared ``params``, every other input is zeros of ``dtype``."""
    arg_shapes, _, _ = symbol.infer_shape(data=shape)
    args = {}
    for name, arg_shape in zip(symbol.list_arguments(), arg_shapes):
        args[name] = params[name] if name in params else mx.nd.zeros(arg_shape, ctx=ctx, dtype=dtype)
    grad_req = {name: ("write" if name == "data" else "null") for name in args}
    grads = {"data": mx.nd.zeros(shape, ctx=ctx, dtype=dtype)}
    return symbol.bind(ctx, args=args, args_grad=grads, grad_req=grad_req)


def positions(spec: VGGSpec, shape: Tuple[int, int], layers: Sequence[str], pooling: str = "avg",
              ) -> Dict[str, int]:
    """H·W of each layer's feature map for an image of ``shape``, by shape inference alone
    (nothing is bound)."""
    shapes = _shapes(feature_symbols(spec, layers, pooling), (1, 3) + tuple(shape))
    return {layer: shapes[layer][2] * shapes[layer][3] for layer in layers}


class StyleGraph:
    """The bound objective for one image shape.

    ``data`` is the image being optimised (bound in place, so an optimiser that
    updates it needs no copy); ``grad`` receives the gradient of the weighted terms.
    With a low ``precision`` the network runs in it; inputs and outputs stay fp32.
    """

    def __init__(self, spec: VGGSpec, params: Mapping[str, NDArray], shape: Tuple[int, int],
                 style_layers: Sequence[str], content_layers: Sequence[str],
                 ctx: Any, pooling: str = "avg",
                 dtype: Any = np.float32, normalize_gradients: bool = False,
                 precision: Precision = FP32) -> None:
        check_layers(spec, style_layers, "--style-layers")
        check_layers(spec, content_layers, "--content-layers")
        self.shape = (1, 3) + tuple(shape)
        self.pooling, self.precision = pooling, precision
        self.style_layers, self.content_layers = tuple(style_layers), tuple(content_layers)
        feats = feature_symbols(spec, self.style_layers + self.content_layers, pooling)
        shapes = _shapes(feats, self.shape)
        self.terms: List[LossTerm] = []
        watched: List[Symbol] = []
        self.normalize_gradients = normalize_gradients

        def term_input(layer: str, name: str) -> Symbol:
            return normalized(feats[layer], name) if normalize_gradients else feats[layer]

        for layer in self.style_layers:
            term, g, _ = style_term(layer, term_input(layer, f"style:{layer}"), shapes[layer])
            self.terms.append(term)
            watched.append(g)
        for layer in self.content_layers:
            term, _ = content_term(layer, term_input(layer, f"content:{layer}"))
            self.terms.append(term)
            watched.append(feats[layer])
        # The watched outputs (Gram matrices, content features) give the targets; BlockGrad
        # keeps them out of the backward pass.
        outputs = [t.symbol for t in self.terms] + [mx.sym.BlockGrad(w) for w in watched]
        symbol = convert(mx.sym.Group(outputs), precision)
        self._executor = bind_image(symbol, params, self.shape, ctx, dtype)
        self.data: NDArray = self._executor.arg_dict["data"]
        self.grad: NDArray = self._executor.grad_dict["data"]
        self._head_grads = [mx.nd.zeros((1,), ctx=ctx, dtype=dtype) for _ in self.terms]
        self._weights = np.zeros(len(self.terms))
        self.set_weights(style=1.0, content=1.0)

    def set_weights(self, style: float, content: float,
                    layer_weights: Optional[Mapping[str, float]] = None) -> None:
        """The user's style and content weights, and optional per-term weights keyed by
        term name (the backward pass's head gradients)."""
        by_kind = {"style": style, "content": content}
        per_term = layer_weights or {}
        self._weights = np.array([by_kind[t.kind] * t.scale * per_term.get(t.name, 1.0)
                                  for t in self.terms])
        for head, weight in zip(self._head_grads, self._weights):
            head[:] = weight
        if self.normalize_gradients:
            for term, weight in zip(self.terms, self._weights):
                self._executor.arg_dict[f"norm_weight_{term.name.replace(':', '_')}"][:] = weight

    @property
    def term_names(self) -> List[str]:
        return [t.name for t in self.terms]

    def _watched(self, image: np.ndarray) -> List[NDArray]:
        self.data[:] = image
        self._executor.forward(is_train=False)
        return self._executor.outputs[len(self.terms):]

    def style_targets(self, style_image: np.ndarray) -> List[np.ndarray]:
        """The Gram matrices of ``style_image`` ((1, 3, H, W), network units), one per layer."""
        return [g.asnumpy() for g in self._watched(style_image)[: len(self.style_layers)]]

    def set_targets(self, style_grams: Sequence[np.ndarray], content_image: np.ndarray) -> None:
        """Bind the style targets (from :meth:`style_targets`, perhaps cached) and the
        content targets computed from ``content_image``."""
        args = self._executor.arg_dict
        # astype copies (the watched outputs are overwritten by the next forward pass) and
        # brings a float16 feature map (fp16 graphs keep BlockGrad in fp16) to fp32.
        contents = [c.astype(np.float32) for c in self._watched(content_image)[len(self.style_layers):]]
        for layer, g in zip(self.style_layers, style_grams):
            args[f"target_gram_{layer}"][:] = g
        for layer, c in zip(self.content_layers, contents):
            c.copyto(args[f"target_content_{layer}"])

    def forward_backward(self) -> NDArray:
        """Loss terms (raw, unweighted, as one NDArray) at ``data``; gradient into ``grad``."""
        self._executor.forward(is_train=True)
        self._executor.backward(self._head_grads)
        return mx.nd.concat(*self._executor.outputs[: len(self.terms)], dim=0)

    def weighted(self, raw_terms: np.ndarray) -> Dict[str, float]:
        """``{term name: weight * raw value}`` from what :meth:`forward_backward` returned."""
        return dict(zip(self.term_names, (self._weights * raw_terms).tolist()))
