from __future__ import annotations

import dataclasses
import math

import pytest

from neural_style.config import CONTENT_LAYERS, STYLE_LAYERS, Config, field_types
from neural_style.engine.denoise import DENOISERS
from neural_style.engine.optimisers import OPTIMISERS
from neural_style.engine.vgg import POOLING
from neural_style.errors import ConfigError, ExitCode

#: The MXNet example's flag defaults (nstyle.py at cbbb864005), which we keep.
EXAMPLE_DEFAULTS = {
    "model": "vgg19",
    "stop_eps": 0.005,
    "content_weight": 10.0,
    "style_weight": 1.0,
    "tv_weight": 0.01,
    "max_num_epochs": 1000,
    "max_long_edge": 600,
    "learning_rate": 0.001,
    "output_dir": "output/",
    "save_epochs": 50,
    "lr_sched_delay": 75,
    "lr_sched_factor": 0.9,
}


def test_defaults_are_the_examples() -> None:
    cfg = Config()
    for name, value in EXAMPLE_DEFAULTS.items():
        assert getattr(cfg, name) == value, name
    assert (
        cfg.style_layers == STYLE_LAYERS == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    )
    assert cfg.content_layers == CONTENT_LAYERS == ("relu4_2",)


def test_a_config_is_a_value() -> None:
    """Equal settings make equal, hashable configs; replace() leaves the original alone."""
    base = Config(content_weight=5.0)
    assert base == Config(content_weight=5.0) and hash(base) == hash(Config(content_weight=5.0))
    changed = base.replace(lr=0.5)
    assert (base.lr, changed.lr, changed.content_weight) == (None, 0.5, 5.0)
    assert len({base, changed, Config(content_weight=5.0)}) == 2


def test_vgg_alias_and_unknown_model() -> None:
    assert Config(model="vgg").model == "vgg19"
    with pytest.raises(ConfigError, match="unknown model"):
        Config(model="resnet")


def test_denoise_strength_defaults_per_filter() -> None:
    assert Config().denoise_strength == 0.2
    assert Config(denoise="tv").denoise_strength == 0.02
    assert Config(denoise="tv", remove_noise=0.1).denoise_strength == 0.1
    assert Config(denoise="none").denoise_strength == 0.0


@pytest.mark.parametrize(
    "changes, field",
    [
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
    ],
)
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


@pytest.mark.parametrize("name", list(OPTIMISERS))
def test_every_optimiser_is_a_choice_with_its_default_rate(name: str) -> None:
    cfg = Config(optimizer=name)
    assert cfg.learning_rate == OPTIMISERS[name].default_lr
    assert Config(optimizer=name, lr=0.5).learning_rate == 0.5


def test_every_registered_choice_is_accepted_and_others_are_not() -> None:
    for name, denoiser in DENOISERS.items():
        assert Config(denoise=name).denoise_strength == denoiser.default_strength
    for kind in POOLING:
        assert Config(pooling=kind).pooling == kind
    with pytest.raises(ConfigError, match="^pooling: choose from avg, max"):
        Config(pooling="min")
    with pytest.raises(ConfigError, match="^optimizer: choose from nag, adam, lbfgs"):
        Config(optimizer="sgd")


def test_field_types_unwrap_optional() -> None:
    types = field_types()
    assert types["lr"] is float and types["seed"] is int and types["init_image"] is str
    assert types["max_num_epochs"] is int and types["original_colors"] is bool
    assert set(types) == {f.name for f in dataclasses.fields(Config)}
