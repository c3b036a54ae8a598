"""Seconds per epoch against the bare VGG19 forward+backward of the same graph, and peak RSS.

    python benchmarks/epoch_speed.py [--sizes 256x192 512x384] [--epochs 20]

Each size runs in a fresh process so its peak RSS is its own: first the full
optimisation (the library's code path, from noise, stop-eps disabled), whose peak RSS
is read right after it. Then, in the same process, blocks of epochs of that loop and
blocks of the bare network's forward+backward (conv1_1 ... relu5_1, gradient of the
image only) alternate, so that both see the same machine; the medians are compared.
Uses the real weights when the search order (neural_style.io.locate) finds them; timings
do not depend on the values.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def bare_executor(stylizer: Any, shape: tuple, cfg: Any) -> Any:
    from neural_style._mxnet import mx
    from neural_style.engine.graph import feature_symbols

    layers = cfg.style_layers + cfg.content_layers
    feats = feature_symbols(stylizer.spec, layers)
    net = mx.sym.Group([feats[name] for name in layers])
    data_shape = (1, 3) + shape
    arg_shapes, out_shapes, _ = net.infer_shape(data=data_shape)
    args = {n: stylizer._params.get(n, mx.nd.zeros(s, ctx=stylizer.ctx))
            for n, s in zip(net.list_arguments(), arg_shapes)}
    grad_req = {n: ("write" if n == "data" else "null") for n in args}
    ex = net.bind(stylizer.ctx, args=args, args_grad={"data": mx.nd.zeros(data_shape, ctx=stylizer.ctx)},
                  grad_req=grad_req)
    heads = [mx.nd.ones(s, ctx=stylizer.ctx) for s in out_shapes]
    ex.arg_dict["data"][:] = mx.nd.random.uniform(-50, 50, data_shape, ctx=stylizer.ctx)

    def step() -> float:
        start = time.perf_counter()
        ex.forward(is_train=True)
        ex.backward(heads)
        ex.grad_dict["data"].wait_to_read()
        return time.perf_counter() - start

    return step


def loop_epochs(stylizer: Any, shape: tuple, cfg: Any, epochs: int) -> List[float]:
    """Durations of ``epochs`` epochs of the optimisation loop, continuing from its image."""
    from neural_style.engine.optimise import optimise

    stamps: List[float] = [time.perf_counter()]
    optimise(stylizer.graph(shape, cfg), cfg.replace(max_num_epochs=epochs),
             lambda info, image: stamps.append(time.perf_counter()))
    return [b - a for a, b in zip(stamps[1:], stamps[2:])]  # the block's first epoch is not timed


def one(size: str, epochs: int) -> Dict[str, Any]:
    import numpy as np

    from neural_style import Config, Stylizer
    from neural_style.errors import WeightsError
    from neural_style.io.locate import find_weights

    w, h = (int(v) for v in size.split("x"))
    try:
        real = find_weights().is_file()
    except WeightsError:
        real = False
    weights = None if real else {k: np.random.default_rng(0).standard_normal(s).astype(np.float32) * 0.01
                                 for k, s in __import__("neural_style.engine.vgg", fromlist=["VGG19"]).VGG19.param_shapes().items()}
    stylizer = Stylizer(weights, gpu=-1)
    rng = np.random.default_rng(0)
    content = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    style = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    cfg = Config(max_long_edge=max(w, h), max_num_epochs=epochs + 1, stop_eps=1e-12,
                 save_epochs=0, denoise="none", seed=0)
    stylizer.stylize(content, style, cfg)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    bare_step, graph_step = bare_executor(stylizer, (h, w), cfg), graph_forward_backward(stylizer, (h, w), cfg)
    bare_step(), graph_step()  # warm-up
    epoch_times: List[float] = []
    bare_times: List[float] = []
    graph_times: List[float] = []
    for _ in range(4):  # alternate, so that all three see the same load
        epoch_times += loop_epochs(stylizer, (h, w), cfg, epochs + 1)
        bare_times += [bare_step() for _ in range(epochs)]
        graph_times += [graph_step() for _ in range(epochs)]
    per_epoch, bare = float(np.median(epoch_times)), float(np.median(bare_times))
    graph = float(np.median(graph_times))
    return {"size": size, "epoch_s": per_epoch, "bare_s": bare, "graph_s": graph,
            "ratio": per_epoch / bare, "graph_ratio": per_epoch / graph,
            "peak_rss_mb": peak_mb, "real_weights": real}


def graph_forward_backward(stylizer: Any, shape: tuple, cfg: Any) -> Any:
    """The epoch's own bound graph (VGG19 with the Gram matrices and loss terms), forward
    and backward only: what an epoch costs without the optimiser and the stop rule."""
    graph = stylizer.graph(shape, cfg)

    def step() -> float:
        start = time.perf_counter()
        graph.forward_backward().read()
        return time.perf_counter() - start

    return step


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["256x192", "512x384"])
    parser.add_argument("--epochs", type=int, default=5, help="epochs per block (4 blocks)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.epochs)))
        return 0
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset (all usable cores)')}")
    print(f"{'size':>9} {'epoch s':>8} {'VGG f+b s':>10} {'ratio':>6} {'graph f+b s':>11} "
          f"{'ratio':>6} {'peak RSS MB':>11}   (medians of alternating blocks)")
    for size in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--one", size, "--epochs", str(args.epochs)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['size']:>9} {r['epoch_s']:8.3f} {r['bare_s']:10.3f} {r['ratio']:6.2f} "
              f"{r['graph_s']:11.3f} {r['graph_ratio']:6.2f} {r['peak_rss_mb']:11.0f}"
              + ("" if r["real_weights"] else "  (random weights)"))
    print("VGG f+b: conv1_1 ... relu5_1 alone; graph f+b: the epoch's graph, with the Gram "
          "matrices and loss terms")
    print("targets: ratio <= 1.10; peak RSS at 512x384 <= 1100 MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
