"""Speed to quality: the faithful default against a fast recipe, with the real weights.

    python benchmarks/speed_to_quality.py [--content input/cat.jpg] [--style input/starry_night.jpg]

1. Runs the example's recipe (NAG from noise, stop-eps 0.005) at long edge 256 to its own
   stop, and measures its result with fixed, size-normalised definitions (below).
2. Runs the fast recipe (Adam from the content image, content weight 30) and checks its snapshot
   every few iterations at full size, until both terms are at least as low.

Definitions, on the final uint8 image (what the user gets) at the same size, VGG19 with
average pooling, the example's layers:
  content = mean over C·H·W of (F − P)² at relu4_2
  style   = Σ over relu1_1 … relu5_1 of the mean over C² of (G/(H·W) − A/(H·W))²
Time spent measuring the fast recipe's snapshots is not counted. Target: at most a fifth.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from neural_style import Config, Stylizer  # noqa: E402
from neural_style.config import CONTENT_LAYERS, STYLE_LAYERS  # noqa: E402
from neural_style.engine.graph import positions  # noqa: E402
from neural_style.engine.pixels import fit_long_edge, resize, to_network  # noqa: E402
from neural_style.io.images import load_inputs, save_image  # noqa: E402

FAST_SETTINGS: Dict[str, Any] = dict(optimizer="adam", init="content", content_weight=30.0,
                                     max_num_epochs=300, stop_eps=1e-6)
FAST = Config(**FAST_SETTINGS)
FAST_TEXT = ", ".join(f"{k}={v}" for k, v in FAST_SETTINGS.items())


class Judge:
    """The fixed, size-normalised content and style terms of an image of one size."""

    def __init__(self, stylizer: Stylizer, content: Path, style: Path, edge: int) -> None:
        cfg = Config(max_long_edge=edge)
        content_rgb, (style_rgb,) = load_inputs(content, [style], edge)
        shape = fit_long_edge((content_rgb.shape[0], content_rgb.shape[1]), edge)
        self.shape = shape
        self.graph = stylizer.graph(shape, cfg)
        target = resize(content_rgb, shape)
        self.graph.set_targets(self.graph.style_targets(to_network(resize(style_rgb, shape))),
                               to_network(target))
        self.graph.set_weights(style=1.0, content=1.0)
        self.positions = positions(stylizer.spec, shape, STYLE_LAYERS)
        self.channels = {layer: c for layer, c in zip(STYLE_LAYERS + CONTENT_LAYERS,
                                              (64, 128, 256, 512, 512, 512))}
        self.content_size = 512 * (shape[0] // 8) * (shape[1] // 8)

    def __call__(self, rgb: np.ndarray) -> Tuple[float, float]:
        self.graph.data[:] = to_network(rgb.astype(np.float32) / 255.0)
        raw = self.graph.forward_backward().read()
        style = sum(raw[f"style:{layer}"] / (self.positions[layer] ** 2 * self.channels[layer] ** 2)
                    for layer in STYLE_LAYERS)
        content = raw["content:relu4_2"] / self.content_size
        return float(content), float(style)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", type=Path, default=ROOT / "input" / "cat.jpg")
    parser.add_argument("--style", type=Path, default=ROOT / "input" / "starry_night.jpg")
    parser.add_argument("--long-edge", type=int, default=256)
    parser.add_argument("--check-every", type=int, default=5)
    parser.add_argument("--save", type=Path, help="folder for the two results")
    args = parser.parse_args()
    stylizer = Stylizer(gpu=-1)
    edge = args.long_edge

    started = time.perf_counter()
    faithful = stylizer.stylize(args.content, args.style, Config(max_long_edge=edge, seed=0,
                                                                 save_epochs=0))
    faithful_s = time.perf_counter() - started
    judge = Judge(stylizer, args.content, args.style, edge)
    goal = judge(faithful.image)
    print(f"faithful default: {faithful.stop_reason.value} after {faithful.epochs} epochs, "
          f"{faithful_s:.1f} s; content {goal[0]:.4g}, style {goal[1]:.4g}", flush=True)

    judging_s = [0.0]
    reached: Dict[str, Tuple[int, Tuple[float, float]]] = {}

    def check(info: Any, snapshot: Optional[np.ndarray]) -> None:
        if snapshot is None or snapshot.shape[:2] != judge.shape:
            return
        t = time.perf_counter()
        terms = judge(snapshot)
        judging_s[0] += time.perf_counter() - t
        if terms[0] <= goal[0] and terms[1] <= goal[1]:
            reached["at"] = (info.epoch, terms)
            raise KeyboardInterrupt  # stop here: the engine keeps this epoch's image

    cfg = FAST.replace(max_long_edge=edge, seed=0, save_epochs=args.check_every)
    started = time.perf_counter()
    fast = stylizer.stylize(args.content, args.style, cfg, check)
    fast_s = time.perf_counter() - started - judging_s[0]
    if "at" not in reached:
        print(f"fast recipe {FAST_TEXT}: did not reach both terms in {fast.epochs} iterations "
              f"({fast_s:.1f} s); final {judge(fast.image)}")
        return 1
    epoch, terms = reached["at"]
    print(f"fast recipe {FAST_TEXT}: reached both at iteration {epoch}, {fast_s:.1f} s; "
          f"content {terms[0]:.4g}, style {terms[1]:.4g}")
    print(f"time ratio: {faithful_s / fast_s:.2f}x faster (target >= 5x)")
    if args.save:
        save_image(faithful.image, args.save / "faithful.jpg")
        save_image(fast.image, args.save / "fast.jpg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
