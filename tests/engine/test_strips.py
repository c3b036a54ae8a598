"""Image-sized work in strips (engine/strips.py): the window-by-window resize equals the
whole-image one, finishing (colours, denoising) by strips equals finishing whole, and
the float16 canvas holds network units to 1/16 of an 8-bit level."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_style.config import Config
from neural_style.engine import strips
from neural_style.engine.pixels import resize, resize_network, to_network

#: The stated tolerance of the strip-wise resize, on [0, 1] (measured: 6e-8).
RESIZE_TOLERANCE = 1e-5


@st.composite
def resizes(draw: Any) -> Dict[str, Any]:
    h, w = draw(st.integers(1, 90)), draw(st.integers(1, 90))
    out = (draw(st.integers(1, 200)), draw(st.integers(1, 200)))
    rows = sorted(draw(st.sets(st.integers(1, out[0] - 1), max_size=4)) if out[0] > 1 else [])
    r0 = draw(st.integers(0, out[1] - 1))
    c1 = draw(st.integers(r0 + 1, out[1]))
    return dict(
        src=(h, w), out=out, cuts=[0, *rows, out[0]], cols=(r0, c1), seed=draw(st.integers(0, 9))
    )


@settings(max_examples=120, deadline=None)
@given(resizes())
def test_resize_by_windows_equals_the_whole_image_resize(a: Dict[str, Any]) -> None:
    """Up and down, any strip boundaries and any column range: each window is the
    whole-image resize (scikit-image's, as pixels.resize calls it) cut there."""
    rng = np.random.default_rng(a["seed"])
    src = rng.uniform(0, 1, a["src"] + (3,)).astype(np.float32)
    whole = resize(src, a["out"])
    c0, c1 = a["cols"]
    for r0, r1 in zip(a["cuts"], a["cuts"][1:]):
        part = strips.resize_region(src, a["out"], (r0, r1), (c0, c1))
        np.testing.assert_allclose(part, whole[r0:r1, c0:c1], rtol=0, atol=RESIZE_TOLERANCE)


def test_a_uint8_source_resamples_as_its_float_values() -> None:
    rng = np.random.default_rng(1)
    src = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    view = strips.Resampled(src, (101, 140))
    np.testing.assert_allclose(
        view.window((10, 60), (5, 140)),
        resize(src.astype(np.float32) / 255, (101, 140))[10:60, 5:140],
        atol=RESIZE_TOLERANCE,
    )
    np.testing.assert_allclose(strips.Resampled(src, (37, 53)).whole(), src / 255, atol=1e-7)


@settings(max_examples=25, deadline=None)
@given(st.integers(20, 70), st.integers(20, 70), st.integers(40, 160), st.integers(40, 160))
def test_upsampling_into_the_canvas_equals_resize_network(h: int, w: int, oh: int, ow: int) -> None:
    """The next scale's start, made by strips into float16: resize_network's values to
    within the float16 step (1/8 at most for unclipped pixels, |x| < 256)."""
    rng = np.random.default_rng(h * w)
    x = to_network(rng.uniform(-0.2, 1.2, (h, w, 3)).astype(np.float32))
    canvas = strips.upsample(x, (oh, ow))
    assert canvas.dtype == np.float16 and canvas.shape == (1, 3, oh, ow)
    np.testing.assert_allclose(canvas, resize_network(x, (oh, ow)), rtol=0, atol=1 / 16 + 1e-3)


def test_float16_holds_network_units_to_a_sixteenth_of_a_level() -> None:
    x = np.linspace(-130, 160, 100001, dtype=np.float32)  # every unclipped pixel value
    assert np.abs(x.astype(np.float16).astype(np.float32) - x).max() <= 1 / 16


def test_square_norm_does_not_overflow_in_float16() -> None:
    x = np.full((1, 3, 300, 400), 150.0, dtype=np.float16)
    assert strips.square_norm(x) == pytest.approx(150.0**2 * x.size)


@pytest.mark.parametrize(
    "denoise, strength, colors, tolerance",
    [
        ("gaussian", 0.2, False, 0),
        ("gaussian", 1.3, True, 0),
        ("none", 0.0, True, 0),
        ("tv", 0.02, False, 1),  # iterative over the whole image: within one level
    ],
)
@pytest.mark.parametrize("rows", [7, 64])
def test_finishing_by_strips_equals_finishing_whole(
    denoise: str, strength: float, colors: bool, tolerance: int, rows: int
) -> None:
    from skimage.filters import gaussian

    from neural_style.api import finish

    rng = np.random.default_rng(rows)
    smooth = gaussian(rng.uniform(0, 1, (150, 90, 3)), 2, channel_axis=-1)
    x = to_network((smooth + rng.normal(0, 0.08, smooth.shape)).astype(np.float32))
    content = rng.integers(0, 256, (50, 30, 3), dtype=np.uint8)
    cfg = Config(denoise=denoise, remove_noise=strength, original_colors=colors)
    view = strips.Resampled(content, (150, 90))
    whole = finish(x, cfg, view.whole()).astype(int)
    parts = strips.finish_strips(
        x.astype(np.float16).astype(np.float32),
        lambda part, c: finish(part, cfg, c),
        strips_margin(denoise, strength),
        view if colors else None,
        rows=rows,
    ).astype(int)
    reference = finish(x.astype(np.float16).astype(np.float32), cfg, view.whole()).astype(int)
    assert np.abs(parts - reference).max() <= tolerance
    assert np.abs(reference - whole).max() <= 1  # float16 storage: at most one level


def strips_margin(denoise: str, strength: float) -> int:
    from neural_style.engine.denoise import margin

    return margin(denoise, strength)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 40),
    st.integers(1, 40),
    st.integers(1, 90),
    st.integers(1, 90),
    st.integers(1, 50),
    st.integers(0, 2**32 - 1),
)
def test_tv_by_strips_equals_the_whole_image_tv(
    h: int, w: int, oh: int, ow: int, rows: int, seed: int
) -> None:
    """The content's TV value (what loss="relative" divides the TV weight by), strip by
    strip, equals losses.tv_value of the whole resampled content."""
    from neural_style._mxnet import mx
    from neural_style.engine.losses import tv_value

    rgb = np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.uint8)
    view = strips.Resampled(rgb, (oh, ow))
    whole = view.network_window((0, oh), (0, ow)).astype(np.float64)
    expected = tv_value(mx.nd.array(whole, dtype=np.float64))
    assert strips.tv_strips(view, rows) == pytest.approx(expected, rel=1e-6, abs=1e-6)
