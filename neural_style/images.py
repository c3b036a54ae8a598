"""Image files in and out, and the network's input layout.

Images are loaded with Pillow (EXIF orientation applied, any mode made RGB),
resized with scikit-image and handed to the network as (1, 3, H, W) float32 in
[0, 255] minus the ImageNet mean.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Tuple, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError
from .files import atomic_path
from .vgg import RGB_MEAN

PathLike = Union[str, "os.PathLike[str]"]
ImageInput = Union[PathLike, np.ndarray]

_MEAN = np.asarray(RGB_MEAN, dtype=np.float32).reshape(1, 3, 1, 1)

#: Output formats by extension (what Pillow writes, with the quality we choose).
_SAVE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP",
                 ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}


def output_format(path: PathLike) -> str:
    """Pillow's format name for an output path, or an :class:`ImageError`."""
    suffix = Path(path).suffix.lower()
    try:
        return _SAVE_FORMATS[suffix]
    except KeyError:
        raise ImageError(f"{path}: unknown output extension {suffix or '(none)'!r}; "
                         f"use one of {', '.join(sorted(_SAVE_FORMATS))}") from None


def load_rgb(source: ImageInput) -> np.ndarray:
    """An (H, W, 3) float32 array in [0, 1] from a file path or an array."""
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source)
    path = Path(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img = ImageOps.exif_transpose(img)
                return _pil_to_rgb(img)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not an image") from None
    except PermissionError:
        raise ImageError(f"{path}: no permission to read it") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image Pillow can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageError(f"{path}: too many pixels to load safely ({err})") from None
    except (OSError, SyntaxError, ValueError) as err:  # truncated or corrupt data
        raise ImageError(f"{path}: cannot decode the image ({err})") from None


def _pil_to_rgb(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I") and arr.max() > 255 else 255.0
        return _array_to_rgb((arr / top).clip(0, 1))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)  # transparent areas become white
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def _array_to_rgb(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ImageError(f"an image array must be (H, W), (H, W, 3) or (H, W, 4), not {arr.shape}")
    arr = arr[:, :, :3]
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    return np.clip(arr.astype(np.float32), 0.0, 1.0)


def fit_long_edge(shape: Tuple[int, int], long_edge: int) -> Tuple[int, int]:
    """(H, W) scaled so the longer side is ``long_edge`` (as the example: up or down)."""
    h, w = shape
    factor = long_edge / max(h, w)
    return max(1, int(round(h * factor))), max(1, int(round(w * factor)))


def resize(rgb: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Resize an (H, W, 3) array with anti-aliasing (scikit-image)."""
    from skimage.transform import resize as sk_resize

    if rgb.shape[:2] == tuple(shape):
        return rgb
    out = sk_resize(rgb, shape, order=1, mode="reflect", anti_aliasing=True)
    return out.astype(np.float32)


def to_network(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) in [0, 1] -> (1, 3, H, W) float32, [0, 255] minus the mean.

    The example scaled by 256; 255 is the range the VGG weights were trained on.
    """
    chw = np.transpose(rgb, (2, 0, 1))[None].astype(np.float32) * 255.0
    return chw - _MEAN


def from_network(x: np.ndarray) -> np.ndarray:
    """(1, 3, H, W) network units -> (H, W, 3) uint8, rounded and clipped."""
    rgb = np.transpose(x[0] + _MEAN[0], (1, 2, 0))
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def save_image(rgb: np.ndarray, path: PathLike) -> Path:
    """Write an (H, W, 3) uint8 image atomically; the format follows the extension."""
    path = Path(path)
    fmt = output_format(path)
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    try:
        with atomic_path(path) as tmp:
            Image.fromarray(rgb).save(tmp, format=fmt, **options)
    except OSError as err:
        raise ImageError(f"{path}: cannot write the image ({err.strerror or err})") from None
    return path
