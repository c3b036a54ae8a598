"""Image files in and out: the formats by extension, loading with Pillow (EXIF
orientation applied, ICC profiles converted to sRGB, any mode made RGB, large files reduced
while decoding but kept >= 3x the working size) and atomic, sRGB-tagged saving. The
network's view of the pixels is :mod:`neural_style.engine.pixels`.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..engine.pixels import check_min_edge, check_size, fit_long_edge
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
    ".jpg": ImageFormat("JPEG", save_options=_LOSSY),
    ".jpeg": ImageFormat("JPEG", save_options=_LOSSY),
    ".png": ImageFormat("PNG"),
    ".bmp": ImageFormat("BMP"),
    ".gif": ImageFormat("GIF", writable=False),
    ".tif": ImageFormat("TIFF"),
    ".tiff": ImageFormat("TIFF"),
    ".webp": ImageFormat("WEBP", save_options=_LOSSY),
}
OUTPUT_SUFFIXES = tuple(sorted(s for s, f in IMAGE_FORMATS.items() if f.writable))

#: Formats whose files carry the sRGB profile the pixels are in (BMP has no place for one).
_TAGGED_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP")


def output_format(path: PathLike) -> ImageFormat:
    """The format an output path is written in, or an :class:`ImageError`."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ImageError(
            f"{path}: unknown output extension {suffix or '(none)'!r}; "
            f"use one of {', '.join(OUTPUT_SUFFIXES)}"
        )
    return IMAGE_FORMATS[suffix]


#: Reduce while decoding only while the image stays at least this many times the working
#: size on both sides (Pillow's ``reducing_gap`` idea); the anti-aliased resize then makes
#: the exact size. Whole-factor (box) and JPEG DCT-domain reduction down to the working size
#: itself would keep a different texture than the MXNet example's resize of the full image
#: and move the Gram targets (issue 8); with a 3x margin the difference is within rounding.
REDUCING_GAP = 3

#: The most memory a file's decoded pixels may take (in Pillow's own storage, before any
#: reduction); beyond it the file is refused with an :class:`ImageError`, per job. JPEGs are
#: counted at the scale they are decoded at, so a 12000x9000 photo costs little.
MAX_DECODE_BYTES = 1 << 30

#: Bytes per pixel of Pillow's storage for each mode (4 for every mode not listed).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}

#: Modes whose samples are 16-bit integers, read as [0, 65535].
_MODES_16 = ("I;16", "I;16L", "I;16B", "I;16N")

#: Modes Pillow's ``reduce`` accepts; the others are converted strip by strip to these.
_WORK_MODE = {"1": "L", "P": "RGBA", "I;16": "I", "I;16L": "I", "I;16B": "I", "I;16N": "I"}

#: Rows of output produced per strip when a mode must be converted before reducing.
_STRIP_ROWS = 64

_SRGB = None  # the sRGB profile, built on first use (ImageCms)


def srgb_profile() -> Any:
    """Little CMS's sRGB profile (an ``ImageCmsProfile``), built once."""
    global _SRGB
    if _SRGB is None:
        from PIL import ImageCms

        _SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return _SRGB


def load_rgb(
    source: ImageInput, max_edge: Optional[int] = None, shape: Optional[Tuple[int, int]] = None
) -> np.ndarray:
    """An (H, W, 3) float32 sRGB array in [0, 1] from a file path or an array.

    Files are read-only; EXIF orientation is applied; an embedded ICC profile is honoured
    (the pixels are converted to sRGB, Little CMS through Pillow's ImageCms); any mode
    becomes RGB (alpha over white); an animated image gives its first frame. The working
    size the image will be resized to is ``shape`` (H, W) if given, else its own aspect at
    long edge ``max_edge``; a larger image is then reduced while decoding, but only while
    it stays at least :data:`REDUCING_GAP` times that size on both sides, so memory stays
    bounded by the pixels needed and the final resize is the same as from the full image.
    A file whose decoded pixels would take more than :data:`MAX_DECODE_BYTES` is refused.
    Every failure is an :class:`ImageError` naming the file.
    """
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source)
    path = Path(source)
    problem = special_file_problem(path)  # a FIFO or a device would be read forever
    if problem is not None:
        raise ImageError(f"{path}: {problem}")
    try:
        with warnings.catch_warnings():  # our own limit replaces Pillow's size warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                _note_frames(opened, path)
                original = (opened.height, opened.width)
                target = _working_size(opened, max_edge, shape)
                reduced = _shrink(opened, target, path)
                sigma = _missing_blur(original, (reduced.height, reduced.width), target)
                if opened.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                    sigma = (sigma[1], sigma[0])
                rgb = _pil_to_rgb(ImageOps.exif_transpose(reduced), path)
                return _blur(rgb, sigma)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not an image") from None
    except PermissionError:
        raise ImageError(f"{path}: no permission to read it") from None
    except UnidentifiedImageError:
        return _load_other(path, max_edge, shape)
    except Image.DecompressionBombError as err:
        raise ImageError(
            f"{path}: refused as a possible decompression bomb ({err}); "
            "shrink it first if it is a real image"
        ) from None
    except MemoryError:
        raise ImageError(f"{path}: not enough memory to decode it; shrink it first") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:  # truncated or corrupt data
        raise ImageError(
            f"{path}: cannot decode the image ({err}); is the file complete?"
        ) from None


def _working_size(
    img: Image.Image, max_edge: Optional[int], shape: Optional[Tuple[int, int]]
) -> Optional[Tuple[int, int]]:
    """The (H, W) the image will be resized to, in the file's own orientation (before the
    EXIF rotation), or None when it is not known (then nothing is reduced)."""
    if shape is not None:
        rotated = img.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # EXIF orientation swaps axes
        return (shape[1], shape[0]) if rotated else (shape[0], shape[1])
    if max_edge:
        return fit_long_edge((img.height, img.width), max_edge)
    return None


def _load_other(
    path: Path, max_edge: Optional[int], shape: Optional[Tuple[int, int]]
) -> np.ndarray:
    """Formats Pillow cannot read: multi-channel float TIFFs (through tifffile)."""
    if path.suffix.lower() in (".tif", ".tiff"):
        try:
            import tifffile

            with tifffile.TiffFile(str(path)) as tif:
                page = tif.pages[0]
                itemsize = page.dtype.itemsize if page.dtype is not None else 8
                _check_decode_bytes(path, int(np.prod(page.shape)) * itemsize)
                arr = np.asarray(tif.asarray(), dtype=np.float32)
        except ImageError:
            raise
        except MemoryError:
            raise ImageError(f"{path}: not enough memory to decode it; shrink it first") from None
        except Exception as err:  # tifffile raises many kinds
            raise ImageError(f"{path}: cannot read this TIFF ({err})") from None
        size = (arr.shape[0], arr.shape[1])
        target = shape or (fit_long_edge(size, max_edge) if max_edge else None)
        reduced = _block_mean(arr, target)
        sigma = _missing_blur(size, (reduced.shape[0], reduced.shape[1]), target)
        return _blur(_float_to_rgb(reduced), sigma)
    raise ImageError(f"{path}: not an image format this tool reads; convert it to JPEG or PNG")


def _block_mean(arr: np.ndarray, target: Optional[Tuple[int, int]]) -> np.ndarray:
    """The array reduced by the whole factor of :func:`_shrink` (mean of blocks)."""
    factor = _factor(arr.shape[0], arr.shape[1], target)
    if factor < 2:
        return arr
    h, w = arr.shape[0] // factor * factor, arr.shape[1] // factor * factor
    blocks = arr[:h, :w].reshape((h // factor, factor, w // factor, factor) + arr.shape[2:])
    return blocks.mean(axis=(1, 3), dtype=np.float32)


def _note_frames(img: Image.Image, path: Path) -> None:
    frames = getattr(img, "n_frames", 1)
    if frames > 1:
        log.warning("%s: has %d frames; using the first", path, frames)


def _factor(height: int, width: int, target: Optional[Tuple[int, int]]) -> int:
    """The largest whole reduction that keeps both sides at least REDUCING_GAP times the
    working size, and that size at least MIN_EDGE (so a too-thin image is still reported
    at its own size), 1 for none."""
    if target is None:
        return 1
    th, tw = max(MIN_EDGE, target[0]), max(MIN_EDGE, target[1])
    return max(1, min(width // (REDUCING_GAP * tw), height // (REDUCING_GAP * th)))


def _check_decode_bytes(path: Path, size: int) -> None:
    if size > MAX_DECODE_BYTES:
        raise ImageError(
            f"{path}: decoding it would take {size / 2**20:,.0f} MiB, over the "
            f"limit of {MAX_DECODE_BYTES / 2**20:,.0f} MiB; shrink it first "
            "(the working size is far smaller)"
        )


def _shrink(img: Image.Image, target: Optional[Tuple[int, int]], path: Path) -> Image.Image:
    """Decode, reducing by whole factors while the image stays >= REDUCING_GAP times the
    working size ``target`` (H, W) on both sides: JPEGs in the DCT domain (``draft``),
    other formats right after decoding (Pillow's ``reduce``, a box filter)."""
    if target is not None and img.format == "JPEG":
        img.draft(
            None, (REDUCING_GAP * max(MIN_EDGE, target[1]), REDUCING_GAP * max(MIN_EDGE, target[0]))
        )
    _check_decode_bytes(path, img.width * img.height * _MODE_BYTES.get(img.mode, 4))
    img.load()
    factor = _factor(img.height, img.width, target)
    if factor < 2:
        return img
    work = _WORK_MODE.get(img.mode, img.mode)
    if work == "RGBA" and img.mode == "P" and "transparency" not in img.info:
        work = "RGB"
    if work == img.mode:
        return img.reduce(factor)
    return _reduce_in_strips(img, factor, work)


def _missing_blur(
    original: Tuple[int, int], reduced: Tuple[int, int], target: Optional[Tuple[int, int]]
) -> Tuple[float, float]:
    """The Gaussian sigma (H, W; in reduced pixels) that makes reduce-then-resize blur as
    much as resizing the full image would.

    scikit-image's anti-aliasing filter for a reduction by s is a Gaussian of sigma
    (s − 1)/2 (variance ((s − 1)/2)² in original pixels). After a whole reduction by k
    (a box: variance (k² − 1)/12), the resize by s/k adds ((s/k − 1)/2)²·k². The sum is
    less than the full-size filter's; the difference, added here, brings the network input
    from about 1.5 to about 0.25 grey levels (mean) of the full decode's on textured images.
    """
    if target is None:
        return (0.0, 0.0)
    sigmas = []
    for full, now, want in zip(original, reduced, target):
        k, s = full / now, full / max(1, want)
        if k <= 1 or s <= k:
            sigmas.append(0.0)
            continue
        var = ((s - 1) / 2) ** 2 - ((s - k) / 2) ** 2 - (k * k - 1) / 12
        sigmas.append(float(np.sqrt(max(var, 0.0)) / k))
    return sigmas[0], sigmas[1]


def _blur(rgb: np.ndarray, sigma: Tuple[float, float]) -> np.ndarray:
    if max(sigma) <= 0.0:
        return rgb
    from scipy import ndimage

    return ndimage.gaussian_filter(rgb, (sigma[0], sigma[1], 0.0), mode="mirror")


def _reduce_in_strips(img: Image.Image, factor: int, mode: str) -> Image.Image:
    """``img.convert(mode).reduce(factor)``, a strip at a time, so the converted copy of a
    large image (16-bit samples as 32-bit, a palette as RGB) never exists whole."""
    out_w, out_h = img.width // factor, img.height // factor
    out = Image.new(mode, (out_w, out_h))
    for row in range(0, out_h, _STRIP_ROWS):
        rows = min(_STRIP_ROWS, out_h - row)
        strip = img.crop((0, row * factor, out_w * factor, (row + rows) * factor))
        out.paste(strip.convert(mode).reduce(factor), (0, row))
    out.info = dict(img.info)
    if img.mode in _MODES_16:
        out.info["_sixteen_bit"] = True
    return out


def _pil_to_rgb(img: Image.Image, path: Path) -> np.ndarray:
    if img.mode in _MODES_16 or img.info.get("_sixteen_bit"):
        return _array_to_rgb(np.asarray(img, dtype=np.float32) / 65535.0)
    if img.mode in ("I", "F"):
        return _float_to_rgb(np.asarray(img, dtype=np.float32))
    img = _to_srgb(img, path)
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        img.mode == "P" and "transparency" in img.info
    ):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)  # transparent areas become white
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def _to_srgb(img: Image.Image, path: Path) -> Image.Image:
    """The image converted from its embedded ICC profile to sRGB (unchanged without one).

    Phones write Display P3 and cameras Adobe RGB; read as if they were sRGB their
    colours come out shifted (issue 9). Alpha is kept; a profile Little CMS cannot use
    is reported once and ignored.
    """
    icc = img.info.get("icc_profile")
    if not icc:
        return img
    from PIL import ImageCms

    alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        img.mode == "P" and "transparency" in img.info
    )
    if img.mode not in ("RGB", "RGBA", "L", "CMYK"):
        img = img.convert("RGBA" if alpha else "RGB")
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        out = ImageCms.profileToProfile(
            img, source, srgb_profile(), outputMode="RGBA" if img.mode == "RGBA" else "RGB"
        )
    except (ImageCms.PyCMSError, OSError, ValueError) as err:
        log.warning("%s: ignoring its colour profile, which cannot be used (%s)", path, err)
        return img
    assert out is not None
    return out


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


def load_inputs(
    content: ImageInput,
    styles: Sequence[ImageInput],
    long_edge: int,
    style_scale: Optional[float] = None,
    load: Optional[Callable[..., np.ndarray]] = None,
) -> Tuple[np.ndarray, List[np.ndarray]]:
    """The content and style images as (H, W, 3) float32 in [0, 1], checked (a clear
    :class:`ImageError` for each problem) and reduced while decoding where they are far
    larger than needed (see :func:`load_rgb`); the exact sizes are made per scale by
    :func:`resize`. The working sizes are those of the largest scale: the content at
    ``long_edge``; each style stretched to the content's shape, or with ``style_scale``
    at its own aspect, ``style_scale`` times the content's long edge. ``load``: how an
    image is read (:func:`load_rgb`; a :class:`ShapeReader` for checks that need only
    the shapes)."""
    load = load or load_rgb  # looked up now, not when this was defined
    content_rgb = load(content, long_edge)
    shape = check_size(content_rgb, long_edge, _describe(content, "the content image"))
    style_edge = max(MIN_EDGE, round((style_scale or 1.0) * max(shape)))
    style_rgbs = []
    for style in styles:
        rgb = load(style, style_edge) if style_scale else load(style, shape=shape)
        check_min_edge(rgb, _describe(style, "the style image"))
        style_rgbs.append(rgb)
    return content_rgb, style_rgbs


class ShapeReader:
    """:func:`load_rgb` for checks that need only an image's working shape (a dry run):
    each (image, size) is decoded once, as a run would decode it, and comes back as an
    array of that shape that holds no pixels (zeros, every element the same memory); a
    failure is raised again, the same, each time the image is asked for."""

    def __init__(self, load: Optional[Callable[..., np.ndarray]] = None) -> None:
        self._load = load or load_rgb
        self._seen: Dict[Tuple[Any, ...], Union[Tuple[int, ...], ImageError]] = {}

    def __call__(
        self,
        source: ImageInput,
        max_edge: Optional[int] = None,
        shape: Optional[Tuple[int, int]] = None,
    ) -> np.ndarray:
        if isinstance(source, np.ndarray):
            return self._load(source, max_edge, shape)
        key = (str(source), max_edge, shape)
        if key not in self._seen:
            try:
                self._seen[key] = self._load(source, max_edge, shape).shape
            except ImageError as err:
                self._seen[key] = err
        seen = self._seen[key]
        if isinstance(seen, ImageError):
            raise ImageError(seen.message, seen.field)
        return np.broadcast_to(np.zeros((), np.float32), seen)


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
        tag = {"icc_profile": srgb_profile().tobytes()} if fmt.pillow in _TAGGED_FORMATS else {}
        image.save(buffer, format=fmt.pillow, **fmt.save_options, **tag)  # the pixels are sRGB
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
