"""Which arithmetic the network runs in: fp32, or bfloat16/float16 where the device has it.

The convolutions (and the ReLUs and pools between them, which simply follow their
input's type) run in the low precision through MXNet's AMP graph pass
(``mxnet.contrib.amp.convert_symbol``), which inserts the casts. Only the network is
converted: the features leave it as fp32 (engine/graph.py casts them where they are
taken, and the trunk goes on from that fp32 copy), and the Gram matrices and loss terms
are built on them afterwards, untouched by AMP. What the optimiser sees stays fp32: the
image and its gradient, the Gram matrices, the loss terms and the optimiser's state.
The first convolution stays fp32 too (:data:`FP32_LAYERS`).

``auto`` picks bfloat16 on a CPU whose flags show ``avx512_bf16`` or ``amx_bf16``,
float16 on a CUDA device of compute capability 7.0 or newer (tensor cores), and fp32
otherwise. Asking for a precision the device cannot do natively is an error, not a
slow emulation.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, Mapping, Optional, Tuple

from ..errors import ConfigError, DeviceError

Symbol = Any  # mx.sym.Symbol (this module does not import MXNet until it converts a graph)

#: The values of --precision.
PRECISIONS: Tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")

#: CPU flags (as /proc/cpuinfo names them) that mean native bfloat16 arithmetic.
BF16_CPU_FLAGS: Tuple[str, ...] = ("avx512_bf16", "amx_bf16")

#: Compute capability from which CUDA devices have float16 tensor cores (Volta).
FP16_MIN_CAPABILITY: Tuple[int, int] = (7, 0)

#: The image's variable: the one input of the network that is not a weight.
DATA = "data"

#: MXNet's names of the low-precision types.
AMP_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}

#: Operators AMP runs in the low precision. Activation and Pooling are dtype-neutral
#: (they follow their input), so the whole VGG trunk stays low between the casts.
LOW_PRECISION_OPS = ["Convolution"]

#: Layers kept in fp32 whatever the precision: the first convolution reads the image
#: itself (bfloat16 would round a pixel of 150 to the nearest 0.5, coarser than the
#: 1/255 steps the result is saved in), and with 3 input channels its bf16 backward
#: measured slower than fp32 on this AMX CPU (oneDNN 2.4; the 256x192 bf16 graph took
#: 0.24 s per forward+backward with it in fp32, 0.28 s with it in bf16).
FP32_LAYERS = ("conv1_1",)


class PrecisionError(ConfigError, DeviceError):
    """A --precision the device cannot do natively: a usage error (exit 2)."""


@dataclass(frozen=True)
class Device:
    """What the precision choice needs to know of a device, nothing allocated on it."""

    kind: str  # "cpu" or "gpu"
    cpu_flags: FrozenSet[str] = frozenset()
    capability: Optional[Tuple[int, int]] = None  # a GPU's compute capability, if known

    def describe(self) -> str:
        if self.kind == "gpu":
            cap = "unknown" if self.capability is None else "%d.%d" % self.capability
            return f"the GPU (compute capability {cap})"
        return "this CPU"


@dataclass(frozen=True)
class Precision:
    """A resolved precision: ``name`` is fp32, bf16 or fp16; ``reason`` says why."""

    name: str
    reason: str

    @property
    def amp_dtype(self) -> Optional[str]:
        """``"bfloat16"``/``"float16"`` for AMP, None for fp32."""
        return AMP_DTYPES.get(self.name)

    def __str__(self) -> str:
        return f"{self.name} ({self.reason})"


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> FrozenSet[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo is not there, e.g. macOS)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def cuda_capability(index: int) -> Optional[Tuple[int, int]]:
    """GPU ``index``'s compute capability from the CUDA driver, or None if it cannot say.

    Not verified on a GPU here (none on the machine this was written on).
    """
    name = ctypes.util.find_library("cuda")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
        major, minor = ctypes.c_int(), ctypes.c_int()
        if lib.cuInit(0) != 0:
            return None
        # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75, _MINOR = 76
        if lib.cuDeviceGetAttribute(ctypes.byref(major), 75, index) != 0:
            return None
        if lib.cuDeviceGetAttribute(ctypes.byref(minor), 76, index) != 0:
            return None
    except (OSError, AttributeError):
        return None
    return major.value, minor.value


def _present(flags: Iterable[str]) -> str:
    return ", ".join(f for f in BF16_CPU_FLAGS if f in flags)


def resolve(requested: str, device: Device) -> Precision:
    """``requested`` (one of :data:`PRECISIONS`) on ``device``, or a :class:`PrecisionError`."""
    if requested not in PRECISIONS:
        raise ConfigError(f"--precision: choose from {', '.join(PRECISIONS)}, not {requested!r}")
    bf16_cpu = device.kind == "cpu" and any(f in device.cpu_flags for f in BF16_CPU_FLAGS)
    fp16_gpu = (
        device.kind == "gpu"
        and device.capability is not None
        and device.capability >= FP16_MIN_CAPABILITY
    )
    if requested == "fp32":
        return Precision("fp32", "as asked")
    if requested == "bf16":
        if not bf16_cpu:
            raise PrecisionError(
                f"--precision bf16: {device.describe()} has no native bfloat16 (needs a CPU "
                f"with {' or '.join(BF16_CPU_FLAGS)}); use --precision auto or fp32"
            )
        return Precision("bf16", f"as asked; the CPU has {_present(device.cpu_flags)}")
    if requested == "fp16":
        if not fp16_gpu:
            raise PrecisionError(
                f"--precision fp16: {device.describe()} has no float16 tensor cores (needs a "
                "CUDA GPU of compute capability 7.0 or newer); use --precision auto or fp32"
            )
        return Precision("fp16", f"as asked; {device.describe()}")
    if bf16_cpu:
        return Precision("bf16", f"auto: the CPU has {_present(device.cpu_flags)}")
    if fp16_gpu:
        return Precision("fp16", f"auto: {device.describe()} has float16 tensor cores")
    if device.kind == "gpu":
        return Precision("fp32", f"auto: {device.describe()} has no float16 tensor cores")
    return Precision("fp32", f"auto: the CPU has neither {' nor '.join(BF16_CPU_FLAGS)}")


#: The widest image (or tile) bf16 runs at with AMX. MXNet 1.9.1's oneDNN 2.4 stalls in its
#: AMX bf16 backward convolution (conv1_2's backward_data, jit:avx512_core_amx_bf16) for
#: feature maps wider than this: measured here, 736 px takes 0.26 s a pass at 128 rows and
#: 737 px had not finished after 60 s (the height does not matter: 1536x512 is fine). Wider
#: graphs run in fp32 (``auto``) or are refused (``bf16``).
AMX_BF16_MAX_WIDTH = 736


def amx_in_use(device: Device, environ: Optional[Dict[str, str]] = None) -> bool:
    """Whether oneDNN will use AMX for bf16 on ``device`` (see ``_mxnet.enable_amx``)."""
    isa = (os.environ if environ is None else environ).get("DNNL_MAX_CPU_ISA", "").upper()
    return (
        device.kind == "cpu"
        and "amx_bf16" in device.cpu_flags
        and isa in ("AVX512_CORE_AMX", "ALL")
    )


def for_width(precision: Precision, requested: str, width: int, amx: bool) -> Precision:
    """``precision`` for a graph ``width`` pixels wide: bf16 with AMX only up to
    :data:`AMX_BF16_MAX_WIDTH` (fp32 beyond it for ``auto``; an error if bf16 was asked)."""
    if precision.name != "bf16" or not amx or width <= AMX_BF16_MAX_WIDTH:
        return precision
    if requested == "auto":
        return Precision(
            "fp32",
            f"auto: {width} px is wider than {AMX_BF16_MAX_WIDTH}, where oneDNN 2.4's AMX "
            "bf16 backward convolution stalls",
        )
    # the advice that holds for any graph; what else fixes a whole run (a tile, a smaller
    # size) depends on its sizes and is worked out, and checked, by api.plan_sizes
    raise PrecisionError(
        f"--precision bf16: with AMX, MXNet 1.9.1's oneDNN stalls in the backward convolution "
        f"of graphs wider than {AMX_BF16_MAX_WIDTH} px ({width} here); use --precision auto "
        "(fp32 for graphs that wide) or fp32"
    )


def convert(symbol: Symbol, precision: Precision) -> Symbol:
    """The network ``symbol`` with its convolutions (but :data:`FP32_LAYERS`) in
    ``precision`` (unchanged for fp32).

    The image (``data``) stays an fp32 variable, cast where a low-precision operator
    reads it. The weights of the low-precision convolutions become variables of the low
    type (AMP's ``cast_optional_params``; :func:`bind_params` gives them their arrays):
    AMP's default casts every weight on every forward pass, which cost about a fifth of
    the bare bf16 network's time here (0.245 against 0.191 s a forward+backward at
    256x256; oneDNN's blocked weights are slow to cast). Outputs that are not fp32
    already are cast back by AMP; engine/graph.py makes them fp32 itself, at the point
    where the trunk forks.
    """
    if precision.amp_dtype is None:
        return symbol
    from mxnet.contrib import amp

    return amp.convert_symbol(
        symbol,
        target_dtype=precision.amp_dtype,
        target_dtype_ops=list(LOW_PRECISION_OPS),
        fp32_ops=amp.list_fp32_ops(_amp_type(precision.amp_dtype)),
        excluded_sym_names=list(FP32_LAYERS),
        data_names=[DATA],
        cast_optional_params=True,
    )


def bind_params(symbol: Symbol, params: Mapping[str, Any]) -> Dict[str, Any]:
    """Those of ``params`` (fp32 NDArrays) that ``symbol`` reads, in the types it declares
    for them: the weights of a converted network's low-precision convolutions cast once,
    here, instead of on every pass; the others as they are. Each graph casts its own
    copy (VGG19's to relu5_1: 26 MB in bf16), freed with it."""
    declared = symbol.attr_dict()
    out: Dict[str, Any] = {}
    for name in symbol.list_arguments():
        if name in params:
            code = declared.get(name, {}).get("__dtype__", "-1")
            out[name] = params[name] if code == "-1" else _cast(params[name], _mx_dtype(code))
    return out


def _mx_dtype(code: str) -> Any:
    from mxnet.contrib.amp.amp import _DTYPE_MX_TO_NP

    return _DTYPE_MX_TO_NP[int(code)]


def _cast(array: Any, dtype: Any) -> Any:
    """``array`` as ``dtype`` (MXNet's amp_cast, the one cast that knows bfloat16)."""
    from mxnet import nd

    return array if array.dtype == dtype else nd.amp_cast(array, dtype=dtype)


def _amp_type(name: str) -> Any:
    """AMP's lists are keyed by numpy float16, or by MXNet's own bfloat16 type."""
    import numpy as np
    from mxnet.contrib.amp.amp import bfloat16

    return bfloat16 if name == "bfloat16" else np.float16
