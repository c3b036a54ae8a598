"""Import MXNet 1.9.1, the last release, on the numpy it can live with.

MXNet 1.9.1 still refers to six numpy aliases that numpy 1.24 removed; this module
puts back the ones that are missing (and only those) before the first ``import
mxnet``.  numpy 2 breaks MXNet beyond such repair, so the project pins ``numpy<2``.

It also gives OpenMP every core this process may use unless the user chose a number:
MXNet's own default leaves a core idle on small machines, which halves the speed on
two cores.

And it lets oneDNN use AMX on CPUs that have it (see :func:`enable_amx`): bfloat16
convolutions then run about four times faster than on AVX512-BF16 alone. All of this
must happen before MXNet is first imported, hence this module.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Callable, Dict, FrozenSet, List, MutableMapping

import numpy

from .engine.precision import cpu_flags

_REMOVED_NUMPY_ALIASES: Dict[str, type] = {
    "bool": bool,
    "int": int,
    "float": float,
    "complex": complex,
    "object": object,
    "str": str,
}


def restore_numpy_aliases(module: object = numpy) -> List[str]:
    """Set the removed aliases that ``module`` lacks; return the names set."""
    missing = [name for name in _REMOVED_NUMPY_ALIASES if name not in vars(module)]
    for name in missing:
        setattr(module, name, _REMOVED_NUMPY_ALIASES[name])
    return missing


def usable_cores() -> int:
    """How many cores this process may run on (its CPU affinity, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def prepare_environment(environ: MutableMapping[str, str] = os.environ) -> None:
    """Thread count and quieter logs, unless the user has set them."""
    environ.setdefault("OMP_NUM_THREADS", str(usable_cores()))
    environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")


#: Linux's arch_prctl(2) request for a dynamically enabled XSAVE feature, and AMX's
#: tile data (asm/prctl.h, kernel 5.16+).
_SYS_ARCH_PRCTL, _ARCH_REQ_XCOMP_PERM, _XFEATURE_XTILEDATA = 158, 0x1023, 18


def _request_amx_permission() -> bool:
    """Ask Linux for AMX's tile state for this process; True if granted."""
    if not sys.platform.startswith("linux") or os.uname().machine != "x86_64":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.syscall(_SYS_ARCH_PRCTL, _ARCH_REQ_XCOMP_PERM, _XFEATURE_XTILEDATA)) == 0
    except (OSError, AttributeError):
        return False


def enable_amx(
    environ: MutableMapping[str, str] = os.environ,
    flags: FrozenSet[str] = frozenset(),
    request: Callable[[], bool] = _request_amx_permission,
) -> bool:
    """Let oneDNN use AMX for bfloat16 where the CPU has it; True if it will.

    MXNet 1.9.1 ships oneDNN 2.4, which leaves AMX out of its dispatch unless
    ``DNNL_MAX_CPU_ISA`` names it, and which does not ask Linux for the AMX tile state
    (without that permission its first AMX instruction dies with SIGILL). On a CPU whose
    flags show ``amx_bf16`` the permission is always requested (it costs nothing, and a
    ``DNNL_MAX_CPU_ISA`` set by the user or inherited from a parent process needs it
    too); the variable is set only if unset, so the user's choice stands. fp32
    arithmetic is unaffected: oneDNN uses AMX for bf16 and int8 only.
    """
    if "amx_bf16" not in flags or not request():
        return False
    environ.setdefault("DNNL_MAX_CPU_ISA", "AVX512_CORE_AMX")
    return environ["DNNL_MAX_CPU_ISA"].upper() in ("AVX512_CORE_AMX", "ALL")


restore_numpy_aliases()
prepare_environment()
enable_amx(flags=cpu_flags())

import mxnet as mx  # noqa: E402  (must follow the two calls above)

__all__ = ["mx", "restore_numpy_aliases", "usable_cores", "prepare_environment", "enable_amx"]
