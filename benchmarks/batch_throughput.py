"""One batch process against separate processes, for the same work.

    python benchmarks/batch_throughput.py [--images 8] [--epochs 20] [--long-edge 128]

8 content images (crops of input/cat.jpg, so they share a size as a camera's photos do)
x 1 style (input/starry_night.jpg), each for a fixed number of epochs: first one
``neural-style`` process with all of them, then one process per image. Prints both
wall times and the throughput ratio. Target: the batch at least 1.5x.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def make_contents(folder: Path, count: int) -> List[Path]:
    with Image.open(ROOT / "input" / "cat.jpg") as opened:
        cat = opened.convert("RGB")
        paths = []
        for i in range(count):
            box = (i * 8, i * 4, i * 8 + 360, i * 4 + 240)
            paths.append(folder / f"cat{i}.jpg")
            cat.crop(box).save(paths[-1], quality=95)
    return paths


def command(contents: List[Path], out: Path, args: argparse.Namespace) -> List[str]:
    return [
        sys.executable,
        "-m",
        "neural_style",
        "--content-image",
        *map(str, contents),
        "--style-image",
        str(ROOT / "input" / "starry_night.jpg"),
        "--gpu",
        "-1",
        "--max-long-edge",
        str(args.long_edge),
        "--max-num-epochs",
        str(args.epochs),
        "--stop-eps",
        "1e-9",
        "--save-epochs",
        "0",
        "--output-dir",
        str(out),
        "--seed",
        "0",
        "-q",
        "--output-template",
        "{content}.jpg",
    ]


def timed(cmd: List[str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        cmd,
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--long-edge", type=int, default=128)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        contents = make_contents(folder, args.images)
        batch = timed(command(contents, folder / "batch", args))
        separate = sum(
            timed(command([c], folder / f"one{i}", args)) for i, c in enumerate(contents)
        )
    print(
        f"{args.images} images x 1 style, long edge {args.long_edge}, {args.epochs} epochs each, "
        f"{os.cpu_count()} cores"
    )
    print(f"one batch process:    {batch:7.1f} s")
    print(f"{args.images} separate processes: {separate:7.1f} s")
    print(f"throughput ratio:     {separate / batch:7.2f}x (target >= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
