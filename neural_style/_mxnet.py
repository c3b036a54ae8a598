"""Import MXNet 1.9.1, the last release, on the numpy it can live with.

MXNet 1.9.1 still refers to six numpy aliases that numpy 1.24 removed; this module
puts back the ones that are missing (and only those) before the first ``import
mxnet``.  numpy 2 breaks MXNet beyond such repair, so the project pins ``numpy<2``.

It also gives OpenMP every core this process may use unless the user chose a number:
MXNet's own default leaves a core idle on small machines, which halves the speed on
two cores.  Both must happen before MXNet is first imported, hence this module.
"""

from __future__ import annotations

import os
from typing import Dict, List, MutableMapping

import numpy

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


restore_numpy_aliases()
prepare_environment()

import mxnet as mx  # noqa: E402  (must follow the two calls above)

__all__ = ["mx", "restore_numpy_aliases", "usable_cores", "prepare_environment"]
