"""VGG19 weights: read ``.params``, Keras ``.h5`` and ``.npz`` files, check, fingerprint, save.

In memory the weights are a dict of float32 arrays in the *canonical layout*: keys
``conv1_1_weight``/``conv1_1_bias`` ..., kernels shaped (out, in, kh, kw), and conv1_1
taking RGB input minus :data:`~neural_style.vgg.RGB_MEAN`.
"""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from ..engine.vgg import VGG19, VGGSpec
from ..errors import WeightsError, summary
from .files import atomic_path

Weights = Dict[str, np.ndarray]

#: sha256 of VGG19's 16 convolutions in the canonical layout (see :func:`fingerprint`),
#: taken from Keras's vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5
#: (md5 253f8cb515780f3b799900260a226db6) converted by :func:`read_h5`.
VGG19_FINGERPRINT = "d12627fb6fa6b4113c9fe17af7191b507f3dfcd382f91b5e4646c5ae99aceb8f"

_PARAMS_PREFIX = "arg:"  # the MXNet example's key prefix in vgg19.params
_KERAS_NAME = re.compile(r"conv(\d+)_(\d+)")


def fingerprint(weights: Mapping[str, np.ndarray], spec: VGGSpec = VGG19) -> str:
    """sha256 over each parameter's name and float32 bytes, in the spec's order."""
    digest = hashlib.sha256()
    for name in spec.param_shapes():
        digest.update(name.encode("ascii"))
        digest.update(np.ascontiguousarray(weights[name], dtype="<f4").tobytes())
    return digest.hexdigest()


def check_shapes(weights: Mapping[str, np.ndarray], spec: VGGSpec, source: str) -> Weights:
    """The spec's parameters as float32, or a :class:`WeightsError` naming every mismatch."""
    problems: List[str] = []
    for name, shape in spec.param_shapes().items():
        if name not in weights:
            problems.append(f"{name} missing")
        elif tuple(weights[name].shape) != shape:
            problems.append(f"{name} has shape {tuple(weights[name].shape)}, expected {shape}")
    if problems:
        shown = "; ".join(problems[:4]) + ("; ..." if len(problems) > 4 else "")
        raise WeightsError(f"{source}: not VGG19 weights ({len(problems)} problems: {shown})")
    arrays = {name: np.asarray(weights[name], dtype=np.float32) for name in spec.param_shapes()}
    counts = {name: a.size - int(np.isfinite(a).sum()) for name, a in arrays.items()}
    bad = {name: count for name, count in counts.items() if count}
    if bad:  # NaN, or values beyond float32's range (inf once converted)
        shown = ", ".join(f"{name} ({count})" for name, count in list(bad.items())[:4])
        more = ", ..." if len(bad) > 4 else ""
        raise WeightsError(
            f"{source}: NaN or infinite values in {shown}{more}; the file is "
            "damaged, fetch it again"
        )
    return arrays


def read_params(path: Path) -> Dict[str, np.ndarray]:
    """An MXNet ``.params`` file (``arg:conv1_1_weight`` keys, or bare names)."""
    from .._mxnet import mx

    try:
        loaded = mx.nd.load(str(path))
    except Exception as err:  # MXNetError for a truncated or foreign file
        raise WeightsError(f"{path}: not a readable MXNet .params file ({summary(err)})") from None
    if not isinstance(loaded, dict):
        raise WeightsError(f"{path}: holds a list of arrays, not named VGG19 parameters")
    return {_strip_prefix(k): v.asnumpy() for k, v in loaded.items()}


def read_npz(path: Path) -> Dict[str, np.ndarray]:
    try:
        with np.load(str(path), allow_pickle=False) as data:
            return {_strip_prefix(k): data[k] for k in data.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
        raise WeightsError(f"{path}: not a readable .npz file ({summary(err)})") from None


def read_h5(path: Path, spec: VGGSpec = VGG19) -> Dict[str, np.ndarray]:
    """Keras's VGG19 ``.h5``: (kh, kw, in, out) kernels, BGR input, block<b>_conv<i> names."""
    import h5py

    try:
        with h5py.File(str(path), "r") as h5:
            out = {}
            for layer in spec.layers:
                b, i = _KERAS_NAME.fullmatch(layer.name).groups()  # type: ignore[union-attr]
                group = h5.get(f"block{b}_conv{i}")
                if group is None:
                    continue  # reported as missing by check_shapes
                kernel, bias = _keras_pair(group)
                out[f"{layer.name}_weight"] = np.transpose(kernel, (3, 2, 0, 1))
                out[f"{layer.name}_bias"] = bias
    except (OSError, KeyError, ValueError) as err:
        raise WeightsError(f"{path}: not a readable HDF5 file ({summary(err)})") from None
    first = f"{spec.layers[0].name}_weight"
    if first in out:
        # Caffe's VGG (and so Keras's file) expects BGR; we feed RGB.
        out[first] = out[first][:, ::-1, :, :]
    return out


def _keras_pair(group: Any) -> Tuple[np.ndarray, np.ndarray]:
    datasets = [group[name][()] for name in sorted(group.keys())]
    kernels = [d for d in datasets if d.ndim == 4]
    biases = [d for d in datasets if d.ndim == 1]
    if len(kernels) != 1 or len(biases) != 1:
        raise WeightsError(f"HDF5 group {group.name} is not a convolution")
    return kernels[0], biases[0]


_READERS = {".params": read_params, ".npz": read_npz, ".h5": read_h5, ".hdf5": read_h5}


def load_weights(
    path: "str | os.PathLike[str]", spec: VGGSpec = VGG19, expected: Optional[str] = None
) -> Weights:
    """Read any supported file, check keys and shapes, and (if given) the fingerprint."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise WeightsError(
            f"{path}: unknown weights format {path.suffix!r}; use one of {', '.join(_READERS)}"
        )
    weights = check_shapes(reader(path), spec, str(path))
    if expected is not None:
        actual = fingerprint(weights, spec)
        if actual != expected:
            raise WeightsError(
                f"{path}: the arrays are not the expected VGG19 weights "
                f"(fingerprint {actual[:12]}…, expected {expected[:12]}…)"
            )
    return weights


def save_params(weights: Mapping[str, np.ndarray], path: "str | os.PathLike[str]") -> None:
    """Write an MXNet ``.params`` file under the example's key names, atomically."""
    from .._mxnet import mx

    arrays = {_PARAMS_PREFIX + k: mx.nd.array(v, dtype=np.float32) for k, v in weights.items()}
    with atomic_path(Path(path)) as tmp:
        mx.nd.save(str(tmp), arrays)


def _strip_prefix(key: str) -> str:
    return key[len(_PARAMS_PREFIX) :] if key.startswith(_PARAMS_PREFIX) else key
