from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pytest

from neural_style import Config, Stylizer, stylize
from neural_style.engine.optimise import EpochInfo, StopReason
from neural_style.errors import WeightsError
from tests.helpers import TINY, random_weights

FAST = Config(max_long_edge=32, max_num_epochs=8, save_epochs=3, lr=1.0, seed=7)


@pytest.fixture()
def stylizer(tiny_weights: Dict[str, np.ndarray]) -> Stylizer:
    return Stylizer(tiny_weights, gpu=-1, spec=TINY)


def test_result_shape_and_stop(stylizer: Stylizer, content_path: Path, style_path: Path) -> None:
    result = stylizer.stylize(content_path, style_path, FAST)
    assert result.image.shape == (21, 32, 3) and result.image.dtype == np.uint8  # 48x32 -> 32 wide
    assert result.stop_reason is StopReason.MAX_EPOCHS and result.epochs == 8
    assert result.loss == pytest.approx(sum(result.terms.values())) and result.seconds > 0


def test_seed_makes_runs_repeatable(
    stylizer: Stylizer, content_path: Path, style_path: Path
) -> None:
    a = stylizer.stylize(content_path, style_path, FAST).image
    b = stylizer.stylize(content_path, style_path, FAST).image
    c = stylizer.stylize(content_path, style_path, FAST.replace(seed=8)).image
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_callback_gets_every_epoch_and_due_snapshots(
    stylizer: Stylizer, content_path: Path, style_path: Path
) -> None:
    seen: List[tuple] = []

    def callback(info: EpochInfo, snapshot: Optional[np.ndarray]) -> None:
        seen.append((info.epoch, None if snapshot is None else snapshot.shape))

    stylizer.stylize(content_path, style_path, FAST, callback)
    assert [e for e, _ in seen] == list(range(1, 9))
    assert [(e, s) for e, s in seen if s is not None] == [(3, (21, 32, 3)), (6, (21, 32, 3))]


def test_graph_is_bound_once_per_shape(
    stylizer: Stylizer, content_path: Path, style_path: Path
) -> None:
    stylizer.stylize(content_path, style_path, FAST)
    graph = stylizer.graph((21, 32), FAST)
    stylizer.stylize(content_path, style_path, FAST.replace(content_weight=3.0))
    assert stylizer.graph((21, 32), FAST) is graph
    stylizer.stylize(content_path, style_path, FAST.replace(max_long_edge=24))
    assert stylizer.graph((21, 32), FAST) is graph  # two shapes fit in the cache


def test_arrays_in(stylizer: Stylizer) -> None:
    rng = np.random.default_rng(0)
    content = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    style = rng.random((16, 16, 3)).astype(np.float32)
    assert stylizer.stylize(content, style, FAST).image.shape == (21, 32, 3)


def test_one_shot_function_with_a_weights_file(
    tmp_path: Path, content_path: Path, style_path: Path, vgg19_random_npz: Path
) -> None:
    result = stylize(
        content_path, style_path, FAST.replace(max_num_epochs=2), weights=vgg19_random_npz, gpu=-1
    )
    assert result.epochs == 2 and result.image.shape == (21, 32, 3)


def test_weights_of_another_network_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "tiny.npz"
    np.savez(path, **random_weights(TINY))
    with pytest.raises(WeightsError, match="not VGG19 weights"):
        Stylizer(path, gpu=-1)


def test_result_saves_atomically_in_the_extensions_format(tmp_path: Path) -> None:
    from PIL import Image

    from neural_style.api import StyleResult
    from neural_style.errors import ImageError

    image = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    result = StyleResult(image, 3, StopReason.MAX_EPOCHS, 0.1, {}, 1.0)
    for name, fmt in (("a/out.png", "PNG"), ("b.jpg", "JPEG"), ("c.webp", "WEBP")):
        path = result.save(tmp_path / name)
        assert path == tmp_path / name
        with Image.open(path) as img:
            assert img.format == fmt and img.size == (30, 20)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a" / "out.png")), image)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.name.startswith(".")) == []
    with pytest.raises(ImageError, match="extension"):
        result.save(tmp_path / "d.xyz")


@pytest.mark.parametrize("requested", ["auto", "bf16"])
def test_out_of_memory_counts_the_graph_in_the_precision_of_its_width(
    stylizer: Stylizer, monkeypatch: pytest.MonkeyPatch, requested: str
) -> None:
    """With AMX, a graph wider than bf16's limit runs in fp32 under auto (and an explicit
    bf16 only tiles it): the out-of-memory message sizes it with fp32's bytes a pixel."""
    from neural_style._mxnet import mx
    from neural_style.api import format_size
    from neural_style.config import layer_names
    from neural_style.engine.memory import bytes_per_pixel
    from neural_style.engine.precision import AMX_BF16_MAX_WIDTH, Device
    from neural_style.errors import DeviceError

    monkeypatch.setattr(stylizer, "_device", Device("cpu", frozenset({"amx_bf16", "amx_tile"})))
    monkeypatch.setenv("DNNL_MAX_CPU_ISA", "AVX512_CORE_AMX")
    cfg = Config(precision=requested)
    layers = layer_names(cfg.style_layers) + layer_names(cfg.content_layers)
    shape = (600, AMX_BF16_MAX_WIDTH + 64)
    need = {
        name: format_size(bytes_per_pixel(TINY, layers, 4, name) * shape[0] * shape[1])
        for name in ("fp32", "bf16")
    }
    assert need["fp32"] != need["bf16"]
    with pytest.raises(DeviceError, match=f"needs about {need['fp32']}"):
        with stylizer._memory_guard(shape, cfg, "max_long_edge", shape[1]):
            raise mx.base.MXNetError("Failed to allocate CPU Memory: std::bad_alloc")


def test_ctrl_c_between_sizes_keeps_the_last_size_done(
    stylizer: Stylizer, content_path: Path, style_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C outside a loop (the next size's style targets, binding, resampling) ends the
    run with the last size done, as one inside a loop ends it with the last epoch done;
    before any size is done there is nothing to keep, and it propagates."""
    calls = {"n": 0}
    real = Stylizer._style_targets

    def targets(self: Stylizer, *args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == calls.get("stop", 2):
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Stylizer, "_style_targets", targets)
    cfg = FAST.replace(max_long_edge=48, scales=2, start_long_edge=24)
    result = stylizer.stylize(content_path, style_path, cfg)
    assert result.stop_reason is StopReason.INTERRUPTED and result.epochs == 8
    assert result.image.shape == (16, 24, 3)  # the first size's image, finished
    calls.update(n=0, stop=1)
    with pytest.raises(KeyboardInterrupt):
        stylizer.stylize(content_path, style_path, cfg)


def test_ctrl_c_while_finishing_still_gives_the_finished_image(
    stylizer: Stylizer, content_path: Path, style_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from neural_style import api

    real, calls = api.finish, {"n": 0}

    def finish(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "finish", finish)
    result = stylizer.stylize(content_path, style_path, FAST)
    assert result.stop_reason is StopReason.INTERRUPTED and result.epochs == 8
    assert result.image.shape == (21, 32, 3) and calls["n"] == 2
