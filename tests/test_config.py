from __future__ import annotations

import dataclasses
import math
import re
from typing import Dict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_style.config import (
    CONTENT_LAYERS,
    RANGES,
    STYLE_LAYERS,
    Config,
    example,
    field_types,
    parse_field,
)
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


def test_a_tile_below_the_minimum_says_both_fixes_with_numbers() -> None:
    """--tile 70 with the default margin and overlap (16 each): raise the tile to 80, or
    lower the margin and overlap to 27 together; --tile 60 gets only the first, as a tile
    under 64 px with a thinner guard still fails on a photo (its whole-image start would
    be too thin: a reviewer's finding)."""
    with pytest.raises(ConfigError) as raised:
        Config(tile=70)
    assert str(raised.value) == (
        "tile: must be at least 80 pixels (a 16-pixel core with tile_margin 16 and "
        "tile_overlap 16 on both sides), not 70; raise tile to 80, or lower tile_margin and "
        "tile_overlap to at most 27 together (e.g. tile_margin 13 tile_overlap 14)"
    )
    with pytest.raises(ConfigError) as raised:
        Config(tile=60)
    assert str(raised.value).endswith("not 60; raise tile to 80")


@settings(max_examples=200, deadline=None)
@given(tile=st.integers(16, 600), margin=st.integers(0, 300), overlap=st.integers(0, 300))
def test_every_fix_a_tile_error_names_is_valid(tile: int, margin: int, overlap: int) -> None:
    import re

    try:
        Config(tile=tile, tile_margin=margin, tile_overlap=overlap)
        return
    except ConfigError as err:
        message = str(err)
    raised = re.search(r"raise tile to (\d+)", message)
    lowered = re.search(r"tile_margin (\d+)( and)? tile_overlap (\d+)[)]?$", message)
    assert raised, message
    Config(tile=int(raised.group(1)), tile_margin=margin, tile_overlap=overlap)
    if tile < 64:  # a thinner guard would leave a tile too small for any photo's start
        assert lowered is None and "or set" not in message, message
        return
    assert lowered, message
    m, o = int(lowered.group(1)), int(lowered.group(3))
    assert m <= margin and o <= overlap
    Config(tile=tile, tile_margin=m, tile_overlap=o)


def _numeric_fields() -> Dict[str, type]:
    types = field_types()
    return {name: types[name] for name in RANGES if types[name] in (int, float)}


@pytest.mark.parametrize("name", list(_numeric_fields()))
def test_every_numeric_fields_example_is_a_valid_value(name: str) -> None:
    """The example a bad number's message shows parses and is within range."""
    value = parse_field(name, example(name))
    Config(**{name: value})
    with pytest.raises(ConfigError, match=f"such as {re.escape(example(name))}"):
        parse_field(name, "x")
