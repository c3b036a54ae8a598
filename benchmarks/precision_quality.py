"""Is quality traded away by --precision auto? Per-layer measures of fp32 and auto results.

    python benchmarks/precision_quality.py [--content input/cat.jpg]
        [--style input/starry_night.jpg] [--edge 256] [--seed 0]

Runs the default recipe (NAG from noise, to its stop) and the fast recipe (Adam from the
content image, content weight 30) once in fp32 and once in the precision ``auto`` picks,
with the same seed and the real weights. Each final uint8 image is measured in fp32 by
the same definitions, per layer:
  style L   = ‖G_L(image) − G_L(style)‖_F / ‖G_L(style)‖_F   (Gram matrices, relu1_1 … relu5_1)
  content   = ‖F(image) − F(content)‖_F / ‖F(content)‖_F        (relu4_2)
and the relative difference of each measure between the two precisions is printed
(target: within 2%), with each run's seconds and epochs and the speed ratio. Timings are
those of a shared machine; compare the ratio, and rerun on a quiet one.

With --floor, a third run in fp32 shows how far the measures move for a change that has
nothing to do with precision (the optimisation is chaotic: a different stop epoch gives a
different image): the default recipe with seed + 1, the fast recipe from the content
image with ±1 intensity level of noise (--init image). Differences below that floor
cannot be told from chance.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from neural_style import Config, Stylizer  # noqa: E402
from neural_style.config import CONTENT_LAYERS, STYLE_LAYERS  # noqa: E402
from neural_style.engine.graph import bind_image, network  # noqa: E402
from neural_style.engine.pixels import resize, to_network  # noqa: E402
from neural_style.io.images import load_inputs, save_image  # noqa: E402

RECIPES: Dict[str, Dict[str, Any]] = {
    "default": {},
    "fast": {"optimizer": "adam", "init": "content", "content_weight": 30.0},
}
LAYERS = list(STYLE_LAYERS + CONTENT_LAYERS)


class Measures:
    """The fp32 features of images of one shape, and the per-layer relative errors."""

    def __init__(
        self, stylizer: Stylizer, shape: Tuple[int, int], content: np.ndarray, style: np.ndarray
    ) -> None:
        self.shape = (1, 3) + shape
        self._ex = bind_image(
            network(stylizer.spec, LAYERS), stylizer.params, self.shape, stylizer.ctx
        )
        feats = self._features(content)
        self.content = feats[CONTENT_LAYERS[0]]
        self.grams = {
            layer: self._gram(f)
            for layer, f in self._features(style).items()
            if layer in STYLE_LAYERS
        }

    def _features(self, rgb: np.ndarray) -> Dict[str, np.ndarray]:
        self._ex.arg_dict["data"][:] = to_network(resize(rgb, self.shape[2:]))
        self._ex.forward(is_train=False)
        return {
            layer: out.asnumpy().astype(np.float64) for layer, out in zip(LAYERS, self._ex.outputs)
        }

    @staticmethod
    def _gram(features: np.ndarray) -> np.ndarray:
        flat = features.reshape(features.shape[1], -1)
        return flat @ flat.T

    def __call__(self, image: np.ndarray) -> Dict[str, float]:
        feats = self._features(image.astype(np.float32) / 255.0)
        out = {
            f"style {layer}": float(
                np.linalg.norm(self._gram(feats[layer]) - target) / np.linalg.norm(target)
            )
            for layer, target in self.grams.items()
        }
        c = CONTENT_LAYERS[0]
        out[f"content {c}"] = float(
            np.linalg.norm(feats[c] - self.content) / np.linalg.norm(self.content)
        )
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", type=Path, default=ROOT / "input" / "cat.jpg")
    parser.add_argument("--style", type=Path, default=ROOT / "input" / "starry_night.jpg")
    parser.add_argument("--edge", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--floor", action="store_true", help="also a perturbed fp32 run")
    args = parser.parse_args()
    stylizer = Stylizer(gpu=-1)
    content, (style,) = load_inputs(args.content, [args.style], args.edge)
    auto = stylizer.precision("auto")
    print(
        f"auto: {auto}; {args.content.name} + {args.style.name} at long edge {args.edge}, "
        f"seed {args.seed}"
    )
    perturbed = Path(tempfile.mkdtemp()) / "content_plus_noise.png"
    noise = np.random.default_rng(args.seed).integers(-1, 2, content.shape)
    save_image(np.clip(np.rint(content * 255.0) + noise, 0, 255).astype(np.uint8), perturbed)
    for recipe in args.recipes:
        results: Dict[str, Tuple[Dict[str, float], float, int]] = {}
        runs = ["fp32", "auto"] + (["floor"] if args.floor else [])
        for precision in runs:
            cfg = Config(
                max_long_edge=args.edge,
                seed=args.seed,
                save_epochs=0,
                precision="auto" if precision == "auto" else "fp32",
                **RECIPES[recipe],
            )
            if precision == "floor":
                cfg = (
                    cfg.replace(seed=args.seed + 1)
                    if cfg.init == "noise"
                    else cfg.replace(init="image", init_image=str(perturbed))
                )
            started = time.perf_counter()
            result = stylizer.stylize(content, style, cfg)
            seconds = time.perf_counter() - started
            judge = Measures(stylizer, result.image.shape[:2], content, style)
            results[precision] = (judge(result.image), seconds, result.epochs)
        (m32, s32, e32), (mlo, slo, elo) = results["fp32"], results["auto"]
        print(
            f"\n{recipe} recipe: fp32 {e32} epochs in {s32:.1f} s; auto ({auto.name}) {elo} "
            f"epochs in {slo:.1f} s: {s32 / slo:.2f}x faster to its result"
        )
        print(f"  {'measure':<16} {'fp32':>9} {auto.name:>9} {'rel diff':>9}")
        worst: List[float] = []
        for name in m32:
            diff = abs(mlo[name] - m32[name]) / m32[name]
            worst.append(diff)
            print(f"  {name:<16} {m32[name]:9.4f} {mlo[name]:9.4f} {diff:9.2%}")
        print(f"  largest relative difference: {max(worst):.2%} (target: within 2%)")
        if "floor" in results:
            mfl, _, efl = results["floor"]
            floor = max(abs(mfl[n] - m32[n]) / m32[n] for n in m32)
            print(
                f"  floor: fp32 perturbed ({efl} epochs) differs from fp32 by up to {floor:.2%}: "
                + ", ".join(f"{n.split()[-1]} {abs(mfl[n] - m32[n]) / m32[n]:.1%}" for n in m32)
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
