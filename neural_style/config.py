"""The one frozen configuration object, and the single source of every default.

The CLI builds its flags from these fields (name, type, default, help), so the
defaults shown by ``--help`` are the ones the library uses and cannot drift apart.
Names and defaults are those of MXNet's ``example/neural-style/nstyle.py``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
import typing
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

from .engine.denoise import DENOISERS
from .engine.objective import LOSSES
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
    """``"0.7,0.3"`` -> ``(0.7, 0.3)``."""
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(
            f"{text!r} is not a list of numbers; expected numbers separated by commas, "
            "such as 1,2 or 0.7,0.3"
        ) from None


def layer_names(specs: Tuple[str, ...]) -> Tuple[str, ...]:
    return tuple(spec.split(":")[0] for spec in specs)


def layer_weights(specs: Tuple[str, ...], field: str = "style_layers") -> Tuple[float, ...]:
    """Each layer's weight (1 where none is given)."""
    out = []
    for spec in specs:
        name, _, weight = spec.partition(":")
        try:
            out.append(float(weight) if weight else 1.0)
        except ValueError:
            raise ConfigError(
                f"layer {spec!r}: the weight after ':' must be a number, as in {name}:0.5",
                field=field,
            ) from None
    return tuple(out)


@dataclass(frozen=True)
class Range:
    """The values a number may take: from ``low`` to ``high`` (``open`` ends excluded),
    and 0 as well when ``zero`` (a weight of 0 switches its term off)."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    zero: bool = False

    def contains(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.zero and value == 0:
            return True
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        low, high = _number(self.low), _number(self.high)
        if self.low_open or self.high_open:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            text = f"in {left}{low}, {high}{right}"
        else:
            text = f"from {low} to {high}"
        return f"0 or {text}" if self.zero else text


def _number(value: Any) -> str:
    """1e+12 as 1e12, 5792 as 5792: numbers as a user would type them."""
    if isinstance(value, float) and (value.is_integer() and abs(value) < 1e6):
        return str(int(value))
    if not isinstance(value, float):
        return str(value)
    return re.sub(r"e([+-])0*(\d)", lambda m: f"e{m.group(1).strip('+')}{m.group(2)}", f"{value:g}")


#: The largest long edge of any image the network sees (output or style). MXNet 1.x as
#: published on PyPI is built without USE_INT64_TENSOR_SIZE: no tensor may hold 2**31
#: elements or more, and relu1_1's (1, 64, H, W) is the largest, so H*W <= 2**31 / 64.
MAX_LONG_EDGE = math.isqrt((2**31 - 1) // 64)  # 5792
#: The largest long edge optimised in tiles (--tile, --max-memory): each tile is a graph of
#: at most MAX_LONG_EDGE, and the whole image (3 x H x W values) stays under 2**31 too.
MAX_TILED_EDGE = math.isqrt((2**31 - 1) // 3)  # 26754

#: Content, style, TV, blend and per-layer weights. Each weight multiplies its term's
#: gradient in float32 (largest value 3.4e38). Measured with the real VGG19 at 600 px
#: (cat.jpg + starry_night.jpg, noise and content starts), a term's gradient at weight 1
#: reaches 4e7 per pixel value and is the same at any size (the Gram's growth with the
#: number of positions is divided out). Up to 1e12 per weight, a layer's weight times its
#: term's weight stays far below overflow (1e24 x 4e7 = 4e31). Below 1e-12 a weight times
#: the style normalisation (1/(C^2 HW), down to 1e-13) is no longer a normal float32: use 0.
WEIGHT = Range(1e-12, 1e12, zero=True)

#: Each number's allowed values: the one table the checks, the CLI's messages and the
#: README's flag reference follow.
RANGES: Dict[str, Range] = {
    "stop_eps": Range(0.0, 1.0, low_open=True),  # eps is ||change|| / ||image||
    "content_weight": WEIGHT,
    "style_weight": WEIGHT,
    "tv_weight": WEIGHT,
    # An epoch takes milliseconds at the least: 10**6 of them is days (and scipy's L-BFGS-B
    # counts iterations in a C int).
    "max_num_epochs": Range(1, 10**6),
    "max_long_edge": Range(MIN_EDGE, MAX_TILED_EDGE),  # MAX_LONG_EDGE unless tiled
    # MXNet's FactorScheduler never lowers a rate below 1e-8 (its stop_factor_lr), so a
    # smaller one would jump up to it at the first decrease; above 1e4 a step crosses the
    # 0-255 pixel range many times over (Adam's steps are about lr per pixel value).
    "lr": Range(1e-8, 1e4),
    "lr_sched_delay": Range(1, 10**6),
    "lr_sched_factor": Range(0.0, 1.0, low_open=True),
    "save_epochs": Range(0, 10**6),
    # Gaussian sigma in pixels (scipy's kernel is 8 sigma wide: 100 already blurs any image
    # to its mean colour, and the time grows with sigma) or Chambolle's TV weight.
    "remove_noise": Range(0.0, 100.0),
    "seed": Range(0, 2**32 - 1),  # numpy's seeds: non-negative, 32 bits as RandomState's
    # 16 scales are two per octave from MIN_EDGE to MAX_LONG_EDGE.
    "scales": Range(1, 16),
    "start_long_edge": Range(MIN_EDGE, MAX_TILED_EDGE),
    "average_decay": Range(0.0, 1.0, high_open=True),
    "stop_window": Range(1, 10**6),
    "style_blend_weights": WEIGHT,
    # Times the output's long edge: the style image is then at most MAX_LONG_EDGE long
    # (checked against max_long_edge too); a tiny one is raised to MIN_EDGE.
    "style_scale": Range(0.0, MAX_TILED_EDGE / MIN_EDGE, low_open=True),
    "tile": Range(MIN_EDGE, MAX_LONG_EDGE),  # a tile is one graph
    # Context and blending, in pixels: relu5_1 sees 212 pixels around a position, so more
    # than 1024 changes nothing but the cost.
    "tile_margin": Range(0, 1024),
    "tile_overlap": Range(0, 1024),
    "tile_sweeps": Range(1, 100),  # each sweep gets max_num_epochs / N epochs
    # 16 MiB is less than the smallest graph; 1 PiB more than any machine has.
    "max_memory": Range(2**24, 2**50),
}


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

    model: str = _opt(
        "vgg19", "the pretrained network (vgg19; 'vgg' is accepted)", choices=tuple(MODEL_ALIASES)
    )
    stop_eps: float = _opt(0.005, "stop when the relative change of the image is below this")
    content_weight: float = _opt(10.0, "weight of the content loss")
    style_weight: float = _opt(1.0, "weight of the style loss")
    tv_weight: float = _opt(0.01, "weight of the total-variation smoothing (0 disables)")
    max_num_epochs: int = _opt(1000, "the maximal number of epochs (updates)")
    max_long_edge: int = _opt(600, "resize the content image so its long edge is this many pixels")
    lr: Optional[float] = _opt(
        None,
        "the initial learning rate (default: "
        + ", ".join(f"{name} {o.default_lr:g}" for name, o in OPTIMISERS.items() if o.mxnet)
        + ")",
        example="0.001",
    )
    lr_sched_delay: int = _opt(75, "epochs between learning-rate decreases")
    lr_sched_factor: float = _opt(0.9, "factor the learning rate is multiplied by on schedule")
    save_epochs: int = _opt(50, "save a snapshot every N epochs (0: none)")
    output_dir: str = _opt(
        "output/",
        "folder for snapshots (e_<epoch>.jpg) and the default output",
        aliases=("--output_dir",),
        metavar="DIR",
    )
    denoise: str = _opt(
        "gaussian", "denoising filter for snapshots and the final image", choices=tuple(DENOISERS)
    )
    remove_noise: Optional[float] = _opt(
        None,
        "denoising strength: Gaussian sigma in pixels, or TV weight "
        "(default: %s)"
        % ", ".join(
            f"{k} {d.default_strength:g}" for k, d in DENOISERS.items() if d.default_strength
        ),
        example="0.2",
    )
    seed: Optional[int] = _opt(
        None, "random seed for the starting noise (default: random)", example="42"
    )
    optimizer: str = _opt(
        "nag", _listed({name: o.help for name, o in OPTIMISERS.items()}), choices=tuple(OPTIMISERS)
    )
    init: str = _opt(
        "noise",
        "start from white noise (the example), the content image, or --init-image",
        choices=INITS,
    )
    init_image: Optional[str] = _opt(None, "the starting image for --init image", metavar="PATH")
    scales: int = _opt(
        1,
        "optimise at this many sizes, smallest first, each warm-starting the "
        "next, up to --max-long-edge; each with its own --max-num-epochs",
    )
    start_long_edge: Optional[int] = _opt(
        None,
        "the long edge of the first scale (default: --max-long-edge halved per extra scale)",
        example="300",
    )
    tile: Optional[int] = _opt(
        None,
        "optimise every size whose image is larger than N x N "
        "pixels in overlapping tiles of at most N x N, so memory is bounded by "
        "the tile, not the image (a whole-image composition comes first)",
        example="512",
    )
    max_memory: Optional[int] = _opt(
        None,
        "pick --tile from a memory budget such as 2G, 1500M or 2147483648 (sizes that "
        "fit are not tiled)",
        parse=size,
        metavar="SIZE",
        example="2G",
    )
    # Four passes by default: at 1024x768 after 40 epochs (benchmarks/tiles.py quality,
    # README) they came within 3.8% of the untiled run's content error (one pass: 10.2%),
    # each tile's optimiser state carrying over between its visits; two passes: 6.6%.
    tile_sweeps: int = _opt(
        4,
        "passes over the tiles at each tiled size (fewer if a pass would get fewer than 10 "
        "epochs); each tile gets its share of --max-num-epochs a pass and keeps its "
        "optimiser state between passes (on disk, in $TMPDIR: 12 bytes a pixel for NAG, "
        "24 for Adam)",
    )
    tile_margin: int = _opt(16, "pixels of context around a tile, seen but not changed")
    tile_overlap: int = _opt(
        16, "pixels over which neighbouring tiles blend, on each side of their boundary"
    )
    average_decay: float = _opt(
        0.0,
        "exponential moving average of the iterates as the result, "
        "with this decay, e.g. 0.9 (0: off)",
    )
    stop_window: int = _opt(
        1,
        "stop when the mean eps of the last K epochs is below --stop-eps (1: the example's rule)",
        metavar="K",
    )
    style_blend_weights: Optional[Tuple[float, ...]] = _opt(
        None,
        "weights of several style images given as one comma-separated --style-image, "
        "normalised (default: equal)",
        parse=_floats,
        metavar="W1,W2",
    )
    style_scale: Optional[float] = _opt(
        None,
        "resize the style image to this times the output's "
        "long edge, keeping its aspect (default: stretched to the "
        "content's shape, as the example)",
        example="0.5",
    )
    original_colors: bool = _opt(False, "keep the content's colours (luminance transfer in YCbCr)")
    pooling: str = _opt("avg", "pooling in VGG19: avg (the example's) or max", choices=POOLING)
    content_layers: Tuple[str, ...] = _opt(
        CONTENT_LAYERS,
        "content layers, each with an optional :weight",
        parse=_names,
        metavar="L[:W],...",
    )
    style_layers: Tuple[str, ...] = _opt(
        STYLE_LAYERS,
        "style layers, each with an optional :weight",
        parse=_names,
        metavar="L[:W],...",
    )
    loss: str = _opt(
        "example",
        "how the terms are scaled before weighting: "
        + _listed(LOSSES)
        + "; the weights' meaning changes with it",
        choices=tuple(LOSSES),
    )
    normalize_gradients: bool = _opt(
        False,
        "scale each loss term's gradient to unit L1 norm "
        "(jcjohnson/neural-style's -normalize_gradients)",
    )
    precision: str = _opt(
        "auto",
        "arithmetic of the network's convolutions: auto (bf16 on a CPU "
        "with avx512_bf16 or amx_bf16, fp16 on a GPU of compute capability "
        "7.0+, else fp32), fp32, bf16 or fp16; the image, its gradient, the "
        "Gram matrices and the loss stay fp32",
        choices=PRECISIONS,
    )
    progress_sheet: bool = _opt(
        False, "also write progress.jpg: the snapshots tiled in order, with their epochs"
    )
    loss_plot: bool = _opt(
        False,
        "also write loss.png: loss terms and eps per epoch (needs "
        "matplotlib: pip install 'neural-style[plot]')",
    )

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

    @classmethod
    def from_recipe(cls, recipe: str = "faithful", **overrides: Any) -> "Config":
        """A recipe's values (:data:`RECIPES`), with ``overrides`` on top: the one place a
        recipe is resolved (the CLI passes the flags the user gave as ``overrides``)."""
        return cls(**{**recipe_values(recipe), **overrides})


#: Named sets of Config values (``--recipe``); any value given explicitly overrides the
#: recipe's. "faithful" is every default: MXNet's example (NAG from noise to its own stop).
#: "fast" is Adam from the content image for a fixed 40 epochs under the relative loss
#: (every style layer counts the same, so relu5_1, which the example's scaling leaves
#: nearly unoptimised, comes down with the rest), style weighted 10 to the content's 1, no
#: TV term (it blurred the strokes and raised every style measure). Chosen with
#: benchmarks/speed_to_quality.py: it reaches both measures of the faithful default in
#: under a fifth of its time at 256 and 512 px (README, "Better images sooner").
RECIPES: Dict[str, Dict[str, Any]] = {
    "faithful": {},
    "fast": {
        "optimizer": "adam",
        "init": "content",
        "loss": "relative",
        "content_weight": 1.0,
        "style_weight": 10.0,
        "tv_weight": 0.0,
        "max_num_epochs": 40,
        "stop_eps": 1e-4,
    },
}


def recipe_values(recipe: str) -> Dict[str, Any]:
    """The Config values a recipe sets, or a :class:`ConfigError` naming the recipes."""
    try:
        return dict(RECIPES[recipe])
    except KeyError:
        raise ConfigError(
            f"--recipe: unknown recipe {recipe!r}; choose from {', '.join(RECIPES)}"
        ) from None


def describe_recipe(recipe: str) -> str:
    """``"optimizer=adam, init=content, ..."`` (or the faithful default's description)."""
    values = recipe_values(recipe)
    if not values:
        return "every default (MXNet's example)"
    return ", ".join(f"{k.replace('_', '-')}={v}" for k, v in values.items())


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


def _numeric_hints() -> Dict[str, type]:
    """The number type of each field in :data:`RANGES` (a tuple's items' type)."""
    types = field_types()
    out = {}
    for name in RANGES:
        kind = types[name]
        if typing.get_origin(kind) is tuple:
            kind = typing.get_args(kind)[0]
        out[name] = kind
    return out


def example(name: str) -> str:
    """A value of the field ``name`` as it is written (its default, or one from its
    metadata where the default is None), for messages that show how."""
    f = _FIELDS[name]
    if "example" in f.metadata:
        return str(f.metadata["example"])
    return _number(f.default)


def number_problem(name: str, text: Any) -> str:
    """Why ``text`` is not a value of the numeric field ``name``, with an example."""
    kind = _numeric_hints().get(name, field_types()[name])
    what = "a whole number" if kind is int else "a number"
    return f"must be {what} such as {example(name)}, not {text!r}"


def parse_field(name: str, text: Any) -> Any:
    """The value of the field ``name`` from the text of its flag, a --sweep value or a
    manifest cell (text, or a JSON value): in the flag's own syntax (``parse`` in its
    metadata, e.g. --max-memory 2G) when it is text, as a number of its type (JSON's
    ``true`` is not 1), or as text; a :class:`ConfigError` that shows how it is written
    otherwise (for a number: :func:`number_problem`'s words). The range is checked by
    :class:`Config`. The one parser of settings' values: the batch's
    (:func:`neural_style.batch.settings.parse_value`) goes through it."""
    f = _FIELDS[name]
    if "parse" in f.metadata and isinstance(text, str):
        return f.metadata["parse"](text)
    kind = field_types()[name]
    if kind not in (int, float):
        return kind(text)
    try:
        if isinstance(text, bool):
            raise TypeError
        return float(text) if kind is float else int(str(text).strip())
    except (TypeError, ValueError):
        raise ConfigError(number_problem(name, text)) from None


def _canonical_model(name: str) -> str:
    try:
        return MODEL_ALIASES[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown model {name!r}; choose from {', '.join(MODEL_ALIASES)}", field="model"
        ) from None


def _require(condition: bool, field: str, message: str) -> None:
    if not condition:
        raise ConfigError(message, field=field)


def _types(cfg: Config) -> None:
    """Numbers are numbers (not ``True``, not text); a float field given an int holds a float."""
    hints = _numeric_hints()
    for name, kind in hints.items():
        value = getattr(cfg, name)
        values = value if isinstance(value, tuple) else (value,)
        for v in values:
            if v is None and _DEFAULTS[name] is None:  # None: decided elsewhere (e.g. --lr)
                continue
            whole = isinstance(v, numbers.Integral) and not isinstance(v, bool)
            if kind is int and not whole:
                raise ConfigError(number_problem(name, v), field=name)
            if kind is float and not (whole or isinstance(v, numbers.Real)) or isinstance(v, bool):
                raise ConfigError(number_problem(name, v), field=name)
        if kind is float and value is not None:
            converted = tuple(float(v) for v in value) if isinstance(value, tuple) else float(value)
            object.__setattr__(cfg, name, converted)
        elif kind is int and value is not None:
            object.__setattr__(cfg, name, int(value))


def _ranges(cfg: Config) -> None:
    """Every number within its row of :data:`RANGES` (NaN and infinities never are)."""
    for name, allowed in RANGES.items():
        value = getattr(cfg, name)
        for v in value if isinstance(value, tuple) else (value,):
            if v is not None and not allowed.contains(v):
                raise ConfigError(f"must be {allowed}, not {_number(v)}", field=name)


def _together(cfg: Config) -> None:
    """Rules between fields."""
    _require(
        cfg.content_weight > 0 or cfg.style_weight > 0,
        "style_weight",
        "is 0 and so is `content_weight`: nothing to optimise",
    )
    _require(
        cfg.start_long_edge is None or cfg.start_long_edge <= cfg.max_long_edge,
        "start_long_edge",
        f"must be at most `max_long_edge` ({cfg.max_long_edge}), not {cfg.start_long_edge}",
    )
    tiled = cfg.tile is not None or cfg.max_memory is not None
    most = MAX_TILED_EDGE if tiled else MAX_LONG_EDGE
    _require(
        cfg.max_long_edge <= most,
        "max_long_edge",
        f"must be at most {MAX_LONG_EDGE} for a whole image, not {cfg.max_long_edge}; "
        f"larger ones (up to {MAX_TILED_EDGE}) are optimised in tiles with `tile` or "
        "`max_memory`",
    )
    if cfg.style_scale is not None:
        longest = cfg.style_scale * cfg.max_long_edge
        _require(
            longest <= most,
            "style_scale",
            f"{_number(cfg.style_scale)} times `max_long_edge` ({cfg.max_long_edge}) makes "
            f"the style image {longest:.0f} pixels long; the most is {most} "
            f"(so at most {math.floor(most / cfg.max_long_edge * 100) / 100:g})",
        )
    _require(
        cfg.style_blend_weights is None or sum(cfg.style_blend_weights) > 0,
        "style_blend_weights",
        "are all 0",
    )
    _require(cfg.optimizer in OPTIMISERS, "optimizer", f"choose from {', '.join(OPTIMISERS)}")
    _require(cfg.init in INITS, "init", f"choose from {', '.join(INITS)}")
    _require(
        (cfg.init == "image") == (cfg.init_image is not None),
        "init_image",
        "is used with `init`=image only; give both or neither",
    )
    _require(cfg.loss in LOSSES, "loss", f"choose from {', '.join(LOSSES)}")
    _require(cfg.pooling in POOLING, "pooling", f"choose from {', '.join(POOLING)}")
    _require(cfg.precision in PRECISIONS, "precision", f"choose from {', '.join(PRECISIONS)}")
    _require(
        cfg.denoise in DENOISERS,
        "denoise",
        f"unknown filter {cfg.denoise!r}; choose from {', '.join(DENOISERS)}",
    )
    _require(
        bool(cfg.style_layers) or bool(cfg.content_layers),
        "style_layers",
        "no layers given (and no `content_layers`)",
    )


def _layers(cfg: Config) -> None:
    from .engine.vgg import VGG19, check_layers

    for name in ("style_layers", "content_layers"):
        specs = getattr(cfg, name)
        if not isinstance(specs, tuple) or not all(isinstance(s, str) for s in specs):
            raise ConfigError(f"must be a tuple of layer names, not {specs!r}", field=name)
        check_layers(VGG19, layer_names(specs), name)
        for spec, weight in zip(specs, layer_weights(specs, name)):
            if not WEIGHT.contains(weight):
                raise ConfigError(
                    f"the weight of {spec.split(':')[0]} must be {WEIGHT}, not {_number(weight)}",
                    field=name,
                )


def _tiles(cfg: Config) -> None:
    from .engine.tiles import ALIGN, fitting_guard, smallest_tile

    smallest = max(MIN_EDGE, smallest_tile(cfg.tile_margin, cfg.tile_overlap))
    if cfg.tile is not None and cfg.tile < smallest:
        fix = f"raise `tile` to {smallest}"
        # a thinner guard is offered only for tiles whose whole-image start still has a
        # short side of MIN_EDGE for images up to 4:1 (smaller ones fail on any photo)
        fits = (
            fitting_guard(cfg.tile, cfg.tile_margin, cfg.tile_overlap)
            if cfg.tile >= 4 * MIN_EDGE
            else None
        )
        if fits is not None:
            fix += (
                f", or lower `tile_margin` and `tile_overlap` to at most {sum(fits)} together "
                f"(e.g. `tile_margin` {fits[0]} `tile_overlap` {fits[1]})"
                if sum(fits)
                else ", or set `tile_margin` 0 and `tile_overlap` 0"
            )
        raise ConfigError(
            f"must be at least {smallest} pixels (a {ALIGN}-pixel core with `tile_margin` "
            f"{cfg.tile_margin} and `tile_overlap` {cfg.tile_overlap} on both sides), "
            f"not {cfg.tile}; {fix}",
            field="tile",
        )
    _require(
        cfg.tile is None or cfg.max_memory is None,
        "max_memory",
        "give `tile` or `max_memory`, not both",
    )


_CHECKS = (_types, _ranges, _together, _layers, _tiles)
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Config)}
_FIELDS = {f.name: f for f in dataclasses.fields(Config)}
