"""The optimiser registry: each choice is what the configuration and the loop use."""

from __future__ import annotations

import pytest

from neural_style.config import Config
from neural_style.engine.optimise import make_optimizer
from neural_style.engine.optimisers import OPTIMISERS


@pytest.mark.parametrize("name", [n for n, o in OPTIMISERS.items() if o.mxnet])
def test_each_first_order_optimiser_is_mxnets(name: str) -> None:
    opt = make_optimizer(Config(optimizer=name, lr=0.25))
    assert type(opt).__name__.lower() == name and opt.learning_rate == 0.25


def test_lbfgs_is_not_an_mxnet_optimiser() -> None:
    assert OPTIMISERS["lbfgs"].mxnet is None
    with pytest.raises(ValueError, match="not an MXNet optimiser"):
        make_optimizer(Config(optimizer="lbfgs"))


def test_the_default_rates_are_the_documented_ones() -> None:
    assert {name: o.default_lr for name, o in OPTIMISERS.items()} == {
        "nag": 0.001,
        "adam": 10.0,
        "lbfgs": 1.0,
    }
