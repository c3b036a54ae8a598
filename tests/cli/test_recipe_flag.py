"""--recipe: named sets of Config values that explicit flags override."""

from __future__ import annotations

from pathlib import Path

import pytest

from neural_style import Config
from neural_style.cli.main import build_parser, parse
from neural_style.config import RECIPES, describe_recipe
from neural_style.errors import ConfigError
from tests.helpers import ROOT


def request_config(tmp_path: Path, *flags: str) -> Config:
    args = ["--content-image", str(tmp_path / "c.png"), "--style-image", str(tmp_path / "s.png")]
    (tmp_path / "c.png").write_bytes(b"")
    (tmp_path / "s.png").write_bytes(b"")
    return parse(args + list(flags)).jobs[0].config


def test_faithful_is_every_default() -> None:
    assert RECIPES["faithful"] == {}
    assert Config.from_recipe("faithful") == Config() == Config.from_recipe()


def test_fast_sets_its_values_and_overrides_win() -> None:
    fast = Config.from_recipe("fast")
    for name, value in RECIPES["fast"].items():
        assert getattr(fast, name) == value
    assert fast.optimizer == "adam" and fast.init == "content" and fast.loss == "relative"
    # relative weights: the style's mean relative error counts ten times the content's
    assert (fast.content_weight, fast.style_weight, fast.tv_weight) == (1.0, 10.0, 0.0)
    mine = Config.from_recipe("fast", max_num_epochs=7, max_long_edge=128)
    assert mine.max_num_epochs == 7 and mine.max_long_edge == 128 and mine.optimizer == "adam"


def test_unknown_recipe() -> None:
    with pytest.raises(
        ConfigError, match="--recipe: unknown recipe 'quick'; choose from faithful, fast"
    ):
        Config.from_recipe("quick")


def test_cli_recipe_and_explicit_flags(tmp_path: Path) -> None:
    assert request_config(tmp_path) == Config()
    assert request_config(tmp_path, "--recipe", "fast") == Config.from_recipe("fast")
    # a flag given explicitly wins, even when it repeats the default value
    default_epochs = str(Config().max_num_epochs)
    cfg = request_config(
        tmp_path, "--recipe", "fast", "--max-num-epochs", default_epochs, "--optimizer", "lbfgs"
    )
    assert cfg.max_num_epochs == Config().max_num_epochs and cfg.optimizer == "lbfgs"
    assert cfg.init == "content"  # the rest of the recipe stays
    assert request_config(tmp_path, "--max-num-epochs", "9", "--recipe", "fast").max_num_epochs == 9


def test_help_lists_what_each_recipe_sets() -> None:
    text = " ".join(build_parser().format_help().split())
    for name in RECIPES:
        assert f"{name}: {describe_recipe(name)}" in text
    for name, value in RECIPES["fast"].items():
        assert f"{name.replace('_', '-')}={value}" in text


def test_readme_lists_what_each_recipe_sets() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in RECIPES:
        assert f"`--recipe {name}`" in readme
    for name, value in RECIPES["fast"].items():
        assert f"--{name.replace('_', '-')} {value}" in readme
