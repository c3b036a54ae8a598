"""Regenerate the README's pictures with the real weights: python docs/make_figures.py

- docs/images/cat_starry_night.jpg: the demo (input/cat.jpg + input/starry_night.jpg, 256 px)
- docs/images/denoise_three_ways.png: that same result undenoised, Gaussian and TV
  (a 2x enlarged crop, so single-pixel dots are visible)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from neural_style import Config, Stylizer  # noqa: E402
from neural_style.config import DENOISE_DEFAULT_STRENGTH  # noqa: E402
from neural_style.images import save_image  # noqa: E402
from neural_style.snapshots import denoise  # noqa: E402

OUT = ROOT / "docs" / "images"


def labelled(rgb: np.ndarray, text: str) -> Image.Image:
    img = Image.fromarray(rgb)
    ImageDraw.Draw(img).rectangle((0, 0, 8 * len(text) + 6, 14), fill=(0, 0, 0))
    ImageDraw.Draw(img).text((3, 1), text, fill=(255, 255, 255))
    return img


def main() -> int:
    cfg = Config(max_long_edge=256, seed=0, denoise="none")
    result = Stylizer(gpu=-1).stylize(ROOT / "input" / "cat.jpg", ROOT / "input" / "starry_night.jpg", cfg)
    raw = result.image
    gauss = denoise(raw, "gaussian", DENOISE_DEFAULT_STRENGTH["gaussian"])
    tv = denoise(raw, "tv", DENOISE_DEFAULT_STRENGTH["tv"])
    save_image(gauss, OUT / "cat_starry_night.jpg")
    crop = (slice(40, 140), slice(60, 200))
    labels = ["none"] + [f"{m} {DENOISE_DEFAULT_STRENGTH[m]:g}" for m in ("gaussian", "tv")]
    panels = [labelled(np.kron(a[crop], np.ones((2, 2, 1), np.uint8)), t)
              for a, t in zip((raw, gauss, tv), labels)]
    sheet = Image.new("RGB", (sum(p.width for p in panels) + 8, panels[0].height), "white")
    x = 0
    for p in panels:
        sheet.paste(p, (x, 0))
        x += p.width + 4
    sheet.save(OUT / "denoise_three_ways.png")
    print(f"{result.stop_reason.value} after {result.epochs} epochs in {result.seconds:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
