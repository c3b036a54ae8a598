"""How much memory a bound graph takes, how much the machine has, and the tile size
that fits a budget: bytes ≈ a + b · pixels, with a and b measured on VGG19
(``benchmarks/tiles.py model`` prints them; the figures below are its output)."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import math
import re
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

from .tiles import ALIGN
from .vgg import VGG19, VGGSpec

#: The process before any graph: Python, MXNet, the VGG19 weights (measured: 444 MB).
BASE_BYTES = 450 * 2**20
#: Bytes per image pixel of a bound VGG19 graph with the default layers, float32, after a
#: forward and backward pass (measured on 2 cores, AVX-512: 554 MB at 256x256 and 1035 MB
#: at 512x512, so 2562 B a pixel at the margin; rounded up).
VGG19_BYTES_PER_PIXEL = 2600
#: Bytes per output pixel that the tiled path keeps whole-image sized: the image being
#: optimised in float16 (6) and, once the graph is gone, the uint8 output (3); the inputs
#: stay as loaded (uint8) and everything else goes by windows and strips
#: (:mod:`.strips`). Measured on the tiny network: 10.3 bytes a pixel between 512x768
#: and 1024x1536 (tests/engine/test_tiled.py holds it under 15).
IMAGE_BYTES_PER_PIXEL = 10
#: The same for a whole-image run, which keeps the content and the image in float32 and
#: resizes with scikit-image in float64 (measured before the tiled path went by strips,
#: when it did the same: 90 bytes a pixel on the tiny network); besides its graph.
WHOLE_IMAGE_BYTES_PER_PIXEL = 90

#: What bf16 changes in the model above (fixed bytes added, factor on the bytes per
#: pixel), from the peak RSS of short runs (benchmarks/epoch_speed.py --rss SIZE auto,
#: 4 epochs, Intel Xeon with AMX, real weights): fp32 477 and 931 MB, bf16 664 and
#: 998 MB at 256x192 and 512x384 (the model: 572, 937; 666, 999). Since the weights are
#: bound in bf16 once per graph and the targets reuse the training pass's oneDNN
#: convolutions (engine/precision.bind_params, graph.StyleGraph._sources), bf16 adds
#: about 105 MB at the start (oneDNN's AMX convolutions and their scratch memory; it was
#: 280 MB before) and 0.91x fp32's bytes per pixel: not half. The features taken for the
#: loss are fp32 copies; our reading (not verified in MXNet's source) is that MXNet
#: 1.9.1's memory planner also sizes a bf16 chain like an fp32 one. Not measured above
#: 512x384. The fp16 path runs on GPUs, whose memory this model does not describe: it
#: counts as fp32.
LOW_PRECISION_BYTES: Dict[str, Tuple[int, float]] = {"bf16": (105 * 2**20, 0.91)}

_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40, "p": 2**50}


#: How a size is written, for the messages of :func:`parse_size`.
SIZE_EXAMPLE = "a size such as 2G, 1500M or 2147483648"


def parse_size(text: str) -> int:
    """``"2G"``, ``"1500M"``, ``"1.5g"``, ``"800MB"`` -> bytes (binary units); a
    :class:`ConfigError` (a ``ValueError``) that shows how sizes are written otherwise."""
    from ..errors import ConfigError

    match = re.fullmatch(r"\s*([-+]?)([0-9]*\.?[0-9]+)\s*([kmgtp]?)i?b?\s*", str(text).lower())
    if not match:
        raise ConfigError(f"{text!r} is not a size; expected {SIZE_EXAMPLE}")
    value = float(match.group(2)) * _UNITS[match.group(3)]
    if int(value) <= 0 or match.group(1) == "-":  # ".1" is a tenth of a byte: 0 bytes
        raise ConfigError(f"{text!r}: the size must be above 0; expected {SIZE_EXAMPLE}")
    return int(value)


def format_size(count: float, up: bool = True) -> str:
    """Bytes in the binary units :func:`parse_size` reads ("1.5 GiB", "705 MiB": 2G and
    2 GiB are one size), so a figure from a message typed back as a size is what it
    says: rounded up (``up``: an amount needed, at least the need) or down (an amount
    available, never more than there is) to the last digit shown."""
    whole, places, unit = (2**30, 1, "GiB") if count >= 2**30 else (2**20, 0, "MiB")
    steps = count * 10**places / whole  # exact for any int count below 2**53
    rounded = (math.ceil(steps) if up else math.floor(steps)) / 10**places
    return f"{rounded:.{places}f} {unit}"


def available_bytes(meminfo: Path = Path("/proc/meminfo")) -> Optional[int]:
    """MemAvailable of the machine (psutil if it is installed, else /proc/meminfo), or
    None where neither says."""
    try:
        import psutil  # type: ignore[import-not-found]

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _activations(spec: VGGSpec, layers: Sequence[str]) -> float:
    """Feature values per image pixel up to the deepest of ``layers``."""
    total, stride = 0.0, 1
    for conv in spec.layers_up_to(layers):
        if conv.pool_before:
            stride *= 2
        total += conv.out_channels / stride**2
    return total


def host_precision(requested: str, width: Optional[int] = None) -> str:
    """The precision ``requested`` (``--precision``) resolves to on this machine's CPU,
    whose memory the model describes, for a graph ``width`` pixels wide if given (with
    AMX, bf16 only up to its width limit: ``auto`` is fp32 above it, as the stylizer's
    own choice is, :func:`.precision.for_width`); one the CPU refuses counts as fp32
    (that run stops with its own error before any graph)."""
    from ..errors import ConfigError
    from .precision import Device, amx_in_use, cpu_flags, for_width, resolve

    device = Device("cpu", cpu_flags())
    try:
        chosen = resolve(requested, device)
        if width is not None:
            chosen = for_width(chosen, requested, width, amx_in_use(device))
    except ConfigError:
        return "fp32"
    return chosen.name


def bytes_per_pixel(
    spec: VGGSpec, layers: Sequence[str], itemsize: int = 4, precision: str = "fp32"
) -> float:
    """The measured VGG19 figure, scaled to another network by its activations per pixel,
    to another float size and to the network's precision (:data:`LOW_PRECISION_BYTES`)."""
    from ..config import CONTENT_LAYERS, STYLE_LAYERS

    ratio = _activations(spec, layers) / _activations(VGG19, STYLE_LAYERS + CONTENT_LAYERS)
    factor = LOW_PRECISION_BYTES.get(precision, (0, 1.0))[1]
    return VGG19_BYTES_PER_PIXEL * ratio * itemsize / 4 * factor


def base_bytes(precision: str = "fp32") -> int:
    """The process before its graph: :data:`BASE_BYTES`, and what a low precision adds."""
    return BASE_BYTES + LOW_PRECISION_BYTES.get(precision, (0, 1.0))[0]


def graph_bytes(shape: Tuple[int, int], per_pixel: float, precision: str = "fp32") -> int:
    """The whole process's memory with a graph bound at ``shape``."""
    return int(base_bytes(precision) + per_pixel * shape[0] * shape[1])


def tile_for_budget(
    budget: int, image: Tuple[int, int], per_pixel: float, precision: str = "fp32"
) -> int:
    """The largest window edge (a multiple of 16) whose graph, with the image-sized
    arrays of the tiled path, fits ``budget`` bytes; 0 if none does."""
    room = budget - base_bytes(precision) - IMAGE_BYTES_PER_PIXEL * image[0] * image[1]
    if room <= 0:
        return 0
    return int(math.sqrt(room / per_pixel)) // ALIGN * ALIGN


def release_freed() -> None:
    """Give memory freed by Python, numpy and MXNet back to the operating system.

    glibc keeps freed blocks below its (adaptive, up to 32 MB) mmap threshold in its
    heap, and a graph frees thousands of them: unbound, the graph's memory stayed in the
    process (measured: 966 MB with a VGG19 graph at 384x512, 702 MB after unbinding it,
    289 MB before it), and the next graph of another shape piled on top. Called between
    graphs on the tiled path, where the peak is one graph over the process's base.
    ``malloc_trim`` is glibc's; elsewhere this only collects garbage."""
    gc.collect()
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return
    trim(0)
