from __future__ import annotations

import dataclasses
import math

import pytest

from neural_style.config import CONTENT_LAYERS, STYLE_LAYERS, Config
from neural_style.errors import ConfigError, ExitCode

#: The MXNet example's flag defaults (nstyle.py at cbbb864005), which we keep.
EXAMPLE_DEFAULTS = {
    "model": "vgg19", "stop_eps": 0.005, "content_weight": 10.0, "style_weight": 1.0,
    "tv_weight": 0.01, "max_num_epochs": 1000, "max_long_edge": 600, "learning_rate": 0.001,
    "output_dir": "output/", "save_epochs": 50, "lr_sched_delay": 75, "lr_sched_factor": 0.9,
}


def test_defaults_are_the_examples() -> None:
    cfg = Config()
    for name, value in EXAMPLE_DEFAULTS.items():
        assert getattr(cfg, name) == value, name
    assert cfg.style_layers == STYLE_LAYERS == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert cfg.content_layers == CONTENT_LAYERS == ("relu4_2",)


def test_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config().lr = 1.0  # type: ignore[misc]


def test_vgg_alias_and_unknown_model() -> None:
    assert Config(model="vgg").model == "vgg19"
    with pytest.raises(ConfigError, match="unknown model"):
        Config(model="resnet")


def test_denoise_strength_defaults_per_filter() -> None:
    assert Config().denoise_strength == 0.5
    assert Config(denoise="tv").denoise_strength == 0.02
    assert Config(denoise="tv", remove_noise=0.1).denoise_strength == 0.1
    assert Config(denoise="none").denoise_strength == 0.0


@pytest.mark.parametrize("changes, field", [
    ({"stop_eps": 0}, "stop_eps"),
    ({"stop_eps": -1.0}, "stop_eps"),
    ({"lr": 0.0}, "lr"),
    ({"lr": math.nan}, "lr"),
    ({"content_weight": math.inf}, "content_weight"),
    ({"style_weight": -1.0}, "style_weight"),
    ({"content_weight": 0.0, "style_weight": 0.0}, "style_weight"),
    ({"max_long_edge": 8}, "max_long_edge"),
    ({"max_num_epochs": 0}, "max_num_epochs"),
    ({"lr_sched_factor": 1.5}, "lr_sched_factor"),
    ({"save_epochs": -1}, "save_epochs"),
    ({"remove_noise": -0.1}, "remove_noise"),
    ({"denoise": "median"}, "denoise"),
])
def test_bad_values_name_their_parameter(changes: dict, field: str) -> None:
    """A Python caller reads the keyword it passed (the CLI maps it to a flag)."""
    with pytest.raises(ConfigError) as err:
        Config(**changes)
    assert err.value.field == field
    assert str(err.value).startswith(field + ":")
    assert err.value.exit_code == ExitCode.USAGE


def test_replace_validates() -> None:
    assert Config().replace(lr=0.5).lr == 0.5
    with pytest.raises(ConfigError):
        Config().replace(lr=-0.5)
