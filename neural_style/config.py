"""The one frozen configuration object, and the single source of every default.

The CLI builds its flags from these fields (name, type, default, help), so the
defaults shown by ``--help`` are the ones the library uses and cannot drift apart.
Names and defaults are those of MXNet's ``example/neural-style/nstyle.py``.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

from .engine.denoise import DENOISERS
from .engine.optimisers import OPTIMISERS
from .engine.precision import PRECISIONS
from .engine.vgg import MIN_EDGE, POOLING
from .errors import ConfigError

#: Style and content layers of Gatys et al. (2015), as the MXNet example uses them.
STYLE_LAYERS: Tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYERS: Tuple[str, ...] = ("relu4_2",)

MODEL_ALIASES: Dict[str, str] = {"vgg19": "vgg19", "vgg": "vgg19"}

INITS = ("noise", "content", "image")


def size(text: str) -> int:
    """``"2G"`` -> bytes, for --max-memory."""
    from .engine.memory import parse_size

    return parse_size(text)


def _names(text: str) -> Tuple[str, ...]:
    """``"relu1_1:2, relu2_1"`` -> ``("relu1_1:2", "relu2_1")``: layers, each with an
    optional weight after a colon."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _floats(text: str) -> Tuple[float, ...]:
    return tuple(float(part) for part in text.split(",") if part.strip())


def layer_names(specs: Tuple[str, ...]) -> Tuple[str, ...]:
    return tuple(spec.split(":")[0] for spec in specs)


def layer_weights(specs: Tuple[str, ...]) -> Tuple[float, ...]:
    """Each layer's weight (1 where none is given)."""
    out = []
    for spec in specs:
        name, _, weight = spec.partition(":")
        try:
            out.append(float(weight) if weight else 1.0)
        except ValueError:
            raise ConfigError(f"layer {spec!r}: the weight after ':' must be a number") from None
    return tuple(out)


def _listed(helps: Mapping[str, str]) -> str:
    """``{"a": "x", "b": "", "c": ""}`` -> ``"a (x), b, or c"``."""
    items = [f"{name} ({text})" if text else name for name, text in helps.items()]
    return ", ".join(items[:-1]) + ", or " + items[-1] if len(items) > 2 else " or ".join(items)


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
    lr: Optional[float] = _opt(None, "the initial learning rate (default: " + ", ".join(
        f"{name} {o.default_lr:g}" for name, o in OPTIMISERS.items() if o.mxnet) + ")")
    lr_sched_delay: int = _opt(75, "epochs between learning-rate decreases")
    lr_sched_factor: float = _opt(0.9, "factor the learning rate is multiplied by on schedule")
    save_epochs: int = _opt(50, "save a snapshot every N epochs (0: none)")
    output_dir: str = _opt("output/", "folder for snapshots (e_<epoch>.jpg) and the default output",
                           aliases=("--output_dir",), metavar="DIR")
    denoise: str = _opt("gaussian", "denoising filter for snapshots and the final image",
                        choices=tuple(DENOISERS))
    remove_noise: Optional[float] = _opt(
        None, "denoising strength: Gaussian sigma in pixels, or TV weight "
        "(default: %s)" % ", ".join(f"{k} {d.default_strength:g}" for k, d in DENOISERS.items()
                                    if d.default_strength))
    seed: Optional[int] = _opt(None, "random seed for the starting noise (default: random)")
    optimizer: str = _opt("nag", _listed({name: o.help for name, o in OPTIMISERS.items()}),
                          choices=tuple(OPTIMISERS))
    init: str = _opt("noise", "start from white noise (the example), the content image, or "
                     "--init-image", choices=INITS)
    init_image: Optional[str] = _opt(None, "the starting image for --init image", metavar="PATH")
    scales: int = _opt(1, "optimise at this many sizes, smallest first, each warm-starting the "
                       "next, up to --max-long-edge; each with its own --max-num-epochs")
    start_long_edge: Optional[int] = _opt(None, "the long edge of the first scale (default: "
                                          "--max-long-edge halved per extra scale)")
    tile: Optional[int] = _opt(None, "optimise every size whose image is larger than N x N "
                               "pixels in overlapping tiles of N x N, so memory is bounded by "
                               "the tile, not the image (a whole-image composition comes first)")
    max_memory: Optional[int] = _opt(None, "pick --tile from a memory budget such as 2G or "
                                     "1500M (sizes that fit are not tiled)", parse=size,
                                     metavar="SIZE")
    tile_sweeps: int = _opt(2, "passes over the tiles at each tiled size, the grid shifted "
                            "each time; each tile gets --max-num-epochs / N epochs a pass")
    tile_margin: int = _opt(16, "pixels of context around a tile, seen but not changed")
    tile_overlap: int = _opt(16, "pixels over which neighbouring tiles blend, on each side "
                             "of their boundary")
    average_decay: float = _opt(0.0, "exponential moving average of the iterates as the result, "
                                "with this decay, e.g. 0.9 (0: off)")
    stop_window: int = _opt(1, "stop when the mean eps of the last K epochs is below --stop-eps "
                            "(1: the example's rule)", metavar="K")
    style_blend_weights: Optional[Tuple[float, ...]] = _opt(
        None, "weights of several style images given as one comma-separated --style-image, "
        "normalised (default: equal)", parse=_floats, metavar="W1,W2")
    style_scale: Optional[float] = _opt(None, "resize the style image to this times the output's "
                                        "long edge, keeping its aspect (default: stretched to the "
                                        "content's shape, as the example)")
    original_colors: bool = _opt(False, "keep the content's colours (luminance transfer in YCbCr)")
    pooling: str = _opt("avg", "pooling in VGG19: avg (the example's) or max", choices=POOLING)
    content_layers: Tuple[str, ...] = _opt(CONTENT_LAYERS, "content layers, each with an optional "
                                           ":weight", parse=_names, metavar="L[:W],...")
    style_layers: Tuple[str, ...] = _opt(STYLE_LAYERS, "style layers, each with an optional "
                                         ":weight", parse=_names, metavar="L[:W],...")
    normalize_gradients: bool = _opt(False, "scale each loss term's gradient to unit L1 norm "
                                     "(jcjohnson/neural-style's -normalize_gradients)")
    precision: str = _opt("auto", "arithmetic of the network's convolutions: auto (bf16 on a CPU "
                          "with avx512_bf16 or amx_bf16, fp16 on a GPU of compute capability "
                          "7.0+, else fp32), fp32, bf16 or fp16; the image, its gradient, the "
                          "Gram matrices and the loss stay fp32", choices=PRECISIONS)
    progress_sheet: bool = _opt(False, "also write progress.jpg: the snapshots tiled in order, "
                                "with their epochs")
    loss_plot: bool = _opt(False, "also write loss.png: loss terms and eps per epoch (needs "
                           "matplotlib: pip install 'neural-style[plot]')")

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", _canonical_model(self.model))
        for check in _CHECKS:
            check(self)

    @property
    def learning_rate(self) -> float:
        """The rate in force: --lr, or the optimiser's own default."""
        return self.lr if self.lr is not None else OPTIMISERS[self.optimizer].default_lr

    @property
    def denoise_strength(self) -> float:
        """The strength in force: --remove-noise, or the filter's own default."""
        if self.remove_noise is not None:
            return self.remove_noise
        return DENOISERS[self.denoise].default_strength

    @property
    def most_scales(self) -> int:
        """The most sizes a run optimises: --scales, and the whole-image composition size
        that tiling puts in front when the first size would be tiled."""
        return self.scales + (self.tile is not None or self.max_memory is not None)

    def replace(self, **changes: Any) -> "Config":
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)


def field_types() -> Dict[str, Any]:
    """Each field's type, ``Optional[X]`` unwrapped to ``X`` (what a flag or a manifest
    column parses its text into)."""
    hints = typing.get_type_hints(Config)
    out = {}
    for f in dataclasses.fields(Config):
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = typing.get_origin(hint) is typing.Union and len(args) == 1
        out[f.name] = args[0] if optional else hint
    return out


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
        values = value if isinstance(value, tuple) else (value,)
        for v in values:
            if isinstance(v, float):
                _require(math.isfinite(v), f.name, f"must be a finite number, not {v}")


def _ranges(cfg: Config) -> None:
    for name in ("content_weight", "style_weight", "tv_weight"):
        _require(getattr(cfg, name) >= 0, name, "must be 0 or more")
    _require(cfg.content_weight > 0 or cfg.style_weight > 0, "style_weight",
             "content and style weights are both 0: nothing to optimise")
    _require(cfg.stop_eps > 0, "stop_eps", "must be above 0 (try 0.005)")
    _require(cfg.lr is None or cfg.lr > 0, "lr", "must be above 0 (try 0.001)")
    _require(cfg.optimizer in OPTIMISERS, "optimizer", f"choose from {', '.join(OPTIMISERS)}")
    _require(cfg.init in INITS, "init", f"choose from {', '.join(INITS)}")
    _require((cfg.init == "image") == (cfg.init_image is not None), "init_image",
             "give --init image together with --init-image PATH")
    _require(cfg.scales >= 1, "scales", "must be at least 1")
    _require(cfg.start_long_edge is None or MIN_EDGE <= cfg.start_long_edge <= cfg.max_long_edge,
             "start_long_edge", f"must be from {MIN_EDGE} to --max-long-edge")
    _require(0 <= cfg.average_decay < 1, "average_decay", "must be in [0, 1)")
    _require(cfg.stop_window >= 1, "stop_window", "must be at least 1")
    _require(cfg.style_blend_weights is None or (all(w >= 0 for w in cfg.style_blend_weights)
                                                 and sum(cfg.style_blend_weights) > 0),
             "style_blend_weights", "must be 0 or more, not all 0")
    _require(cfg.style_scale is None or cfg.style_scale > 0, "style_scale", "must be above 0")
    _require(cfg.pooling in POOLING, "pooling", f"choose from {', '.join(POOLING)}")
    _require(cfg.precision in PRECISIONS, "precision", f"choose from {', '.join(PRECISIONS)}")
    _require(cfg.max_num_epochs >= 1, "max_num_epochs", "must be at least 1")
    _require(cfg.max_long_edge >= MIN_EDGE, "max_long_edge",
             f"must be at least {MIN_EDGE} pixels (VGG19 halves the image 4 times)")
    _require(cfg.lr_sched_delay >= 1, "lr_sched_delay", "must be at least 1")
    _require(0 < cfg.lr_sched_factor <= 1, "lr_sched_factor", "must be in (0, 1]")
    _require(cfg.save_epochs >= 0, "save_epochs", "must be 0 (no snapshots) or more")
    _require(cfg.denoise in DENOISERS, "denoise",
             f"unknown filter {cfg.denoise!r}; choose from {', '.join(DENOISERS)}")
    _require(cfg.remove_noise is None or cfg.remove_noise >= 0, "remove_noise", "must be 0 or more")
    _require(bool(cfg.style_layers) or bool(cfg.content_layers), "style_layers", "no layers given")


def _layers(cfg: Config) -> None:
    from .engine.vgg import VGG19, check_layers

    for flag, specs in (("--style-layers", cfg.style_layers), ("--content-layers", cfg.content_layers)):
        check_layers(VGG19, layer_names(specs), flag)
        if any(w < 0 for w in layer_weights(specs)):
            raise ConfigError(f"{flag}: layer weights must be 0 or more")


def _tiles(cfg: Config) -> None:
    from .engine.tiles import ALIGN

    _require(cfg.tile_margin >= 0, "tile_margin", "must be 0 or more")
    _require(cfg.tile_overlap >= 0, "tile_overlap", "must be 0 or more")
    _require(cfg.tile_sweeps >= 1, "tile_sweeps", "must be at least 1")
    smallest = 2 * (cfg.tile_margin + cfg.tile_overlap) + ALIGN
    _require(cfg.tile is None or cfg.tile >= max(MIN_EDGE, smallest), "tile",
             f"must be at least {max(MIN_EDGE, smallest)} pixels (a {ALIGN}-pixel core with "
             "--tile-margin and --tile-overlap on both sides)")
    _require(cfg.max_memory is None or cfg.max_memory > 0, "max_memory", "must be above 0")
    _require(cfg.tile is None or cfg.max_memory is None, "max_memory",
             "give --tile or --max-memory, not both")


_CHECKS = (_finite, _ranges, _layers, _tiles)
