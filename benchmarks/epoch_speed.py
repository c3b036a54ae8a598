"""Seconds per epoch in fp32 and in --precision auto, against the bare VGG19 in the same
precision, and peak RSS.

    python benchmarks/epoch_speed.py [--sizes 256x192 512x384] [--epochs 5] [--rounds 4]
                                     [--separate]
    python benchmarks/epoch_speed.py --profile 512x384   # where an epoch's time goes, by operator

Per size, one process times everything in alternating blocks, so that all see the same
machine: blocks of epochs of the optimisation loop (the library's code path: NAG from
noise, stop-eps disabled) in fp32, the bare network's forward+backward in fp32 (conv1_1
... relu5_1, gradient of the image only), the epoch's own graph (network + Gram
matrices + loss terms, forward+backward, no optimiser), then the same three in the
precision ``auto`` picks; the medians are compared, and the spread of the block medians
is printed as the noise. ``paired`` is the median over rounds of each round's epoch /
bare (both blocks saw that round's machine); ``--separate`` times each precision in its
own process, to see whether alternating precisions in one process costs either of them.
Peak RSS is measured in a fresh process per size and precision (a full short run,
nothing else). The CPU flags are printed, so figures from different
machines are not mixed up. Only the public API is used.
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
from typing import Any, Callable, Dict, List, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: The precisions timed by default, in one process.
PAIR = ("fp32", "auto")

#: The flags that decide the precision and the kernels.
SHOWN_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")


def _setup(size: str, epochs: int) -> Tuple[Any, Tuple[int, int], Any, Any, Any]:
    import numpy as np

    from neural_style import Config, Stylizer
    from neural_style.engine.vgg import VGG19
    from neural_style.errors import WeightsError
    from neural_style.io.locate import find_weights

    w, h = (int(v) for v in size.split("x"))
    try:
        real = find_weights().is_file()
    except WeightsError:
        real = False
    rng = np.random.default_rng(0)
    weights = (
        None
        if real
        else {
            k: rng.standard_normal(s).astype(np.float32) * 0.01
            for k, s in VGG19.param_shapes().items()
        }
    )
    stylizer = Stylizer(weights, gpu=-1)
    content = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    style = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    cfg = Config(
        max_long_edge=max(w, h),
        max_num_epochs=epochs + 1,
        stop_eps=1e-12,
        save_epochs=0,
        denoise="none",
        seed=0,
    )
    return stylizer, (h, w), cfg, (content, style), real


def bare_step(stylizer: Any, shape: Tuple[int, int], cfg: Any) -> Callable[[], float]:
    """One forward+backward of the bare network (features at the loss layers, the
    gradient of the image only) in ``cfg.precision``."""
    from neural_style._mxnet import mx
    from neural_style.config import layer_names
    from neural_style.engine.graph import bind_image, network

    layers = list(layer_names(cfg.style_layers) + layer_names(cfg.content_layers))
    symbol = network(stylizer.spec, layers, cfg.pooling, stylizer.precision(cfg.precision))
    data_shape = (1, 3) + shape
    ex = bind_image(symbol, stylizer.params, data_shape, stylizer.ctx)
    _, out_shapes, _ = symbol.infer_shape(data=data_shape)
    heads = [mx.nd.ones(s, ctx=stylizer.ctx) for s in out_shapes]
    ex.arg_dict["data"][:] = mx.nd.random.uniform(-50, 50, data_shape, ctx=stylizer.ctx)

    def step() -> float:
        start = time.perf_counter()
        ex.forward(is_train=True)
        ex.backward(heads)
        ex.grad_dict["data"].wait_to_read()
        return time.perf_counter() - start

    return step


def graph_step(stylizer: Any, shape: Tuple[int, int], cfg: Any) -> Callable[[], float]:
    """The epoch's own bound graph, forward and backward only."""
    graph = stylizer.graph(shape, cfg)

    def step() -> float:
        start = time.perf_counter()
        graph.forward_backward().read()
        graph.grad.wait_to_read()
        return time.perf_counter() - start

    return step


def loop_epochs(stylizer: Any, shape: Tuple[int, int], cfg: Any, epochs: int) -> List[float]:
    """Durations of ``epochs`` epochs of the optimisation loop, continuing from its image."""
    from neural_style.engine.optimise import optimise

    stamps: List[float] = [time.perf_counter()]
    optimise(
        stylizer.graph(shape, cfg),
        cfg.replace(max_num_epochs=epochs + 1),
        lambda info, image: stamps.append(time.perf_counter()),
    )
    return [b - a for a, b in zip(stamps[1:], stamps[2:])]  # the block's first epoch is not timed


def timings(
    size: str, epochs: int, rounds: int, precisions: Sequence[str] = ("fp32", "auto")
) -> Dict[str, Any]:
    import numpy as np

    stylizer, shape, cfg, (content, style), real = _setup(size, epochs)
    auto = stylizer.precision("auto")
    configs = {name: cfg.replace(precision=name) for name in precisions}
    steps: Dict[str, Callable[[], List[float]]] = {}

    def repeat(step: Callable[[], float]) -> Callable[[], List[float]]:
        return lambda: [step() for _ in range(epochs)]

    def loop(c: Any) -> Callable[[], List[float]]:
        return lambda: loop_epochs(stylizer, shape, c, epochs)

    for name, c in configs.items():
        stylizer.stylize(content, style, c.replace(max_num_epochs=2))  # targets bound, warm
        bare, graph = bare_step(stylizer, shape, c), graph_step(stylizer, shape, c)
        bare(), graph()
        steps[f"{name}_epoch"] = loop(c)
        steps[f"{name}_bare"] = repeat(bare)
        steps[f"{name}_graph"] = repeat(graph)
    samples: Dict[str, List[float]] = {k: [] for k in steps}
    block_medians: Dict[str, List[float]] = {k: [] for k in steps}
    for _ in range(rounds):  # alternate, so that all see the same load
        for key, run in steps.items():
            block = run()
            samples[key] += block
            block_medians[key].append(float(np.median(block)))
    out: Dict[str, Any] = {"size": size, "real_weights": real, "auto": str(auto)}
    for key, values in samples.items():
        med = block_medians[key]
        out[key] = float(np.median(values))
        out[key + "_noise"] = (max(med) - min(med)) / float(np.median(med))
    for name in configs:  # epoch / bare within each round (both saw that round's machine)
        pairs = zip(block_medians[f"{name}_epoch"], block_medians[f"{name}_bare"])
        out[f"{name}_paired"] = float(np.median([e / b for e, b in pairs]))
    return out


def peak_rss(size: str, precision: str, epochs: int) -> Dict[str, Any]:
    stylizer, _, cfg, (content, style), _ = _setup(size, epochs)
    stylizer.stylize(content, style, cfg.replace(precision=precision))
    return {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


#: Operator families of the profile's summary (MXNet's operator names, backward included).
FAMILIES: Dict[str, Tuple[str, ...]] = {
    "convolutions": ("Convolution",),
    "relu, pooling": ("Activation", "Pooling"),
    "casts": ("amp_cast", "amp_multicast", "Cast"),
    "gradient sums": ("add_n", "ElementWiseSum", "_grad_add"),
    "Gram matrices": ("FullyConnected", "Reshape", "reshape", "gradientmultiplier"),
    "loss terms": ("sum", "square", "batch_dot", "elemwise_sub", "_sub", "Concat", "BlockGrad"),
}


def family(operator: str) -> str:
    name = operator
    for prefix in ("_backward_", "_contrib_"):
        name = name[len(prefix) :] if name.startswith(prefix) else name
    for label, names in FAMILIES.items():
        if name in names:
            return label
    return "other (optimiser, TV, eps, copies, heads)"


def summary(table: str, passes: int) -> str:
    """ms per pass by :data:`FAMILIES`, from MXNet's aggregate table."""
    totals: Dict[str, float] = {}
    for line in table[table.index("operator") :].splitlines():  # not the C API calls
        parts = line.split()
        if len(parts) == 6 and parts[1].isdigit():
            totals[family(parts[0])] = totals.get(family(parts[0]), 0.0) + float(parts[2])
    rows = sorted(totals.items(), key=lambda kv: -kv[1])
    total = sum(totals.values())
    return "\n".join(
        [f"  {label:<44} {ms / passes:8.1f} ms {ms / total:6.1%}" for label, ms in rows]
        + [f"  {'sum of operator times':<44} {total / passes:8.1f} ms per pass"]
    )


def profile(size: str, precision: str, epochs: int) -> str:
    """MXNet's per-operator times over ``epochs`` passes of the optimisation loop (each
    epoch whole: graph, clipping, TV, optimiser, eps), of the epoch's graph (forward +
    backward) and of the bare network, with a summary by operator family. Run with
    MXNET_EXEC_BULK_EXEC_TRAIN=0 so that operators are not fused into bulks."""
    from neural_style._mxnet import mx

    stylizer, shape, cfg, (content, style), _ = _setup(size, epochs)
    cfg = cfg.replace(precision=precision)
    stylizer.stylize(content, style, cfg.replace(max_num_epochs=2))

    def loop_step() -> float:
        start = time.perf_counter()
        loop_epochs(stylizer, shape, cfg, 1)
        return (time.perf_counter() - start) / 2  # loop_epochs runs one untimed epoch more

    report = []
    for name, step, passes in (
        ("epoch (optimisation loop)", loop_step, 2 * epochs),
        ("epoch graph", graph_step(stylizer, shape, cfg), epochs),
        ("bare network", bare_step(stylizer, shape, cfg), epochs),
    ):
        step()
        mx.profiler.set_config(
            profile_all=True,
            aggregate_stats=True,
            filename=f"/tmp/epoch_speed_profile_{os.getpid()}.json",
        )
        mx.profiler.set_state("run")
        total = sum(step() for _ in range(epochs))
        mx.profiler.set_state("stop")
        table = mx.profiler.dumps(reset=True, sort_by="total", ascending=False)
        report.append(
            f"== {name}, {precision}, {size}: {total / epochs:.3f} s per pass\n"
            + table[table.index("operator") :]
            + "\nby family, per pass:\n"
            + summary(table, passes)
        )
    return "\n".join(report)


def cpu_line() -> str:
    from neural_style.engine.precision import cpu_flags

    flags = cpu_flags()
    shown = " ".join(f for f in SHOWN_FLAGS if f in flags) or "none of " + ",".join(SHOWN_FLAGS)
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return (
        f"cpu: {model}; flags: {shown}; DNNL_MAX_CPU_ISA="
        f"{os.environ.get('DNNL_MAX_CPU_ISA', 'unset')}"
    )


def _child(*args: str) -> Dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: exit status {out.returncode}\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["256x192", "512x384"])
    parser.add_argument("--epochs", type=int, default=5, help="epochs per block")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds of blocks")
    parser.add_argument("--profile", metavar="WxH", help="per-operator times instead")
    parser.add_argument("--precision", default="auto", help="with --profile")
    parser.add_argument(
        "--separate",
        action="store_true",
        help="time each precision in its own process (by default one process alternates "
        "fp32 and auto blocks, so that both see the same machine)",
    )
    parser.add_argument("--time", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--rss", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.time:
        print(json.dumps(timings(args.time[0], args.epochs, args.rounds, args.time[1:] or PAIR)))
        return 0
    if args.rss:
        print(json.dumps(peak_rss(args.rss[0], args.rss[1], args.epochs)))
        return 0
    import neural_style._mxnet  # noqa: F401  (sets DNNL_MAX_CPU_ISA as the runs will see it)

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS', 'unset (all usable cores)')}"
    )
    print(cpu_line())
    if args.profile:
        print(profile(args.profile, args.precision, args.epochs))
        return 0
    print(
        f"{'size':>9} {'precision':>9} {'epoch s':>8} {'bare f+b s':>10} {'ratio':>6} "
        f"{'paired':>6} {'graph f+b s':>11} {'ratio':>6} {'vs fp32':>7} {'noise':>6} "
        f"{'peak RSS MB':>11}"
    )
    for size in args.sizes:
        groups = [["fp32"], ["auto"]] if args.separate else [["fp32", "auto"]]
        r: Dict[str, Any] = {}
        for names in groups:
            flags = ("--epochs", str(args.epochs), "--rounds", str(args.rounds))
            r.update(_child("--time", size, *names, *flags))
        for name in ("fp32", "auto"):
            rss = _child("--rss", size, name, "--epochs", str(args.epochs))["peak_rss_mb"]
            epoch, bare, graph = r[f"{name}_epoch"], r[f"{name}_bare"], r[f"{name}_graph"]
            noise = max(r[f"{name}_{k}_noise"] for k in ("epoch", "bare", "graph"))
            label = name if name == "fp32" else f"auto={r['auto'].split()[0]}"
            print(
                f"{size:>9} {label:>9} {epoch:8.3f} {bare:10.3f} {epoch / bare:6.2f} "
                f"{r[f'{name}_paired']:6.2f} {graph:11.3f} {epoch / graph:6.2f} "
                f"{r['fp32_epoch'] / epoch:6.2f}x "
                f"{noise:6.0%} {rss:11.0f}" + ("" if r["real_weights"] else "  (random weights)")
            )
        print(f"{'':>9} auto: {r['auto']}")
    print(
        "bare f+b: conv1_1 ... relu5_1 alone, same precision; graph f+b: the epoch's graph "
        "(Gram matrices and loss terms), no optimiser; ratio: epoch / bare, then epoch / "
        "graph; paired: the median over rounds of each round's epoch / bare; vs fp32: fp32 "
        "epoch / this epoch; noise: the largest spread of the block medians (max-min)/median"
        + ("; each precision timed in its own process" if args.separate else "")
    )
    print("targets: epoch/bare <= 1.10; auto >= 1.6x fp32 at 512x384 on a CPU with avx512_bf16")
    return 0


if __name__ == "__main__":
    sys.exit(main())
