from __future__ import annotations

import functools
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List, Optional

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_style import Config, Stylizer, stylize
from neural_style.api import plan_sizes, precision_on
from neural_style.engine.memory import parse_size
from neural_style.engine.optimise import EpochInfo, StopReason
from neural_style.engine.precision import Device, PrecisionError
from neural_style.engine.tiled import plan_bytes
from neural_style.engine.vgg import VGG19
from neural_style.errors import ConfigError, DeviceError, ExitCode, ImageError, WeightsError
from tests.helpers import TINY, random_weights, too_little_memory

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


# ---- the checks before any work (plan_sizes, preflight) ------------------------------------

#: Not the CPU: check_fits then skips the free-memory check, so these plans do not
#: depend on how much memory this machine has free.
_NO_FREE_MEMORY_CHECK = SimpleNamespace(device_type="gpu")
_AMX = Device("cpu", frozenset({"avx512_bf16", "amx_bf16"}))


def _shape_only(h: int, w: int) -> np.ndarray:
    return np.broadcast_to(np.zeros((1, 1, 3), np.float32), (h, w, 3))


def _plan(cfg: Config, content: np.ndarray, styles: List[np.ndarray], advise: bool = True) -> Any:
    return plan_sizes(
        cfg,
        content,
        styles,
        VGG19,
        np.float32,
        _NO_FREE_MEMORY_CHECK,
        functools.partial(precision_on, _AMX),
        advise,
    )


def _fixes(message: str) -> List[Dict[str, Any]]:
    """The settings a width error suggests, as Config changes (both precisions named)."""
    out: List[Dict[str, Any]] = []
    for text in message.split("; use ", 1)[1].split(", or "):
        if text.startswith("--precision auto"):
            out += [{"precision": "auto"}, {"precision": "fp32"}]
            continue
        flag, value = text.split()[:2]
        name = flag.lstrip("-").replace("-", "_")
        out.append({name: float(value) if name == "style_scale" else int(value)})
    return out


@pytest.fixture()
def amx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DNNL_MAX_CPU_ISA", "AVX512_CORE_AMX")


def test_long_thin_image_with_bf16_is_not_told_to_tile_smaller(amx: None) -> None:
    """A 5000x80 photo in tiles of 512: the whole-image start that keeps its short side at
    16 px is 1000 px wide, over bf16's AMX limit. The tile is already smaller than 736,
    and no --max-long-edge keeps the image 16 px high under 736 wide: only the precision
    fixes it, and that is all the message says."""
    cfg = Config(precision="bf16", tile=512, max_long_edge=5000, max_num_epochs=1)
    content = _shape_only(80, 5000)
    with pytest.raises(PrecisionError) as raised:
        _plan(cfg, content, [content])
    message = str(raised.value)
    assert "the whole-image start (1000x16) that the tiled run begins with is 1000 px wide" in (
        message
    )
    assert "--tile" not in message.split("; use ")[1] and "--max-long-edge" not in message
    assert _fixes(message) == [{"precision": "auto"}, {"precision": "fp32"}]
    assert raised.value.exit_code == ExitCode.USAGE


def test_a_wide_style_at_style_scale_is_told_the_style_scale_that_fits(amx: None) -> None:
    """--style-scale 1.5 on a 600-px output makes a 1000x200 style 900 px wide: a graph
    of its own (its targets), over the limit; neither a tile nor a smaller output fixes
    that without a smaller --style-scale, which the message computes."""
    cfg = Config(precision="bf16", max_long_edge=600, style_scale=1.5)
    with pytest.raises(PrecisionError) as raised:
        _plan(cfg, _shape_only(400, 600), [_shape_only(200, 1000)])
    message = str(raised.value)
    assert "the style image at --style-scale 1.5 (900x180) is 900 px wide" in message
    assert _fixes(message) == [{"precision": "auto"}, {"precision": "fp32"}, {"style_scale": 1.22}]


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(16, 3000),
    w=st.integers(16, 3000),
    edge=st.integers(16, 3000),
    tile=st.one_of(st.none(), st.integers(80, 1200)),
    scales=st.integers(1, 2),
    style_scale=st.one_of(st.none(), st.sampled_from([0.5, 1.0, 1.5])),
)
def test_every_fix_a_width_error_suggests_works(
    h: int, w: int, edge: int, tile: Optional[int], scales: int, style_scale: Optional[float]
) -> None:
    """Whatever the image and settings, each setting a bf16 width error suggests makes the
    whole plan pass (it is checked, not guessed), and a suggested tile is smaller than
    the one given."""
    import os

    os.environ["DNNL_MAX_CPU_ISA"] = "AVX512_CORE_AMX"  # hypothesis: no function fixtures
    try:
        cfg = Config(
            precision="bf16",
            max_long_edge=edge,
            tile=tile,
            scales=scales,
            style_scale=style_scale,
            max_num_epochs=1,
        )
        content = _shape_only(h, w)
        _plan(cfg, content, [content])
    except PrecisionError as err:
        fixes = _fixes(str(err))
        assert {"precision": "auto"} in fixes
        for change in fixes:
            assert "tile" not in change or tile is None or change["tile"] < tile
            _plan(cfg.replace(**change), content, [content], advise=False)
    except (ConfigError, ImageError):
        pass  # settings or an image that fail for another reason
    finally:
        del os.environ["DNNL_MAX_CPU_ISA"]


# ---- a whole image too big for the free memory: the fixes offered are checked -----------

#: The CPU, with the free memory each test gives (plan_sizes' ``free``); fp32 only.
_CPU = SimpleNamespace(device_type="cpu")
_PLAIN = functools.partial(precision_on, Device("cpu", frozenset()))
MiB = 2**20


def _memory_plan(cfg: Config, content: np.ndarray, free: int, advise: bool = True) -> Any:
    return plan_sizes(cfg, content, [content], VGG19, np.float32, _CPU, _PLAIN, advise, free)


def _memory_fixes(message: str) -> List[Dict[str, Any]]:
    """The settings a free-memory refusal suggests, as Config changes."""
    out: List[Dict[str, Any]] = []
    for text in message.split(" free; ", 1)[1].split(", or "):
        if text.startswith("no tile"):
            continue
        flag, value = text.split()[-2:]
        name = flag.lstrip("-").replace("-", "_")
        out.append({name: parse_size(value) if name == "max_memory" else int(value)})
    return out


def test_a_long_thin_image_too_big_for_memory_is_not_told_to_tile() -> None:
    """3000x16 at 3000 px needs about 570 MiB whole; with 520 MiB free no tile can work
    (the start that keeps its short side at 16 px is the image itself), nor a budget,
    nor a smaller size (16 px is the minimum): the refusal offers none of them (it
    offered --tile 512, which then failed as too thin); exit 1, the machine's lack."""
    cfg = Config(precision="fp32", max_long_edge=3000, max_num_epochs=1)
    content = _shape_only(16, 3000)
    with pytest.raises(DeviceError) as raised:
        _memory_plan(cfg, content, 520 * MiB)
    message = str(raised.value)
    assert "at 3000x16 pixels the whole-image graph needs about" in message
    assert "--tile" not in message and _memory_fixes(message) == []
    assert raised.value.exit_code == ExitCode.FAILURE
    with pytest.raises(ConfigError, match="too thin"):  # what --tile 512 would have done
        _memory_plan(cfg.replace(tile=512), content, 520 * MiB)


def test_a_photo_too_big_for_memory_is_told_each_fix_that_fits() -> None:
    cfg = Config(precision="fp32", max_long_edge=4096, max_num_epochs=1)
    with pytest.raises(DeviceError) as raised:
        _memory_plan(cfg, _shape_only(3072, 4096), 1536 * MiB)
    fixes = _memory_fixes(str(raised.value))
    assert [list(f) for f in fixes] == [["tile"], ["max_memory"], ["max_long_edge"]]
    assert fixes[0]["tile"] == 512 and fixes[1]["max_memory"] == int(1536 * MiB * 0.9) // MiB * MiB


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(16, 4000),
    w=st.integers(16, 4000),
    edge=st.integers(16, 4000),
    free=st.integers(300, 3000),
    scales=st.integers(1, 2),
)
def test_every_fix_a_memory_refusal_suggests_works(
    h: int, w: int, edge: int, free: int, scales: int
) -> None:
    """Whatever the image, settings and free memory, each setting the refusal of a whole
    image too big for the free memory suggests makes the plan pass, with its peak (the
    memory model's) within the free memory; a suggested tile is at most 512."""
    cfg = Config(precision="fp32", max_long_edge=edge, scales=scales, max_num_epochs=1)
    content = _shape_only(h, w)
    try:
        _memory_plan(cfg, content, free * MiB)
    except DeviceError as err:
        assert err.exit_code == ExitCode.FAILURE
        for change in _memory_fixes(str(err)):
            assert change.get("tile", 0) <= 512
            changed = cfg.replace(**change)
            sizes = _memory_plan(changed, content, free * MiB, advise=False)
            assert plan_bytes(changed, sizes.shapes, sizes.windows, VGG19, np.float32) <= free * MiB
    except (ConfigError, ImageError):
        pass  # settings or an image that fail for another reason


def test_preflight_reads_only_shapes_and_gives_the_runs_error(
    content_path: Path, style_path: Path
) -> None:
    """preflight (what --dry-run does per job) needs no weights: a --max-memory too small
    for the image is the same error the run gives, before any work."""
    from neural_style.api import preflight
    from neural_style.io.images import ShapeReader

    read = ShapeReader()
    ok = preflight(content_path, style_path, Config(max_long_edge=64), gpu=-1, load=read)
    assert ok.shapes == [(43, 64)] and ok.windows == [None]
    small = Config(max_long_edge=4000, max_memory=too_little_memory(content_path, 4000) * 2**20)
    with pytest.raises(ConfigError, match="too little for even a 80x80 tile") as dry:
        preflight(content_path, style_path, small, gpu=-1, spec=TINY, load=ShapeReader())
    with pytest.raises(ConfigError) as real:
        Stylizer(random_weights(TINY), gpu=-1, spec=TINY).stylize(content_path, style_path, small)
    assert str(dry.value) == str(real.value)


def test_a_missing_init_image_fails_before_any_graph(
    stylizer: Stylizer, content_path: Path, style_path: Path, tmp_path: Path
) -> None:
    """--init-image is read with the other images' checks, before the style targets bind
    a graph (it was read at the first size's start, after them)."""
    from neural_style.api import preflight

    cfg = FAST.replace(init="image", init_image=str(tmp_path / "absent.png"))
    seen: List[int] = []
    with pytest.raises(ImageError, match="absent.png: no such file"):
        stylizer.stylize(content_path, style_path, cfg, lambda info, _: seen.append(info.epoch))
    assert seen == [] and len(stylizer._graphs) == 0
    with pytest.raises(ImageError, match="absent.png: no such file"):
        preflight(content_path, style_path, cfg, gpu=-1, spec=TINY)
    init = cfg.replace(init_image=str(content_path))  # and a good one still starts the run
    assert stylizer.stylize(content_path, style_path, init).image.shape == (21, 32, 3)
