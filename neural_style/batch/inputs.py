"""Content and style images from paths, globs and folders, and how they pair up."""

from __future__ import annotations

import glob
import itertools
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

from ..errors import ConfigError
from ..io.images import IMAGE_FORMATS

PAIRINGS = ("product", "zip")


def expand_images(specs: Sequence[str], flag: str) -> List[Path]:
    """Paths, globs and folders (their images, sorted) -> a list of image paths.

    A path that exists is used as it is, even with ``[``, ``*`` or ``?`` in its name; only
    one that does not exist is read as a glob. A plain path is kept even if it does not
    exist: that job fails on its own. A glob that matches nothing, or a folder with no
    images, is a usage error.
    """
    found: List[Path] = []
    for spec in specs:
        path = Path(spec)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_FORMATS)
            if not images:
                raise ConfigError(f"{flag}: no images in folder {spec}")
            found.extend(images)
        elif glob.has_magic(spec):
            matches = sorted(Path(m) for m in glob.glob(spec, recursive=True) if Path(m).is_file())
            if not matches:
                raise ConfigError(f"{flag}: no file matches {spec!r}")
            found.extend(matches)
        else:
            found.append(path)
    return found


def expand_styles(specs: Sequence[str]) -> List[Tuple[Path, ...]]:
    """Like :func:`expand_images`, but ``a.jpg,b.jpg`` (not an existing file) is one
    style made of several images, blended with --style-blend-weights."""
    out: List[Tuple[Path, ...]] = []
    for spec in specs:
        if "," in spec and not Path(spec).exists():
            out.append(tuple(Path(part.strip()) for part in spec.split(",") if part.strip()))
        else:
            out.extend((path,) for path in expand_images([spec], "--style-image"))
    return out


StylePair = Tuple[Path, Tuple[Path, ...]]


def pair(contents: Sequence[Path], styles: Sequence[Tuple[Path, ...]], how: str) -> List[StylePair]:
    """Every content with every style (``product``), or position by position (``zip``);
    the same image twice, or the same pair twice, is refused (it would be the same job)."""
    if how == "zip":
        if len(contents) != len(styles):
            raise ConfigError(
                f"--pairs zip: {len(contents)} content images but {len(styles)} "
                "style images; give as many of each, or use --pairs product"
            )
        pairs = list(zip(contents, styles))
        _once(
            [_resolved(c, *s) for c, s in pairs],
            "--pairs zip: the pair",
            [f"{c} + {'+'.join(map(str, s))}" for c, s in pairs],
        )
        return pairs
    _once([_resolved(c) for c in contents], "--content-image:", [str(c) for c in contents])
    _once(
        [_resolved(*s) for s in styles], "--style-image:", ["+".join(map(str, s)) for s in styles]
    )
    return list(itertools.product(contents, styles))


def _resolved(*paths: Path) -> Tuple[Path, ...]:
    from .outputs import resolved  # a symlink loop is compared as written

    return tuple(resolved(p) for p in paths)


def _once(keys: Sequence[object], what: str, shown: Sequence[str]) -> None:
    first: Dict[object, int] = {}
    for i, key in enumerate(keys):
        if key in first:
            same = "" if shown[first[key]] == shown[i] else f" (as {shown[first[key]]})"
            raise ConfigError(f"{what} {shown[i]} is given twice{same}; name each once")
        first[key] = i


def flatten(values: Iterable[Sequence[str]]) -> List[str]:
    return [v for group in values for v in group]
