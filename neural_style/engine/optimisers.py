"""The optimisers, by name: the one registry that the configuration (choices, default
learning rates, help) and the optimisation loop (which driver, which MXNet optimiser)
both read. No MXNet here, so :mod:`neural_style.config` stays cheap to import."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional

#: The example's NAG momentum and weight decay.
MOMENTUM = 0.95
WEIGHT_DECAY = 1e-4


@dataclass(frozen=True)
class Optimiser:
    """One choice of ``--optimizer``."""

    default_lr: float  # the learning rate when --lr is not given
    mxnet: Optional[str]  # the MXNet optimiser stepping on the clipped gradient; None: L-BFGS
    options: Mapping[str, float] = field(default_factory=dict)  # its arguments besides the lr
    help: str = ""
    state_arrays: int = 0  # image-sized arrays in its state (a tiled size keeps them)


#: NAG: the example's 0.001 (its gradient is huge and clipped); Adam: steps of a few
#: intensity levels in [0, 255], as jcjohnson/neural-style's 1e1; L-BFGS searches its own
#: steps (its rate is not used).
OPTIMISERS: Dict[str, Optimiser] = {
    "nag": Optimiser(
        0.001, "nag", {"momentum": MOMENTUM, "wd": WEIGHT_DECAY}, "the example's", state_arrays=1
    ),
    "adam": Optimiser(10.0, "adam", state_arrays=2),
    "lbfgs": Optimiser(1.0, None, help="scipy's L-BFGS-B, the pixel range as bounds"),
}
