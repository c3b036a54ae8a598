"""Regenerate the README's pictures with the real weights: python docs/make_figures.py

- docs/images/cat_starry_night.jpg: the demo (input/cat.jpg + input/starry_night.jpg, 256 px)
- docs/images/denoise_three_ways.png: that same result undenoised, Gaussian and TV
  (a 2x enlarged crop, so single-pixel dots are visible)
- docs/images/progress_sheet.jpg: that run's snapshots every 50 epochs (--progress-sheet)
- docs/images/gallery.jpg: the cat under the four shipped paintings, with --recipe fast
(docs/images/speed_*.jpg come from benchmarks/speed_to_quality.py --save)
Every denoised figure uses the current default strengths (Gaussian sigma 0.2 since issue 8).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from neural_style import Config, Stylizer  # noqa: E402
from neural_style.engine.denoise import (
    DENOISE_DEFAULT_STRENGTH,  # noqa: E402
    denoise,  # noqa: E402
)
from neural_style.io.images import save_image  # noqa: E402
from neural_style.io.snapshots import progress_sheet  # noqa: E402

STYLES = ["starry_night", "the_scream", "shipwreck", "woman-with-hat-matisse"]
FAST = Config.from_recipe("fast", max_long_edge=256, seed=0, save_epochs=0)

OUT = ROOT / "docs" / "images"


def labelled(rgb: np.ndarray, text: str) -> Image.Image:
    img = Image.fromarray(rgb)
    ImageDraw.Draw(img).rectangle((0, 0, 8 * len(text) + 6, 14), fill=(0, 0, 0))
    ImageDraw.Draw(img).text((3, 1), text, fill=(255, 255, 255))
    return img


def main() -> int:
    cfg = Config(max_long_edge=256, seed=0, denoise="none")
    stylizer = Stylizer(gpu=-1)
    snapshots = []

    def keep(info, snapshot):  # type: ignore[no-untyped-def]
        if snapshot is not None:
            snapshots.append(
                (info.epoch, denoise(snapshot, "gaussian", DENOISE_DEFAULT_STRENGTH["gaussian"]))
            )

    result = stylizer.stylize(
        ROOT / "input" / "cat.jpg", ROOT / "input" / "starry_night.jpg", cfg, keep
    )
    raw = result.image
    gauss = denoise(raw, "gaussian", DENOISE_DEFAULT_STRENGTH["gaussian"])
    tv = denoise(raw, "tv", DENOISE_DEFAULT_STRENGTH["tv"])
    save_image(gauss, OUT / "cat_starry_night.jpg")
    crop = (slice(40, 140), slice(60, 200))
    labels = ["none"] + [f"{m} {DENOISE_DEFAULT_STRENGTH[m]:g}" for m in ("gaussian", "tv")]
    panels = [
        labelled(np.kron(a[crop], np.ones((2, 2, 1), np.uint8)), t)
        for a, t in zip((raw, gauss, tv), labels)
    ]
    sheet = Image.new("RGB", (sum(p.width for p in panels) + 8, panels[0].height), "white")
    x = 0
    for p in panels:
        sheet.paste(p, (x, 0))
        x += p.width + 4
    sheet.save(OUT / "denoise_three_ways.png")
    snapshots.append((result.epochs, gauss))
    save_image(progress_sheet(snapshots, columns=4), OUT / "progress_sheet.jpg")
    tiles = [
        labelled(
            stylizer.stylize(
                ROOT / "input" / "cat.jpg", ROOT / "input" / f"{name}.jpg", FAST
            ).image,
            name,
        )
        for name in STYLES
    ]
    gallery = Image.new("RGB", (2 * tiles[0].width + 4, 2 * tiles[0].height + 4), "white")
    for n, tile in enumerate(tiles):
        gallery.paste(tile, ((n % 2) * (tile.width + 4), (n // 2) * (tile.height + 4)))
    gallery.save(OUT / "gallery.jpg", quality=92)
    print(f"{result.stop_reason.value} after {result.epochs} epochs in {result.seconds:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
