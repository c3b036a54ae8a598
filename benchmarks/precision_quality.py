"""Is quality traded away by --precision auto? Per-layer measures of fp32 and auto results.

    python benchmarks/precision_quality.py [--content input/cat.jpg]
        [--style input/starry_night.jpg] [--edge 256] [--seed 0]
        [--recipes faithful fast] [--out DIR]

For each recipe (read from neural_style.config.RECIPES, so the benchmark follows the
recipes as they change), three runs with the real weights, each to the recipe's own stop:
  fp32   the recipe in fp32, with --seed;
  auto   the same in the precision ``auto`` picks (bf16 on a CPU with avx512_bf16/amx_bf16);
  spread the recipe in fp32 again, perturbed by chance alone: --seed + 1 for a recipe that
         starts from noise; for one whose start ignores the seed (--init content), the
         content image plus ±1 intensity level of noise drawn with --seed (--init image).
Every image is measured by neural_style.engine.measures (the project's quality measures,
in fp32, lower is better): content at relu4_2 and style at relu1_1 ... relu5_1, with
their mean. Printed per recipe and measure: the fp32 value, auto's and its relative
difference to fp32 (target: within 2%), the spread run's and its difference to fp32:
the optimisation is chaotic (a different stop epoch gives a different image), so a
precision difference below the spread cannot be told from chance. Each run's seconds and
epochs, and auto's speed-up to its result, are printed too; timings are those of a shared
machine (compare ratios; rerun on a quiet one). The images are written to --out to be
looked at.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from neural_style import Config, Stylizer  # noqa: E402
from neural_style.config import RECIPES, describe_recipe  # noqa: E402
from neural_style.engine.pixels import fit_long_edge, resize  # noqa: E402
from neural_style.io.images import load_rgb, save_image  # noqa: E402

RUNS = ("fp32", "auto", "spread")


def run_config(recipe: str, run: str, edge: int, seed: int, perturbed: Path) -> Config:
    """The Config of one of :data:`RUNS` of ``recipe``."""
    cfg = Config.from_recipe(
        recipe,
        max_long_edge=edge,
        seed=seed,
        save_epochs=0,
        precision="auto" if run == "auto" else "fp32",
    )
    if run != "spread":
        return cfg
    if cfg.init == "noise":
        return cfg.replace(seed=seed + 1)
    return cfg.replace(init="image", init_image=str(perturbed))


def perturbed_content(content: Path, edge: int, seed: int, folder: Path) -> Path:
    """The content image at ``edge`` plus ±1 intensity level of noise (a PNG)."""
    rgb = load_rgb(content, edge)
    rgb = resize(rgb, fit_long_edge((rgb.shape[0], rgb.shape[1]), edge))
    noise = np.random.default_rng(seed).integers(-1, 2, rgb.shape)
    path = folder / "content_plus_noise.png"
    save_image(np.clip(np.rint(rgb * 255.0) + noise, 0, 255).astype(np.uint8), path)
    return path


def spread_label(cfg: Config, seed: int) -> str:
    return f"fp32 seed {seed + 1}" if cfg.init == "noise" else "fp32 start ±1 level"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", type=Path, default=ROOT / "input" / "cat.jpg")
    parser.add_argument("--style", type=Path, default=ROOT / "input" / "starry_night.jpg")
    parser.add_argument("--edge", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--out", type=Path, help="where the images go (default: a temp dir)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="precision_quality_"))
    out.mkdir(parents=True, exist_ok=True)
    stylizer = Stylizer(gpu=-1)
    auto = stylizer.precision("auto")
    print(
        f"auto: {auto}; {args.content.name} + {args.style.name} at long edge {args.edge}, "
        f"seed {args.seed}; images in {out}"
    )
    perturbed = perturbed_content(args.content, args.edge, args.seed, out)
    for recipe in args.recipes:
        measured: Dict[str, Dict[str, float]] = {}
        timing: Dict[str, Tuple[float, int]] = {}
        for run in RUNS:
            cfg = run_config(recipe, run, args.edge, args.seed, perturbed)
            started = time.perf_counter()
            result = stylizer.stylize(args.content, args.style, cfg)
            timing[run] = (time.perf_counter() - started, result.epochs)
            result.save(out / f"{recipe}_{run}.png")
            judge = stylizer.judge(args.content, args.style, result.image.shape[:2])
            measured[run] = judge(result.image).as_dict()
        cfg = run_config(recipe, "spread", args.edge, args.seed, perturbed)
        (s32, e32), (slo, elo), (ssp, esp) = (timing[r] for r in RUNS)
        print(
            f"\n{recipe} recipe ({describe_recipe(recipe)}): fp32 {e32} epochs in {s32:.1f} s; "
            f"auto ({auto.name}) {elo} epochs in {slo:.1f} s, {s32 / slo:.2f}x faster to its "
            f"result; {spread_label(cfg, args.seed)} {esp} epochs in {ssp:.1f} s"
        )
        m32, mlo, msp = (measured[r] for r in RUNS)
        print(
            f"  {'measure':<14} {'fp32':>9} {auto.name:>9} {'diff':>7} "
            f"{'spread run':>10} {'diff':>7}"
        )
        worst: List[float] = []
        spread: List[float] = []
        for name in m32:
            diff = abs(mlo[name] - m32[name]) / m32[name]
            chance = abs(msp[name] - m32[name]) / m32[name]
            worst.append(diff)
            spread.append(chance)
            print(
                f"  {name:<14} {m32[name]:9.4f} {mlo[name]:9.4f} {diff:7.2%} "
                f"{msp[name]:10.4f} {chance:7.2%}"
            )
        print(
            f"  largest difference {auto.name} vs fp32: {max(worst):.2%} (target: within 2%); "
            f"fp32 vs {spread_label(cfg, args.seed)}: {max(spread):.2%}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
