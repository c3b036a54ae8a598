"""Image files in and out: the formats by extension, loading with Pillow (EXIF
orientation applied, any mode made RGB, large files shrunk while decoding) and atomic
saving. The network's view of the pixels is :mod:`neural_style.engine.pixels`.
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..engine.pixels import check_min_edge, check_size
from ..engine.vgg import MIN_EDGE
from ..errors import ImageError
from .files import IncompleteWrite, special_file_problem, write_verified

log = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]
ImageInput = Union[PathLike, np.ndarray]


@dataclass(frozen=True)
class ImageFormat:
    """An image file type: Pillow's name for it, and how (whether) the tool writes it."""

    pillow: str
    writable: bool = True
    save_options: Mapping[str, Any] = field(default_factory=dict)


_LOSSY = {"quality": 95}

#: Image files by extension: what folders and globs of inputs pick up, and (where
#: writable) what an output's extension may be. Other files Pillow can read still load
#: when named one by one.
IMAGE_FORMATS: Dict[str, ImageFormat] = {
    ".jpg": ImageFormat("JPEG", save_options=_LOSSY), ".jpeg": ImageFormat("JPEG", save_options=_LOSSY),
    ".png": ImageFormat("PNG"), ".bmp": ImageFormat("BMP"), ".gif": ImageFormat("GIF", writable=False),
    ".tif": ImageFormat("TIFF"), ".tiff": ImageFormat("TIFF"),
    ".webp": ImageFormat("WEBP", save_options=_LOSSY),
}
OUTPUT_SUFFIXES = tuple(sorted(s for s, f in IMAGE_FORMATS.items() if f.writable))


def output_format(path: PathLike) -> ImageFormat:
    """The format an output path is written in, or an :class:`ImageError`."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ImageError(f"{path}: unknown output extension {suffix or '(none)'!r}; "
                         f"use one of {', '.join(OUTPUT_SUFFIXES)}")
    return IMAGE_FORMATS[suffix]


def load_rgb(source: ImageInput, max_edge: Optional[int] = None) -> np.ndarray:
    """An (H, W, 3) float32 array in [0, 1] from a file path or an array.

    Files are read-only; EXIF orientation is applied; any mode becomes RGB (alpha over
    white); an animated image gives its first frame. With ``max_edge``, a large image
    is shrunk while decoding (JPEG) or right after (by whole factors), keeping its long
    edge at least ``max_edge``, so memory stays bounded. Every failure is an
    :class:`ImageError` naming the file.
    """
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source)
    path = Path(source)
    problem = special_file_problem(path)  # a FIFO or a device would be read forever
    if problem is not None:
        raise ImageError(f"{path}: {problem}")
    try:
        with Image.open(path) as opened:
            _note_frames(opened, path)
            return _pil_to_rgb(ImageOps.exif_transpose(_shrink(opened, max_edge)))
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not an image") from None
    except PermissionError:
        raise ImageError(f"{path}: no permission to read it") from None
    except UnidentifiedImageError:
        return _load_other(path)
    except Image.DecompressionBombError as err:
        raise ImageError(f"{path}: refused as a possible decompression bomb ({err}); "
                         "shrink it first if it is a real image") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:  # truncated or corrupt data
        raise ImageError(f"{path}: cannot decode the image ({err}); is the file complete?") from None


def _load_other(path: Path) -> np.ndarray:
    """Formats Pillow cannot read: multi-channel float TIFFs (through tifffile)."""
    if path.suffix.lower() in (".tif", ".tiff"):
        try:
            import tifffile

            return _float_to_rgb(np.asarray(tifffile.imread(str(path)), dtype=np.float64))
        except Exception as err:  # tifffile raises many kinds
            raise ImageError(f"{path}: cannot read this TIFF ({err})") from None
    raise ImageError(f"{path}: not an image format this tool reads; convert it to JPEG or PNG")


def _note_frames(img: Image.Image, path: Path) -> None:
    frames = getattr(img, "n_frames", 1)
    if frames > 1:
        log.warning("%s: has %d frames; using the first", path, frames)


def _shrink(img: Image.Image, max_edge: Optional[int]) -> Image.Image:
    """Whole-factor reduction keeping the long edge >= max_edge and the short >= MIN_EDGE."""
    if not max_edge or max(img.size) < 2 * max_edge:
        return img
    if img.format == "JPEG":
        img.draft("RGB", (max_edge, max_edge))  # decode at 1/2, 1/4 or 1/8 scale
    factor = min(max(img.size) // max_edge, min(img.size) // MIN_EDGE)
    if factor >= 2:
        img = img.reduce(factor) if img.mode in ("RGB", "RGBA", "L", "LA") else img
    return img


def _pil_to_rgb(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _float_to_rgb(np.asarray(img, dtype=np.float64))
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)  # transparent areas become white
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def _float_to_rgb(arr: np.ndarray) -> np.ndarray:
    """Integer or float samples of unknown range: [0, 1], [0, 255], [0, 65535], or the maximum."""
    arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
    top = float(arr.max()) if arr.size else 1.0
    scale = next((s for s in (1.0, 255.0, 65535.0) if top <= s), top)
    return _array_to_rgb((arr / scale).clip(0, 1))


def _array_to_rgb(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim == 3 and arr.shape[2] in (1, 2):  # grey, grey + alpha
        arr = np.repeat(arr[:, :, :1], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ImageError(f"an image must be (H, W), (H, W, 1-4) channels, not shaped {arr.shape}")
    arr = arr[:, :, :3]
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    return np.clip(arr.astype(np.float32), 0.0, 1.0)


def load_inputs(content: ImageInput, styles: Sequence[ImageInput], long_edge: int,
                style_scale: Optional[float] = None) -> Tuple[np.ndarray, List[np.ndarray]]:
    """The content and style images as (H, W, 3) float32 in [0, 1], checked (a clear
    :class:`ImageError` for each problem) and shrunk while loading where they are far
    larger than needed; the exact sizes are made per scale by :func:`resize`."""
    content_rgb = load_rgb(content, long_edge)
    check_size(content_rgb, long_edge, _describe(content, "the content image"))
    style_edge = int(long_edge * max(1.0, style_scale or 1.0))
    style_rgbs = []
    for style in styles:
        rgb = load_rgb(style, style_edge)
        check_min_edge(rgb, _describe(style, "the style image"))
        style_rgbs.append(rgb)
    return content_rgb, style_rgbs


def _describe(source: ImageInput, role: str) -> str:
    return role + " array" if isinstance(source, np.ndarray) else str(source)


def save_image(rgb: np.ndarray, path: PathLike) -> Path:
    """Write an (H, W, 3) uint8 image atomically; the format follows the extension.

    The image is encoded in memory, written, and decoded again from the disk before it
    takes the name (Pillow's writers do not all notice a short write on a full disk):
    the file is whole, or an :class:`ImageError` says why not and an earlier file of that
    name is kept.
    """
    path = Path(path)
    fmt = output_format(path)
    image = Image.fromarray(rgb)

    def decodes_whole(tmp: Path) -> None:
        if decoded_size(tmp) != image.size:
            raise IncompleteWrite(f"{tmp}: decodes to another size")

    try:
        buffer = io.BytesIO()
        image.save(buffer, format=fmt.pillow, **fmt.save_options)
        write_verified(path, buffer.getvalue(), decodes_whole)
    except OSError as err:
        raise ImageError(f"{path}: cannot write the image ({err.strerror or err})") from None
    return path


def decoded_size(path: Path) -> Tuple[int, int]:
    """Decode every pixel of ``path`` (``load()``, not ``verify()``, which passes a JPEG
    cut short) and return its size; raises if the file does not decode whole."""
    with Image.open(path) as img:
        img.load()
        return img.size


def is_complete(path: Path) -> bool:
    """An output that exists and decodes whole: only then may --skip-existing trust it."""
    if special_file_problem(path) is not None:
        return False
    try:
        decoded_size(path)
        return True
    except Exception:  # any decoding failure means: do it again
        return False
