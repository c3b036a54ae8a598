"""A minimal ICC v2 RGB matrix/TRC profile writer, for tests: the profiles phones and
cameras embed (Display P3, Adobe RGB) are of this kind, and none ships with Pillow."""

from __future__ import annotations

import struct
from typing import List, Sequence, Tuple

#: Adobe RGB (1998): colorants adapted to D50 (as in Adobe's profile), gamma 563/256.
ADOBE_RGB = ((0.6097, 0.3111, 0.0195), (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446))
ADOBE_GAMMA = 563 / 256
#: sRGB's colorants adapted to D50 (Little CMS's built-in sRGB profile).
SRGB_D50 = ((0.43607, 0.22249, 0.01392), (0.38515, 0.71687, 0.09708), (0.14307, 0.06061, 0.71410))
D50 = (0.9642, 1.0, 0.8249)


def _s15(v: float) -> bytes:
    return struct.pack(">i", int(round(v * 65536)))


def _xyz(xyz: Sequence[float]) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(v) for v in xyz)


def _desc(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    return (
        b"desc\0\0\0\0"
        + struct.pack(">I", len(ascii_))
        + ascii_
        + struct.pack(">II", 0, 0)
        + struct.pack(">HB", 0, 0)
        + b"\0" * 67
    )


def _curve(gamma: float) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, int(round(gamma * 256))) + b"\0\0"


def matrix_profile(
    colorants: Sequence[Sequence[float]] = ADOBE_RGB,
    gamma: float = ADOBE_GAMMA,
    name: str = "Test Adobe RGB (1998)",
) -> bytes:
    """The bytes of an RGB display profile with these D50 colorants and a pure gamma."""
    tags: List[Tuple[bytes, bytes]] = [
        (b"desc", _desc(name)),
        (b"wtpt", _xyz(D50)),
        (b"cprt", b"text\0\0\0\0no copyright, test data\0"),
    ]
    for sig, xyz in zip((b"rXYZ", b"gXYZ", b"bXYZ"), colorants):
        tags.append((sig, _xyz(xyz)))
    for sig in (b"rTRC", b"gTRC", b"bTRC"):
        tags.append((sig, _curve(gamma)))
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (
        struct.pack(">I", size)
        + b"\0" * 4
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2016, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\0" * 24
        + struct.pack(">I", 0)
        + b"".join(_s15(v) for v in D50)
        + b"\0" * 4
    )
    header += b"\0" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + data
