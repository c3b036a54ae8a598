"""Tiled optimisation with the real VGG19: memory model, peak memory, cost per pixel,
quality against the untiled run, and seams. Prints figures and the CPU flags; asserts
nothing (targets are judged by reading the figures).

    flock /tmp/neural-style-heavy.lock python benchmarks/tiles.py model [--precision fp32]
    flock /tmp/neural-style-heavy.lock python benchmarks/tiles.py memory
    flock /tmp/neural-style-heavy.lock python benchmarks/tiles.py quality --epochs 10 \
        --precision fp32 [--size 2048]
    flock /tmp/neural-style-heavy.lock python benchmarks/tiles.py run --size 4096 \
        --epochs 2 --sweeps 1
    flock /tmp/neural-style-heavy.lock python benchmarks/tiles.py throughput --precision fp32

``quality --untiled FILE`` keeps the untiled run's report in FILE and reuses it, so several
tilings (``--margin``, ``--overlap``, ``--sweeps``) can be compared with one untiled run.

Each run is a subprocess, so its peak RSS (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONTENT = Path("/work/shared/images/tubingen.jpg")
STYLE = ROOT / "input" / "starry_night.jpg"


def cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                keep = (
                    "avx",
                    "avx2",
                    "avx512f",
                    "fma",
                    "sse4_2",
                    "avx512_bf16",
                    "amx_tile",
                    "amx_bf16",
                )
                return " ".join(f for f in line.split(":")[1].split() if f in keep)
    except OSError:
        pass
    return platform.processor()


def peak() -> int:
    """This process's peak RSS: VmHWM (ru_maxrss would carry the parent's peak over)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---- children ------------------------------------------------------------------------------


def child_model(side: int, precision: str = "auto") -> Dict[str, Any]:
    """Peak RSS with a whole-image graph bound at side x side, after a forward+backward."""
    from neural_style.api import Stylizer
    from neural_style.config import Config

    stylizer = Stylizer()
    base = peak()
    if side:
        graph = stylizer.graph((side, side), Config(precision=precision))
        graph.data[:] = np.random.default_rng(0).uniform(-50, 50, graph.shape)
        graph.forward_backward()
        graph.grad.wait_to_read()
    return {"side": side, "base": base, "peak": peak()}


def measures(image: np.ndarray, content_rgb: np.ndarray, style_rgb: np.ndarray) -> Dict[str, float]:
    """Per-layer relative errors of an output, with a whole-image graph: ‖G − A‖/‖A‖ per
    style layer and ‖F − P‖/‖P‖ for the content layer."""
    from neural_style.api import Stylizer
    from neural_style.config import Config
    from neural_style.engine.pixels import resize, to_network

    shape = (image.shape[0], image.shape[1])
    graph = Stylizer().graph(shape, Config(precision="fp32"))  # measured in fp32
    x = to_network(image.astype(np.float32) / 255.0)
    style_now = graph.targets(x, "style")
    style_target = graph.targets(to_network(resize(style_rgb, shape)), "style")
    content_now = graph.targets(x, "content")
    content_target = graph.targets(to_network(resize(content_rgb, shape)), "content")
    result = {
        name: float(np.linalg.norm(style_now[name] - a) / np.linalg.norm(a))
        for name, a in style_target.items()
    }
    result["style:mean"] = float(np.mean(list(result.values())))
    for name, p in content_target.items():
        result[name] = float(np.linalg.norm(content_now[name] - p) / np.linalg.norm(p))
    return result


def seam_figures(image: np.ndarray, cfg: Any, window: int) -> Dict[str, Any]:
    from neural_style.engine import tiles

    shape = (image.shape[0], image.shape[1])
    rows, cols = tiles.cuts(tiles.grid(shape, window, cfg.tile_margin, cfg.tile_overlap))
    ratios = tiles.seam_ratios(image, rows, cols)
    local = tiles.local_seam_ratios(image, rows, cols, cfg.tile_overlap)
    # the same measure at ordinary lines (each boundary moved 40 px): its own spread
    ordinary = tiles.local_seam_ratios(
        image,
        [r + 40 for r in rows if r + 40 < shape[0] - 1],
        [c + 40 for c in cols if c + 40 < shape[1] - 1],
        cfg.tile_overlap,
    )
    # the literal measure (over the mean elsewhere) at those ordinary lines: its spread
    plain = tiles.seam_ratios(
        image,
        [r + 40 for r in rows if r + 40 < shape[0] - 1],
        [c + 40 for c in cols if c + 40 < shape[1] - 1],
    )
    # every line across each blend ramp (a seam can lie beside the boundary), averaged
    # over the boundaries, each over the lines just outside its ramp
    profiles = tiles.band_profiles(image, rows, cols, cfg.tile_overlap)
    profile = np.nanmean(profiles, axis=0) if len(profiles) else np.ones(1)
    return {
        "band_profile": [round(float(v), 3) for v in profile],
        "band_min": float(np.min(profile)),
        "band_max": float(np.max(profile)),
        "boundaries": len(ratios),
        "seam_ratios": [round(r, 3) for r in ratios],
        "ordinary_seam_ratios": [round(r, 3) for r in plain],
        "rows": rows,
        "cols": cols,
        "seam_ratio_min": min(ratios, default=1.0),
        "seam_ratio_max": max(ratios, default=1.0),
        "seam_ratio_mean": float(np.mean(ratios)) if ratios else 1.0,
        "local_seam_ratios": [round(r, 3) for r in local],
        "local_ordinary_ratios": [round(r, 3) for r in ordinary],
    }


def setup(intervals: List[float]) -> float:
    """The one-off part of a size's time: its first interval (from the previous size's
    end: the style targets at this size, binding, the first epoch or tile) less a typical
    one (the median of the others; every tile of a sweep has one shape, so with one sweep,
    as in the README's figures, they are alike; with more, an odd sweep's other shape and
    its binding count in the loop)."""
    if len(intervals) < 2:
        return 0.0
    return max(0.0, intervals[0] - float(np.median(intervals[1:])))


def child_run(
    size: int,
    tile: Any,
    epochs: int,
    sweeps: int,
    scales: int,
    out: str,
    optimizer: str,
    precision: str = "auto",
    margin: Optional[int] = None,
    overlap: Optional[int] = None,
    recipe: str = "faithful",
    min_sweep_epochs: Optional[int] = None,
) -> Dict[str, Any]:
    from neural_style.api import Stylizer
    from neural_style.config import Config
    from neural_style.engine import tiled
    from neural_style.io.images import save_image

    if min_sweep_epochs is not None:  # memory: sweeps of fewer epochs reach the same peak
        tiled.MIN_SWEEP_EPOCHS = min_sweep_epochs

    cfg = Config.from_recipe(
        recipe,
        max_long_edge=size,
        tile=tile,
        max_num_epochs=epochs,
        tile_sweeps=sweeps,
        scales=scales,
        start_long_edge=512 if scales > 1 else None,
        optimizer=optimizer,
        precision=precision,
        init="content",
        seed=0,
        save_epochs=0,
        stop_eps=1e-9,
        denoise="none",
    )
    if margin is not None:
        cfg = cfg.replace(tile_margin=margin)
    if overlap is not None:
        cfg = cfg.replace(tile_overlap=overlap)
    times: Dict[str, float] = {}
    steps: Dict[str, List[float]] = {}  # each callback's interval: an epoch, or a tile
    last = {"t": time.perf_counter(), "scale": -1}

    def on_epoch(info: Any, _: Any) -> None:
        now = time.perf_counter()
        key = f"scale{info.scale}"
        times[key] = times.get(key, 0.0) + (now - last["t"])
        steps.setdefault(key, []).append(now - last["t"])
        last["t"] = now
        if info.tiles:
            sys.stderr.write(
                f"scale {info.scale} sweep {info.sweep}/{info.sweeps} tile "
                f"{info.tile}/{info.tiles} epoch {info.epoch} eta {info.eta:.0f}s\n"
            )

    stylizer = Stylizer()
    started = time.perf_counter()
    result = stylizer.stylize(CONTENT, STYLE, cfg, on_epoch)
    seconds = time.perf_counter() - started
    save_image(result.image, Path(out))
    report: Dict[str, Any] = {
        "size": f"{result.image.shape[1]}x{result.image.shape[0]}",
        "tile": tile,
        "epochs_per_scale": epochs,
        "sweeps": sweeps,
        "scales": scales,
        "optimizer": optimizer,
        "recipe": recipe,
        "seconds": seconds,
        "scale_seconds": times,
        "setup_seconds": {key: setup(v) for key, v in steps.items()},
        "margin": cfg.tile_margin,
        "overlap": cfg.tile_overlap,
        "peak_rss": peak(),
        "precision": stylizer.precision(cfg.precision).name,
        "output": out,
    }
    if tile is not None:
        from neural_style.engine.tiles import grid

        tiles = grid(
            (result.image.shape[0], result.image.shape[1]), tile, cfg.tile_margin, cfg.tile_overlap
        )
        report.update(tiles=len(tiles), tile_shape=list(tiles[0].shape))
        report.update(seam_figures(result.image, cfg, tile))
    return report


def child_throughput(size: int, tile: int, precision: str, rounds: int = 3) -> Dict[str, Any]:
    """Seconds per forward+backward of the objective's graph at the whole image's shape
    and at its tiles' window shape, alternating in one process (both see the same
    machine): how much a pixel costs more in a small graph."""
    from neural_style.api import Stylizer
    from neural_style.config import Config
    from neural_style.engine import tiles
    from neural_style.engine.pixels import fit_long_edge

    cfg = Config(precision=precision)
    whole = fit_long_edge((768, 1024), size)
    window = tiles.grid(whole, tile, cfg.tile_margin, cfg.tile_overlap)[0].shape
    stylizer = Stylizer()
    graphs = {}
    for shape in (whole, window):
        graphs[shape] = stylizer.graph(shape, cfg)
        graphs[shape].data[:] = np.random.default_rng(0).uniform(-50, 50, graphs[shape].shape)
        graphs[shape].forward_backward()  # oneDNN's first pass creates its primitives
        graphs[shape].grad.wait_to_read()
    times: Dict[Any, List[float]] = {shape: [] for shape in graphs}
    for _ in range(rounds):
        for shape, graph in graphs.items():
            started = time.perf_counter()
            for _ in range(3):
                graph.forward_backward()
                graph.grad.wait_to_read()
            times[shape].append((time.perf_counter() - started) / 3)
    out: Dict[str, Any] = {}
    for label, shape in (("whole", whole), ("window", window)):
        seconds = float(np.median(times[shape]))
        out[label] = {
            "precision": stylizer.precision(precision, shape[1]).name,
            "shape": shape,
            "seconds": seconds,
            "us_per_pixel": seconds / (shape[0] * shape[1]) * 1e6,
        }
    return out


# ---- the parent ----------------------------------------------------------------------------


def spawn(*args: Any) -> Dict[str, Any]:
    cmd = [sys.executable, __file__, "child", *map(str, args)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT))
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def model(precision: str) -> None:
    a, b = spawn("model", 256, precision), spawn("model", 512, precision)
    per_pixel = (b["peak"] - a["peak"]) / (512**2 - 256**2)
    base = a["peak"] - per_pixel * 256**2
    print(
        f"weights loaded: {a['base'] / 2**20:.0f} MB; bound 256^2: {a['peak'] / 2**20:.0f} MB; "
        f"512^2: {b['peak'] / 2**20:.0f} MB"
    )
    print(f"model ({precision}): bytes = {base / 2**20:.0f} MB + {per_pixel:.0f} B x pixels")


def quality(
    epochs: int,
    tile: int,
    optimizer: str,
    precision: str,
    sweeps: int,
    margin: Optional[int],
    overlap: Optional[int],
    untiled: Optional[Path],
    recipe: str = "faithful",
    size: int = 1024,
) -> None:
    """The tiled run at ``size`` (long edge; 1024x768 by default, the quality target's
    size) against the untiled one (``untiled``: a JSON file that keeps the untiled run's
    report, reused if it exists, so several tilings can be compared with one untiled
    run). At 2048 the untiled graph takes about 8 GB (fp32): the seams at print size
    against the untiled picture at the same lines."""
    from neural_style.config import Config
    from neural_style.engine import tiles
    from neural_style.io.images import load_rgb

    out = ROOT / "output" / "bench-tiles"
    out.mkdir(parents=True, exist_ok=True)
    wanted = {"epochs_per_scale": epochs, "optimizer": optimizer, "recipe": recipe}
    wanted["size"] = f"{size}x{size * 3 // 4}"  # tubingen: 4:3
    kept = json.loads(untiled.read_text()) if untiled is not None and untiled.is_file() else {}
    if (
        "setup_seconds" in kept
        and all(kept.get(k) == v for k, v in wanted.items())
        and (precision == "auto" or kept.get("precision") == precision)
    ):
        whole = kept  # the same untiled run as this command would make
    else:
        whole = spawn(
            "run",
            size,
            "none",
            epochs,
            1,
            2,
            out / f"whole-{size}-e{epochs}-{optimizer}-{recipe}-{precision}.png",
            optimizer,
            precision,
            None,
            None,
            recipe,
        )
        if untiled is not None:
            untiled.write_text(json.dumps(whole))
    print(json.dumps(whole), flush=True)
    m, o = ("default" if v is None else v for v in (margin, overlap))
    name = f"tiled-{size}-m{m}-o{o}-s{sweeps}-e{epochs}-{optimizer}-{recipe}-{precision}.png"
    tiled = spawn(
        "run",
        size,
        tile,
        epochs,
        sweeps,
        2,
        out / name,
        optimizer,
        precision,
        margin,
        overlap,
        recipe,
    )
    content, style = load_rgb(str(CONTENT), size), load_rgb(str(STYLE), size)
    images = {}
    for label, r in (("untiled", whole), ("tiled", tiled)):
        images[label] = np.rint(load_rgb(r["output"], size) * 255).astype(np.uint8)
        r["measures"] = measures(images[label], content, style)
        print(label, json.dumps(r, indent=None))
    pixels = int(np.prod(images["tiled"].shape[:2]))
    spent = {label: r["scale_seconds"]["scale1"] for label, r in (("w", whole), ("t", tiled))}
    once = {label: r["setup_seconds"]["scale1"] for label, r in (("w", whole), ("t", tiled))}
    w_cost, t_cost = (spent[k] / (epochs * pixels) for k in ("w", "t"))
    w_loop, t_loop = ((spent[k] - once[k]) / (epochs * pixels) for k in ("w", "t"))
    print(
        f"margin {tiled['margin']}, overlap {tiled['overlap']}, {sweeps} sweep(s); cost per "
        f"output pixel per epoch at {tiled['size']}, the size's whole time: untiled "
        f"{w_cost * 1e6:.2f} us, tiled {t_cost * 1e6:.2f} us: ratio {t_cost / w_cost:.3f} "
        f"(target <= 1.3)"
    )
    print(
        f"  without the one-off setup (style targets at this size, binding: untiled "
        f"{once['w']:.1f} s, tiled {once['t']:.1f} s): untiled {w_loop * 1e6:.2f} us, tiled "
        f"{t_loop * 1e6:.2f} us: ratio {t_loop / w_loop:.3f}"
    )
    for key in whole["measures"]:
        u, t = whole["measures"][key], tiled["measures"][key]
        print(f"  {key:16s} untiled {u:.4f}  tiled {t:.4f}  ({(t / u - 1) * 100:+.1f}%)")
    cfg = Config(tile_sweeps=sweeps).replace(
        tile_margin=tiled["margin"], tile_overlap=tiled["overlap"]
    )
    rows, cols = tiled["rows"], tiled["cols"]
    control = tiles.local_seam_ratios(images["untiled"], rows, cols, cfg.tile_overlap)
    literal = tiles.seam_ratios(images["untiled"], rows, cols)
    print(
        f"seams, literal (the mean gradient across each boundary over its mean elsewhere; "
        f"target within 10% of 1): tiled {tiled['seam_ratios']}; the untiled output at the "
        f"same lines {[round(c, 3) for c in literal]}; tiled at ordinary lines "
        f"{tiled['ordinary_seam_ratios']}"
    )
    print(
        f"seams: boundaries {tiled['local_seam_ratios']}; the untiled output at the same "
        f"lines {[round(c, 3) for c in control]}; tiled over untiled "
        f"{[round(a / b, 3) for a, b in zip(tiled['local_seam_ratios'], control)]}; "
        f"ordinary lines {tiled['local_ordinary_ratios']}"
    )
    print(
        f"seams across the ramps (each line from -overlap to +overlap, the boundaries' "
        f"mean): {tiled['band_min']:.2f} .. {tiled['band_max']:.2f}; {tiled['band_profile']}"
    )


def memory(tile: int) -> None:
    """Peak RSS of the tiled path at 1024x768 and 4096x3072 with Adam's state kept
    (2 sweeps of 1 epoch: enough to reach every phase's peak, the second sweep's with the
    kept state) and their ratio (target: at most 1.10, and 2e9 bytes)."""
    out = ROOT / "output" / "bench-tiles"
    out.mkdir(parents=True, exist_ok=True)
    runs = {}
    for size in (1024, 4096):
        png = out / f"memory-{size}.png"
        r = spawn("run", size, tile, 2, 2, 1, png, "adam", "auto", None, None, "faithful", 1)
        runs[size] = r
        print(json.dumps(r), flush=True)
        print(
            f"{r['size']} --tile {tile}: peak RSS {r['peak_rss'] / 1e9:.3f} GB "
            f"({r['peak_rss'] / 2**30:.3f} GiB), {r['seconds']:.0f} s, {r['precision']}; "
            f"{r['tiles']} tiles of {r['tile_shape'][1]}x{r['tile_shape'][0]} (the graph's shape)",
            flush=True,
        )
    print(f"ratio 4096x3072 / 1024x768: {runs[4096]['peak_rss'] / runs[1024]['peak_rss']:.3f}")


def main() -> None:
    if sys.argv[1] == "child":
        kind, args = sys.argv[2], sys.argv[3:]
        if kind == "model":
            print(json.dumps(child_model(int(args[0]), *args[1:2])))
        elif kind == "throughput":
            print(json.dumps(child_throughput(int(args[0]), int(args[1]), args[2])))
        else:
            tile = None if args[1] == "none" else int(args[1])
            margin, overlap = (
                None if len(args) <= k or args[k] == "None" else int(args[k]) for k in (8, 9)
            )
            print(
                json.dumps(
                    child_run(
                        int(args[0]),
                        tile,
                        int(args[2]),
                        int(args[3]),
                        int(args[4]),
                        args[5],
                        args[6],
                        args[7] if len(args) > 7 else "auto",
                        margin,
                        overlap,
                        args[10] if len(args) > 10 else "faithful",
                        int(args[11]) if len(args) > 11 else None,
                    )
                )
            )
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("model", "memory", "quality", "run", "throughput"))
    parser.add_argument("--epochs", type=int, default=20)
    from neural_style.config import Config

    parser.add_argument("--sweeps", type=int, default=Config().tile_sweeps)
    parser.add_argument("--scales", type=int, default=1)
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument(
        "--size", type=int, default=None, help="long edge: run 4096, quality 1024 by default"
    )
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--precision", default="auto")
    parser.add_argument(
        "--recipe", default="faithful", help="quality: the --recipe both runs start from"
    )
    parser.add_argument("--margin", type=int, default=None, help="--tile-margin")
    parser.add_argument("--overlap", type=int, default=None, help="--tile-overlap")
    parser.add_argument(
        "--untiled", type=Path, default=None, help="quality: keep/reuse the untiled run here"
    )
    ns = parser.parse_args()
    print(f"CPU flags: {cpu_flags()}; cores: {len(__import__('os').sched_getaffinity(0))}")
    if ns.what == "model":
        model(ns.precision)
    elif ns.what == "memory":
        memory(ns.tile)
    elif ns.what == "throughput":
        r = spawn("throughput", 1024, ns.tile, ns.precision)
        w, t = r["whole"], r["window"]
        print(
            f"objective graph forward+backward: whole {w['shape']} in {w['precision']} "
            f"{w['seconds']:.3f} s, {w['us_per_pixel']:.2f} us a pixel; window {t['shape']} "
            f"in {t['precision']} {t['seconds']:.3f} s, {t['us_per_pixel']:.2f} us a pixel: "
            f"{t['us_per_pixel'] / w['us_per_pixel']:.2f}x a pixel in the window"
        )
    elif ns.what == "quality":
        quality(
            ns.epochs,
            ns.tile,
            ns.optimizer,
            ns.precision,
            ns.sweeps,
            ns.margin,
            ns.overlap,
            ns.untiled,
            ns.recipe,
            ns.size or 1024,
        )
    else:
        size = ns.size or 4096
        out = ROOT / "output" / "bench-tiles" / f"tiled-{size}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        r = spawn(
            "run",
            size,
            ns.tile,
            ns.epochs,
            ns.sweeps,
            ns.scales,
            out,
            ns.optimizer,
            ns.precision,
        )
        print(json.dumps(r))
        print(
            f"{r['size']}: peak RSS {r['peak_rss'] / 2**30:.2f} GB in {r['seconds']:.0f} s; "
            f"seams: boundary/elsewhere {r.get('seam_ratio_min', 1):.2f} .. "
            f"{r.get('seam_ratio_max', 1):.2f} (at ordinary lines "
            f"{min(r.get('ordinary_seam_ratios') or [1]):.2f} .. "
            f"{max(r.get('ordinary_seam_ratios') or [1]):.2f}); across the ramps "
            f"{r.get('band_min', 1):.2f} .. {r.get('band_max', 1):.2f}"
        )


if __name__ == "__main__":
    main()
