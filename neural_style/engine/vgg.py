"""The shape of VGG19 (Simonyan & Zisserman, 2014), as data.

The graph builder, the weight loaders and the tests all read the architecture from
a :class:`VGGSpec`; the tests use the same code with a tiny spec of a few channels.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

from ..errors import ConfigError

#: RGB mean of ImageNet, subtracted from inputs in [0, 255] (Caffe's VGG convention).
RGB_MEAN: Tuple[float, float, float] = (123.68, 116.779, 103.939)

#: The network halves the image four times before relu5_1 (2**4): each side needs this.
MIN_EDGE = 16

#: Kinds of 2x2 pooling between blocks: average (the example's, and Gatys et al.'s choice
#: for image synthesis) or VGG's own max.
POOLING: Tuple[str, ...] = ("avg", "max")


@dataclass(frozen=True)
class ConvLayer:
    name: str  # conv<block>_<index>, as the MXNet example names them
    in_channels: int
    out_channels: int
    pool_before: bool  # an average/max pool of 2x2 precedes this convolution

    @property
    def relu(self) -> str:
        return "relu" + self.name[len("conv") :]

    @property
    def weight_shape(self) -> Tuple[int, int, int, int]:
        return (self.out_channels, self.in_channels, 3, 3)


@dataclass(frozen=True)
class VGGSpec:
    """Blocks of (channels, convolutions); every block after the first starts with a pool."""

    blocks: Tuple[Tuple[int, int], ...]
    in_channels: int = 3

    @property
    def layers(self) -> List[ConvLayer]:
        layers, channels = [], self.in_channels
        for b, (width, count) in enumerate(self.blocks, start=1):
            for i in range(1, count + 1):
                layers.append(ConvLayer(f"conv{b}_{i}", channels, width, b > 1 and i == 1))
                channels = width
        return layers

    def param_shapes(self) -> Dict[str, Tuple[int, ...]]:
        """``{"conv1_1_weight": (64, 3, 3, 3), "conv1_1_bias": (64,), ...}``."""
        shapes: Dict[str, Tuple[int, ...]] = {}
        for layer in self.layers:
            shapes[f"{layer.name}_weight"] = layer.weight_shape
            shapes[f"{layer.name}_bias"] = (layer.out_channels,)
        return shapes

    def relu_names(self) -> List[str]:
        return [layer.relu for layer in self.layers]

    def layers_up_to(self, relus: Sequence[str]) -> List[ConvLayer]:
        """The convolutions needed to compute every layer in ``relus``."""
        names = self.relu_names()
        deepest = max(names.index(r) for r in relus)
        return self.layers[: deepest + 1]


def check_layers(spec: VGGSpec, names: Sequence[str], field: str) -> None:
    """A :class:`ConfigError` with a "did you mean" for any name that is not a layer."""
    known = spec.relu_names()
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; choose from {', '.join(known)}"
            raise ConfigError(f"no layer {name!r}{hint}", field=field)


#: The 16 convolutions of VGG19 (the "notop" part: no fully connected layers).
VGG19 = VGGSpec(blocks=((64, 2), (128, 2), (256, 4), (512, 4), (512, 4)))
