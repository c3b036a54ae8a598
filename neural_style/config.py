"""The one frozen configuration object, and the single source of every default.

The CLI builds its flags from these fields (name, type, default, help), so the
defaults shown by ``--help`` are the ones the library uses and cannot drift apart.
Names and defaults are those of MXNet's ``example/neural-style/nstyle.py``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

from .errors import ConfigError
from .vgg import MIN_EDGE

#: Style and content layers of Gatys et al. (2015), as the MXNet example uses them.
STYLE_LAYERS: Tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYERS: Tuple[str, ...] = ("relu4_2",)

#: Denoising filters and, for each, the strength used when --remove-noise is not given.
#: Gaussian: sigma in pixels; 0.5 removes the isolated dots the noise start leaves
#: without softening strokes. TV: Chambolle's weight on the [0, 1] scale, the example's 0.02.
DENOISE_DEFAULT_STRENGTH: Dict[str, float] = {"gaussian": 0.5, "tv": 0.02, "none": 0.0}


MODEL_ALIASES: Dict[str, str] = {"vgg19": "vgg19", "vgg": "vgg19"}


def _opt(default: Any, help: str, **cli: Any) -> Any:
    """A field with its help text and CLI details (aliases, metavar, choices)."""
    return field(default=default, metadata={"help": help, **cli})


@dataclass(frozen=True)
class Config:
    """How to stylize: every tunable of the algorithm and of its outputs."""

    model: str = _opt("vgg19", "the pretrained network (vgg19; 'vgg' is accepted)",
                      choices=tuple(MODEL_ALIASES))
    stop_eps: float = _opt(0.005, "stop when the relative change of the image is below this")
    content_weight: float = _opt(10.0, "weight of the content loss")
    style_weight: float = _opt(1.0, "weight of the style loss")
    tv_weight: float = _opt(0.01, "weight of the total-variation smoothing (0 disables)")
    max_num_epochs: int = _opt(1000, "the maximal number of epochs (updates)")
    max_long_edge: int = _opt(600, "resize the content image so its long edge is this many pixels")
    lr: float = _opt(0.001, "the initial learning rate")
    lr_sched_delay: int = _opt(75, "epochs between learning-rate decreases")
    lr_sched_factor: float = _opt(0.9, "factor the learning rate is multiplied by on schedule")
    save_epochs: int = _opt(50, "save a snapshot every N epochs (0: none)")
    output_dir: str = _opt("output/", "folder for snapshots (e_<epoch>.jpg) and the default output",
                           aliases=("--output_dir",), metavar="DIR")
    denoise: str = _opt("gaussian", "denoising filter for snapshots and the final image",
                        choices=tuple(DENOISE_DEFAULT_STRENGTH))
    remove_noise: Optional[float] = _opt(
        None, "denoising strength: Gaussian sigma in pixels, or TV weight "
        "(default: %s)" % ", ".join(f"{k} {v:g}" for k, v in DENOISE_DEFAULT_STRENGTH.items() if v))
    seed: Optional[int] = _opt(None, "random seed for the starting noise (default: random)")
    content_layers: Tuple[str, ...] = _opt(CONTENT_LAYERS, "content layers", cli=False)
    style_layers: Tuple[str, ...] = _opt(STYLE_LAYERS, "style layers", cli=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", _canonical_model(self.model))
        for check in _CHECKS:
            check(self)

    @property
    def denoise_strength(self) -> float:
        """The strength in force: --remove-noise, or the filter's own default."""
        if self.remove_noise is not None:
            return self.remove_noise
        return DENOISE_DEFAULT_STRENGTH[self.denoise]

    def replace(self, **changes: Any) -> "Config":
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)


def _canonical_model(name: str) -> str:
    try:
        return MODEL_ALIASES[name]
    except KeyError:
        raise ConfigError(f"--model: unknown model {name!r}; choose from "
                          f"{', '.join(MODEL_ALIASES)}") from None


def _require(condition: bool, flag: str, message: str) -> None:
    if not condition:
        raise ConfigError(f"--{flag.replace('_', '-')}: {message}")


def _finite(cfg: Config) -> None:
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, float):
            _require(math.isfinite(value), f.name, f"must be a finite number, not {value}")


def _ranges(cfg: Config) -> None:
    for name in ("content_weight", "style_weight", "tv_weight"):
        _require(getattr(cfg, name) >= 0, name, "must be 0 or more")
    _require(cfg.content_weight > 0 or cfg.style_weight > 0, "style_weight",
             "content and style weights are both 0: nothing to optimise")
    _require(cfg.stop_eps > 0, "stop_eps", "must be above 0 (try 0.005)")
    _require(cfg.lr > 0, "lr", "must be above 0 (try 0.001)")
    _require(cfg.max_num_epochs >= 1, "max_num_epochs", "must be at least 1")
    _require(cfg.max_long_edge >= MIN_EDGE, "max_long_edge",
             f"must be at least {MIN_EDGE} pixels (VGG19 halves the image 4 times)")
    _require(cfg.lr_sched_delay >= 1, "lr_sched_delay", "must be at least 1")
    _require(0 < cfg.lr_sched_factor <= 1, "lr_sched_factor", "must be in (0, 1]")
    _require(cfg.save_epochs >= 0, "save_epochs", "must be 0 (no snapshots) or more")
    _require(cfg.denoise in DENOISE_DEFAULT_STRENGTH, "denoise",
             f"unknown filter {cfg.denoise!r}; choose from {', '.join(DENOISE_DEFAULT_STRENGTH)}")
    _require(cfg.remove_noise is None or cfg.remove_noise >= 0, "remove_noise", "must be 0 or more")
    _require(bool(cfg.style_layers) or bool(cfg.content_layers), "style_layers", "no layers given")


_CHECKS = (_finite, _ranges)
