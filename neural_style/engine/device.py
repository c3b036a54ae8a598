"""Choosing the MXNet context, and proving it works before any heavy work."""

from __future__ import annotations

import logging
from typing import Any, Optional

from .._mxnet import mx
from ..errors import DeviceError, summary
from .precision import Device, cpu_flags, cuda_capability

log = logging.getLogger(__name__)

CPU = -1


def has_cuda() -> bool:
    """Whether this MXNet build was compiled with CUDA (``mxnet-cu112``)."""
    return bool(mx.runtime.Features().is_enabled("CUDA"))


def visible_gpus() -> int:
    if not has_cuda():
        return 0
    try:
        return int(mx.context.num_gpus())
    except mx.base.MXNetError:  # CUDA build without a driver
        return 0


def choose_context(gpu: Optional[int]) -> Any:
    """``gpu`` None: GPU 0 if there is one, else the CPU (with a notice); -1: the CPU;
    N: GPU N, or a :class:`DeviceError` naming the fix. The context is probed."""
    if gpu is None:
        if visible_gpus() > 0:
            return probe(mx.gpu(0))
        log.info("no GPU found: running on the CPU (pass --gpu -1 to say so and hide this notice)")
        return probe(mx.cpu())
    check_gpu(gpu)
    if gpu == CPU:
        return probe(mx.cpu())
    return probe(mx.gpu(gpu))


def check_gpu(gpu: int) -> None:
    """-1 (the CPU) or the number of a visible GPU, else a :class:`DeviceError` naming the
    fix; nothing is allocated on the device."""
    if gpu < CPU:
        raise DeviceError(f"--gpu {gpu}: use a GPU number from 0, or -1 for the CPU")
    if gpu == CPU:
        return
    if not has_cuda():
        raise DeviceError(
            f"--gpu {gpu}: this MXNet build has no CUDA support; run on the CPU "
            "with --gpu -1, or install the GPU build: "
            "pip install 'neural-style[cu112]' "
            "(after pip uninstall mxnet), or in a source checkout "
            "make install MXNET=cu112"
        )
    count = visible_gpus()
    if gpu >= count:
        raise DeviceError(
            f"--gpu {gpu}: only {count} GPU(s) visible; use --gpu 0..{count - 1} "
            "or --gpu -1 for the CPU"
        )


def probe(ctx: Any) -> Any:
    """Run a tiny operation on ``ctx`` so that a broken device fails now, clearly."""
    try:
        (mx.nd.ones((2,), ctx=ctx) * 2).asnumpy()
    except mx.base.MXNetError as err:
        raise DeviceError(
            f"device {ctx} does not work ({summary(err)}); try --gpu -1 for the CPU"
        ) from None
    return ctx


def describe(ctx: Any) -> Device:
    """What the precision choice needs to know of ``ctx``: the CPU's flags, or the GPU's
    compute capability."""
    if ctx.device_type == "gpu":
        return Device("gpu", capability=cuda_capability(ctx.device_id))
    return Device("cpu", cpu_flags=cpu_flags())


def describe_request(gpu: Optional[int]) -> Device:
    """The device ``--gpu`` would run on, described without allocating on it (the same
    choice as :func:`choose_context`; a GPU that is not there raises its error)."""
    if gpu is None:
        gpu = 0 if visible_gpus() > 0 else CPU
    if gpu == CPU:
        return describe(mx.cpu())
    if gpu < CPU or gpu >= visible_gpus():
        choose_context(gpu)  # raises the DeviceError that names the fix
    return describe(mx.gpu(gpu))
