"""VGG19's shape as data: the layers, their parameters, and which are needed."""

from __future__ import annotations

import numpy as np
import pytest

from neural_style.engine.vgg import POOLING, VGG19, check_layers
from neural_style.errors import ConfigError
from tests.helpers import TINY


def test_vgg19_is_the_published_network() -> None:
    """16 convolutions, 20,024,384 parameters (Keras's VGG19 without its top), a pool
    before each block after the first."""
    assert len(VGG19.layers) == 16
    assert sum(int(np.prod(s)) for s in VGG19.param_shapes().values()) == 20_024_384
    assert [layer.name for layer in VGG19.layers if layer.pool_before] == [
        "conv2_1",
        "conv3_1",
        "conv4_1",
        "conv5_1",
    ]
    assert VGG19.param_shapes()["conv1_1_weight"] == (64, 3, 3, 3)
    assert VGG19.param_shapes()["conv5_4_bias"] == (512,)


def test_the_tiny_spec_has_vgg19s_names() -> None:
    assert TINY.relu_names() == VGG19.relu_names()


def test_only_the_layers_needed_are_built() -> None:
    assert [layer.name for layer in VGG19.layers_up_to(["relu2_1", "relu1_1"])] == [
        "conv1_1",
        "conv1_2",
        "conv2_1",
    ]
    assert len(VGG19.layers_up_to(["relu5_1"])) == 13


def test_layer_names_are_checked_with_a_suggestion() -> None:
    check_layers(VGG19, ["relu1_1", "relu5_4"], "--style-layers")
    with pytest.raises(ConfigError, match=r"--content-layers: no layer 'relu4-2'; did you mean"):
        check_layers(VGG19, ["relu4-2"], "--content-layers")


def test_pooling_kinds() -> None:
    assert POOLING == ("avg", "max")  # avg first: the example's default
