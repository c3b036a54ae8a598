"""Optimisers, starts, scales, averaging, stop windows and the artistic controls."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import pytest
from PIL import Image

from neural_style import Config, Stylizer, cli
from neural_style._mxnet import mx
from neural_style.api import blend_weights, scale_edges
from neural_style.config import CONTENT_LAYERS, STYLE_LAYERS, layer_weights
from neural_style.engine.graph import StyleGraph, positions
from neural_style.engine.losses import TVSmoothing
from neural_style.engine.optimise import (
    Callback,
    EpochInfo,
    LoopOutcome,
    StopReason,
    lbfgs_objective,
    optimise,
)
from neural_style.engine.pixels import keep_colors, resize_network
from neural_style.errors import ConfigError, ExitCode
from tests.helpers import TINY, cpu_run, ready_graph, write_image
from tests.reference import features

SHAPE = (24, 24)


def engine_view(path: Path, shape: Tuple[int, int] = (21, 32)) -> np.ndarray:
    """The content as the engine sees it at ``shape``, as uint8 (for comparisons)."""
    from neural_style.engine.pixels import resize
    from neural_style.io.images import load_rgb

    return np.rint(resize(load_rgb(path), shape) * 255).astype(int)


@pytest.mark.parametrize("optimizer, lr", [("nag", 0.1), ("adam", 5.0), ("lbfgs", None)])
def test_every_optimiser_lowers_the_objective(
    tiny_weights: Dict[str, np.ndarray], optimizer: str, lr: float
) -> None:
    graph = ready_graph(tiny_weights)
    losses: List[float] = []
    outcome = optimise(
        graph,
        Config(optimizer=optimizer, lr=lr, max_num_epochs=25, stop_eps=1e-9),
        lambda info, image: losses.append(info.loss),
    )
    assert outcome.epochs == len(losses) == 25
    assert min(losses[5:]) < 0.3 * losses[0]


def test_lbfgs_sees_the_graphs_gradient(tiny_weights: Dict[str, np.ndarray]) -> None:
    graph = ready_graph(tiny_weights, np.float64)
    objective = lbfgs_objective(graph, TVSmoothing(0.5, mx.cpu(), np.float64), {})
    x = np.random.default_rng(1).uniform(-50, 50, size=int(np.prod(graph.shape)))
    value, grad = objective(x)
    direction = np.random.default_rng(2).standard_normal(x.size)
    direction /= np.linalg.norm(direction)
    h = 1e-3
    numeric = (objective(x + h * direction)[0] - objective(x - h * direction)[0]) / (2 * h)
    assert float(grad @ direction) == pytest.approx(numeric, rel=1e-5)
    assert value > 0


def test_lbfgs_keeps_pixels_in_range(tiny_weights: Dict[str, np.ndarray]) -> None:
    graph = ready_graph(tiny_weights)
    optimise(graph, Config(optimizer="lbfgs", max_num_epochs=10, stop_eps=1e-9))
    rgb = graph.data.asnumpy()[0] + np.array([123.68, 116.779, 103.939]).reshape(3, 1, 1)
    assert rgb.min() >= -1e-3 and rgb.max() <= 255 + 1e-3


def test_stop_window_needs_a_mean_below_stop_eps(tiny_weights: Dict[str, np.ndarray]) -> None:
    graph = ready_graph(tiny_weights)
    eps: List[float] = []
    outcome = optimise(
        graph,
        Config(lr=0.1, max_num_epochs=400, stop_eps=0.2, stop_window=4),
        lambda info, image: eps.append(info.eps),
    )
    assert outcome.reason is StopReason.CONVERGED
    assert np.mean(eps[-4:]) < 0.2
    assert all(np.mean(eps[i - 4 : i]) >= 0.2 for i in range(4, len(eps)))


def test_average_of_iterates(tiny_weights: Dict[str, np.ndarray]) -> None:
    graph = ready_graph(tiny_weights)
    iterates: List[np.ndarray] = [graph.data.asnumpy().copy()]
    seen: List[np.ndarray] = []

    def record(info: EpochInfo, image: mx.nd.NDArray) -> None:
        iterates.append(graph.data.asnumpy().copy())
        seen.append(image.asnumpy().copy())

    optimise(graph, Config(lr=0.1, max_num_epochs=6, stop_eps=1e-9, average_decay=0.5), record)
    average = iterates[0]
    for x in iterates[1:]:
        average = 0.5 * average + 0.5 * x
    np.testing.assert_allclose(seen[-1], average, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(graph.data.asnumpy(), average, rtol=1e-4, atol=1e-3)  # the result


def test_scale_edges() -> None:
    assert scale_edges(Config(max_long_edge=512)) == [512]
    assert scale_edges(Config(max_long_edge=512, scales=3)) == [128, 256, 512]
    assert scale_edges(Config(max_long_edge=600, scales=2, start_long_edge=300)) == [300, 600]


def test_multiscale_sizes_and_warm_start(
    tiny_weights: Dict[str, np.ndarray],
    content_path: Path,
    style_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import neural_style.api as engine

    starts: List[Tuple[Tuple[int, ...], np.ndarray]] = []
    ends: List[np.ndarray] = []
    real = engine.optimise

    def spy(
        graph: StyleGraph,
        cfg: Config,
        callback: Optional[Callback] = None,
        first_epoch: int = 0,
        scale: int = 0,
    ) -> LoopOutcome:
        starts.append((graph.shape, graph.data.asnumpy().copy()))
        outcome = real(graph, cfg, callback, first_epoch, scale)
        ends.append(graph.data.asnumpy().copy())
        return outcome

    monkeypatch.setattr(engine, "optimise", spy)
    shapes: List[Tuple[int, int]] = []
    cfg = Config(
        max_long_edge=48,
        scales=2,
        start_long_edge=24,
        max_num_epochs=3,
        save_epochs=1,
        lr=1.0,
        seed=0,
        denoise="none",
    )
    result = Stylizer(tiny_weights, gpu=-1, spec=TINY).stylize(
        content_path, style_path, cfg, lambda info, snap: shapes.append(snap.shape[:2])
    )
    assert [s for s, _ in starts] == [(1, 3, 16, 24), (1, 3, 32, 48)]
    assert shapes == [(16, 24)] * 3 + [(32, 48)] * 3 and result.epochs == 6
    np.testing.assert_allclose(starts[1][1], resize_network(ends[0], (32, 48)), atol=1e-3)


def test_init_content_and_image(
    tiny_weights: Dict[str, np.ndarray], content_path: Path, style_path: Path, tmp_path: Path
) -> None:
    stylizer = Stylizer(tiny_weights, gpu=-1, spec=TINY)
    base = Config(max_long_edge=32, max_num_epochs=1, lr=1e-8, denoise="none", tv_weight=0)
    from_content = stylizer.stylize(content_path, style_path, base.replace(init="content")).image
    assert np.abs(from_content.astype(int) - engine_view(content_path)).max() <= 1  # unchanged
    grey = tmp_path / "grey.png"
    Image.new("RGB", (64, 42), (90, 90, 90)).save(grey)
    from_image = stylizer.stylize(
        content_path, style_path, base.replace(init="image", init_image=str(grey))
    ).image
    assert np.abs(from_image.astype(int) - 90).max() <= 2
    with pytest.raises(ConfigError, match="init_image: is used with init=image only"):
        Config(init="image")


def test_blend_weights_give_the_weighted_gram(tiny_weights: Dict[str, np.ndarray]) -> None:
    from neural_style.io.cache import StyleCache

    stylizer = Stylizer(tiny_weights, gpu=-1, spec=TINY)
    rng = np.random.default_rng(0)
    a, b = rng.random((2, 24, 24, 3)).astype(np.float32)
    cfg = Config(max_long_edge=24, style_blend_weights=(3.0, 1.0))
    blended = stylizer._style_targets([a, b], SHAPE, cfg, StyleCache())
    only_a = stylizer._style_targets(
        [a], SHAPE, cfg.replace(style_blend_weights=None), StyleCache()
    )
    only_b = stylizer._style_targets(
        [b], SHAPE, cfg.replace(style_blend_weights=None), StyleCache()
    )
    for g, ga, gb in zip(blended, only_a, only_b):
        np.testing.assert_allclose(g, 0.75 * ga + 0.25 * gb, rtol=1e-5)
    assert blend_weights(2, None) == [0.5, 0.5]
    with pytest.raises(ConfigError, match="3 weights for 2 style images"):
        blend_weights(2, (1.0, 1.0, 1.0))


def test_style_scale_keeps_aspect_and_rescales_grams(tiny_weights: Dict[str, np.ndarray]) -> None:
    from neural_style.engine.pixels import resize, to_network
    from neural_style.io.cache import StyleCache

    stylizer = Stylizer(tiny_weights, gpu=-1, spec=TINY)
    style = np.random.default_rng(1).random((40, 80, 3)).astype(np.float32)  # 2:1, not square
    cfg = Config(max_long_edge=24, style_scale=2.0)
    got = stylizer._style_targets([style], SHAPE, cfg, StyleCache())
    style_graph = stylizer.graph((24, 48), cfg)  # long edge 2 x 24, aspect kept
    raw = style_graph.style_targets(to_network(resize(style, (24, 48))))
    out_positions = positions(TINY, SHAPE, STYLE_LAYERS)
    style_positions = positions(TINY, (24, 48), STYLE_LAYERS)
    assert style_positions["relu1_1"] == 24 * 48 and style_positions["relu5_1"] == 1 * 3
    for layer, g, r in zip(STYLE_LAYERS, got, raw):
        ratio = out_positions[layer] / style_positions[layer]
        np.testing.assert_allclose(g, ratio * r, rtol=1e-5)


def test_original_colors_keep_the_contents_chroma(
    tiny_weights: Dict[str, np.ndarray], tmp_path: Path, style_path: Path
) -> None:
    from skimage.color import rgb2ycbcr

    cfg = Config(
        max_long_edge=32, max_num_epochs=5, lr=1.0, original_colors=True, denoise="none", seed=0
    )
    smooth = tmp_path / "smooth.png"
    y, x = np.mgrid[0:32, 0:48]
    Image.fromarray(np.stack([x * 4 + 40, y * 5 + 50, 200 - x * 2], -1).astype(np.uint8)).save(
        smooth
    )
    result = Stylizer(tiny_weights, gpu=-1, spec=TINY).stylize(smooth, style_path, cfg).image
    content = engine_view(smooth).astype(np.uint8)
    chroma = lambda rgb: rgb2ycbcr(rgb)[..., 1:]  # noqa: E731
    # the luminance is the stylized one; Cb and Cr stay the content's (within rounding and
    # the clipping of colours that leave the RGB cube)
    assert np.abs(chroma(result) - chroma(content)).mean() < 3.0
    plain = keep_colors(
        np.full((4, 4, 3), 128, np.uint8), np.full((4, 4, 3), (200, 40, 40), np.uint8)
    )
    assert plain[0, 0, 0] > plain[0, 0, 1]  # red comes back on a grey stylization


def test_max_pooling_matches_numpy(tiny_weights: Dict[str, np.ndarray]) -> None:
    params = {k: mx.nd.array(v, dtype=np.float64) for k, v in tiny_weights.items()}
    graph = StyleGraph(
        TINY, params, SHAPE, STYLE_LAYERS, CONTENT_LAYERS, mx.cpu(), "max", np.float64
    )
    image = np.random.default_rng(3).uniform(-60, 60, size=(1, 3) + SHAPE)
    got = graph.targets(image, "content")["content:relu4_2"]
    want = features(TINY, tiny_weights, image, ["relu4_2"], pooling="max")["relu4_2"]
    np.testing.assert_allclose(got[0], want, rtol=1e-8)


def test_layer_weights_and_names() -> None:
    cfg = Config(style_layers=("relu1_1:2", "relu3_1"), content_layers=("relu5_1:0.5",))
    assert layer_weights(cfg.style_layers) == (2.0, 1.0)
    with pytest.raises(ConfigError, match="did you mean 'relu3_1'"):
        Config(style_layers=("relu3-1",))
    with pytest.raises(ConfigError, match="must be a number"):
        Config(style_layers=("relu3_1:heavy",))


def test_per_layer_weights_scale_their_terms(
    tiny_weights: Dict[str, np.ndarray], content_path: Path, style_path: Path
) -> None:
    stylizer = Stylizer(tiny_weights, gpu=-1, spec=TINY)
    base = Config(max_long_edge=24, max_num_epochs=1, seed=0)
    one = stylizer.stylize(content_path, style_path, base).terms
    two = stylizer.stylize(
        content_path, style_path, base.replace(style_layers=("relu1_1:3",) + STYLE_LAYERS[1:])
    ).terms
    assert two["style:relu1_1"] == pytest.approx(3 * one["style:relu1_1"], rel=1e-5)
    assert two["style:relu2_1"] == pytest.approx(one["style:relu2_1"], rel=1e-5)


def test_normalize_gradients_gives_unit_l1_per_term(tiny_weights: Dict[str, np.ndarray]) -> None:
    """Content only: the image gradient is the plain one divided by ‖dL/dF‖₁ = 2·Σ|F − P|."""
    params = {k: mx.nd.array(v, dtype=np.float64) for k, v in tiny_weights.items()}
    rng = np.random.default_rng(4)
    image, content = rng.uniform(-60, 60, size=(2, 1, 3) + SHAPE)
    grads = []
    for normalize in (False, True):
        g = StyleGraph(
            TINY,
            params,
            SHAPE,
            (),
            CONTENT_LAYERS,
            mx.cpu(),
            dtype=np.float64,
            normalize_gradients=normalize,
        )
        g.set_targets([], content)
        g.set_weights(style=1.0, content=7.0)
        g.data[:] = image
        g.forward_backward()
        grads.append(g.grad.asnumpy().copy())
    f = features(TINY, tiny_weights, image, ["relu4_2"])["relu4_2"]
    p = features(TINY, tiny_weights, content, ["relu4_2"])["relu4_2"]
    np.testing.assert_allclose(grads[1], grads[0] / (2 * np.abs(f - p).sum()), rtol=1e-6)


def test_progress_sheet_and_loss_plot(
    tmp_path: Path,
    content_path: Path,
    style_path: Path,
    vgg19_random_npz: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli.main(
        [
            *cpu_run(
                content_path,
                style_path,
                vgg19_random_npz,
                tmp_path,
                max_long_edge=32,
                max_num_epochs=6,
                save_epochs=2,
            ),
            "--progress-sheet",
            "--loss-plot",
            "-q",
        ]
    )
    assert code == 0, capsys.readouterr().err
    with Image.open(tmp_path / "progress.jpg") as sheet:
        assert sheet.size == (3 * 32, 21)  # three snapshots (2, 4, 6), one row
    with Image.open(tmp_path / "loss.png") as plot:
        assert plot.format == "PNG" and plot.size[0] > 300


def test_loss_plot_without_matplotlib_says_how(
    tmp_path: Path,
    content_path: Path,
    style_path: Path,
    vgg19_random_npz: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    code = cli.main(
        [
            "--content-image",
            str(content_path),
            "--style-image",
            str(style_path),
            "--weights",
            str(vgg19_random_npz),
            "--gpu",
            "-1",
            "--output-dir",
            str(tmp_path),
            "--loss-plot",
        ]
    )
    assert code == ExitCode.FAILURE
    assert "pip install 'neural-style[plot]'" in capsys.readouterr().err
    assert not (tmp_path / "final.jpg").exists()


def test_blend_from_the_command_line(
    tmp_path: Path, content_path: Path, vgg19_random_npz: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write_image(tmp_path / "a.png", (40, 40), seed=5)
    b = write_image(tmp_path / "b.png", (40, 40), seed=6)
    code = cli.main(
        [
            "--content-image",
            str(content_path),
            "--style-image",
            f"{a},{b}",
            "--style-blend-weights",
            "0.7,0.3",
            "--weights",
            str(vgg19_random_npz),
            "--gpu",
            "-1",
            "--max-long-edge",
            "32",
            "--max-num-epochs",
            "2",
            "--output-dir",
            str(tmp_path / "out"),
            "-q",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "final.jpg").is_file()


@pytest.mark.parametrize("optimizer", ["nag", "adam", "lbfgs"])
def test_every_optimiser_honours_snapshots_max_epochs_and_ctrl_c(
    tiny_weights: Dict[str, np.ndarray], optimizer: str
) -> None:
    graph = ready_graph(tiny_weights)
    due: List[int] = []
    outcome = optimise(
        graph,
        Config(optimizer=optimizer, max_num_epochs=7, save_epochs=3, stop_eps=1e-12),
        lambda info, image: due.append(info.epoch) if info.snapshot_due else None,
    )
    assert outcome.reason is StopReason.MAX_EPOCHS and outcome.epochs == 7 and due == [3, 6]
    graph = ready_graph(tiny_weights)
    images: List[np.ndarray] = []

    def interrupt(info: EpochInfo, image: mx.nd.NDArray) -> None:
        images.append(graph.data.asnumpy().copy())
        if info.epoch == 4:
            raise KeyboardInterrupt

    outcome = optimise(
        graph, Config(optimizer=optimizer, max_num_epochs=50, stop_eps=1e-12), interrupt
    )
    assert outcome.reason is StopReason.INTERRUPTED and outcome.epochs == 4
    np.testing.assert_array_equal(graph.data.asnumpy(), images[-1])
    graph = ready_graph(tiny_weights)
    outcome = optimise(graph, Config(optimizer=optimizer, max_num_epochs=500, stop_eps=0.5))
    assert outcome.reason is StopReason.CONVERGED and outcome.eps < 0.5
