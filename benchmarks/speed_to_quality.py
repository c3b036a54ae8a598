"""Speed to quality: the faithful default against the fast recipe, with the real weights.

    python benchmarks/speed_to_quality.py [--edges 256 512] [--save DIR] [--json FILE]
                                          [--fast NAME=VALUE ...]

For each content photo (input/cat.jpg, and tubingen.jpg from ../shared/images or
/work/shared/images when present) with input/starry_night.jpg, at each long edge:

1. runs ``--recipe faithful`` (every default: NAG from noise) to its own stop, and measures
   its final image;
2. runs ``--recipe fast`` (with any ``--fast`` overrides) to its own end, measuring its
   snapshot every ``--check-every`` epochs at the final size: it "gets there" at the first
   snapshot whose content measure AND mean style measure are both at or below the faithful
   default's. The time to get there excludes the time spent measuring.

The measures (neural_style.engine.measures, lower is better): content =
‖F(x) − F(c)‖² / ‖F(c)‖² at relu4_2; style, per layer relu1_1 … relu5_1,
‖G(x) − G(s)‖² / ‖G(s)‖² with G = F·Fᵀ / (H·W), the style resized to the output's long
edge with its aspect kept; "style" is their mean. Target: the fast recipe gets there in at
most one fifth of the faithful default's wall time, in every case. Exit status 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from neural_style import Config, Stylizer  # noqa: E402
from neural_style.config import RECIPES, describe_recipe  # noqa: E402
from neural_style.engine.measures import STYLE_LAYERS, Quality  # noqa: E402
from neural_style.engine.pixels import fit_long_edge  # noqa: E402
from neural_style.io.images import load_rgb, save_image  # noqa: E402

TARGET_RATIO = 5.0
TUBINGEN = [
    ROOT.parent / "shared" / "images" / "tubingen.jpg",
    Path("/work/shared/images/tubingen.jpg"),
]


def contents(extra: List[Path]) -> List[Path]:
    found = [ROOT / "input" / "cat.jpg"]
    tubingen = next((p for p in TUBINGEN if p.is_file()), None)
    if tubingen is None:
        print(
            f"note: tubingen.jpg not found (looked in {', '.join(map(str, TUBINGEN))}); "
            "measuring the cat only",
            flush=True,
        )
    else:
        found.append(tubingen)
    return found + extra


def row(label: str, seconds: float, epochs: int, q: Quality, ratio: str = "") -> str:
    layers = " ".join(f"{q.style_layers[layer]:8.4f}" for layer in STYLE_LAYERS)
    return (
        f"  {label:<24} {seconds:8.1f} {epochs:6d} {ratio:>7} {q.content:8.4f} "
        f"{q.style:8.4f}   {layers}"
    )


def parse_overrides(pairs: List[str]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        out[name.replace("-", "_")] = json.loads(value) if value[:1] in "0123456789-[" else value
    return out


def run_case(
    stylizer: Stylizer,
    content: Path,
    style: Path,
    edge: int,
    fast: Dict[str, Any],
    every: int,
    save: Optional[Path],
) -> Dict[str, Any]:
    started = time.perf_counter()
    faithful = stylizer.stylize(
        content, style, Config.from_recipe("faithful", max_long_edge=edge, seed=0, save_epochs=0)
    )
    faithful_s = time.perf_counter() - started
    height, width = faithful.image.shape[:2]
    shape = (height, width)
    content_rgb = load_rgb(content)
    assert shape == fit_long_edge((content_rgb.shape[0], content_rgb.shape[1]), edge)
    judge = stylizer.judge(content, style, shape)
    goal = judge(faithful.image)

    judging = {"seconds": 0.0}
    reached: Dict[str, Any] = {}

    def check(info: Any, snapshot: Optional[np.ndarray]) -> None:
        if snapshot is None or snapshot.shape[:2] != shape or reached:
            return
        t = time.perf_counter()
        q = judge(snapshot)
        judging["seconds"] += time.perf_counter() - t
        if q.at_most(goal):
            reached.update(
                epoch=info.epoch,
                quality=q,
                seconds=time.perf_counter() - started - judging["seconds"],
            )

    cfg = Config.from_recipe("fast", max_long_edge=edge, seed=0, save_epochs=every, **fast)
    started = time.perf_counter()
    result = stylizer.stylize(content, style, cfg, check)
    fast_s = time.perf_counter() - started - judging["seconds"]
    final = judge(result.image)
    if not reached and final.at_most(goal):  # the last epoch may fall between checks
        reached.update(epoch=result.epochs, quality=final, seconds=fast_s)
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        save_image(faithful.image, save / f"faithful_{content.stem}_{edge}.png")
        save_image(result.image, save / f"fast_{content.stem}_{edge}.png")
    return {
        "content": content.name,
        "edge": edge,
        "shape": list(shape),
        "faithful": {
            "seconds": faithful_s,
            "epochs": faithful.epochs,
            "stop": faithful.stop_reason.value,
            **goal.as_dict(),
        },
        "fast": {"seconds": fast_s, "epochs": result.epochs, **final.as_dict()},
        "reached": None
        if not reached
        else {
            "seconds": reached["seconds"],
            "epoch": reached["epoch"],
            "ratio": faithful_s / reached["seconds"],
            **reached["quality"].as_dict(),
        },
        "_goal": goal,
        "_final": final,
        "_reached": reached,
    }


def report(case: Dict[str, Any]) -> bool:
    print(
        f"\n{case['content']} + starry_night at long edge {case['edge']} "
        f"({case['shape'][1]}x{case['shape'][0]}):"
    )
    print(
        f"  {'run':<24} {'time s':>8} {'epochs':>6} {'ratio':>7} {'content':>8} {'style':>8}   "
        + " ".join(f"{layer:>8}" for layer in STYLE_LAYERS)
    )
    f = case["faithful"]
    print(row(f"faithful ({f['stop']})", f["seconds"], f["epochs"], case["_goal"]))
    reached = case["_reached"]
    if reached:
        r = case["reached"]
        print(
            row(
                "fast, gets there",
                r["seconds"],
                r["epoch"],
                reached["quality"],
                f"{r['ratio']:.1f}x",
            )
        )
    else:
        print("  fast: never reaches both measures of the faithful default")
    print(
        row(
            "fast, to its end",
            case["fast"]["seconds"],
            case["fast"]["epochs"],
            case["_final"],
            f"{f['seconds'] / case['fast']['seconds']:.1f}x",
        )
    )
    return bool(reached) and case["reached"]["ratio"] >= TARGET_RATIO


def cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                wanted = ("avx", "avx2", "avx512f", "fma", "sse4_2", "avx512_bf16", "amx_bf16")
                return " ".join(f for f in line.split(":", 1)[1].split() if f in wanted)
    except OSError:
        pass
    return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--content",
        type=Path,
        action="append",
        default=[],
        help="another content photo (besides the cat and tubingen)",
    )
    parser.add_argument("--style", type=Path, default=ROOT / "input" / "starry_night.jpg")
    parser.add_argument("--edges", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--check-every", type=int, default=5)
    parser.add_argument(
        "--fast",
        nargs="*",
        default=[],
        metavar="NAME=VALUE",
        help="change the fast recipe for this run (to choose it)",
    )
    parser.add_argument("--save", type=Path, help="folder for the final images")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    args = parser.parse_args()
    fast = parse_overrides(args.fast)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores ({cpu_flags()}), "
        f"Python {platform.python_version()}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    print(
        f"faithful: {describe_recipe('faithful')}; fast: "
        f"{', '.join(f'{k}={v}' for k, v in {**RECIPES['fast'], **fast}.items())}"
    )
    stylizer = Stylizer(gpu=-1)
    chosen = stylizer.precision(Config().precision)
    print(f"precision: {chosen.name} ({chosen.reason})")
    cases, ok, photos = [], True, contents(args.content)
    for edge in args.edges:
        for content in photos:
            case = run_case(stylizer, content, args.style, edge, fast, args.check_every, args.save)
            ok = report(case) and ok
            cases.append({k: v for k, v in case.items() if not k.startswith("_")})
            sys.stdout.flush()
            if args.json:  # after every case, so a long run can be read while it goes on
                args.json.write_text(json.dumps(cases, indent=1))
    print(
        f"\ntarget: the fast recipe gets there in <= 1/{TARGET_RATIO:g} of the faithful "
        f"default's time in every case: {'met' if ok else 'NOT met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
