"""Every optimiser lowers the quality measures on the real weights (``make test-slow``).

The measures are those of issue 8 (neural_style.engine.measures): content =
‖F(x) − F(c)‖² / ‖F(c)‖² at relu4_2, style = the mean over relu1_1 … relu5_1 of
‖G(x) − G(s)‖² / ‖G(s)‖². A regression in preprocessing or in the objective shows up here
as a failing test, not as a blurrier gallery.

Each run starts from the example's white noise (a flat grey: content 0.98, style 1.00) and
must end with the style measure below a tenth of that, and with a content measure below
0.6 of the painting's own (the painting stretched to the output: content 2.00), i.e. the
photo shows through. Thresholds: the values measured on 2026-11-27 (input/cat.jpg +
input/starry_night.jpg, long edge 128, seed 0, CPU) plus 0.05 (content) and times 1.25
(mean style), given per case below.
"""

from __future__ import annotations

from typing import Dict

import numpy as np
import pytest

from neural_style import Config, Stylizer
from neural_style.api import white_noise
from neural_style.config import RECIPES
from neural_style.engine.pixels import from_network, resize
from neural_style.io.images import load_rgb
from neural_style.io.locate import find_weights
from tests.helpers import INPUT

pytestmark = pytest.mark.slow

CAT, STARRY = INPUT / "cat.jpg", INPUT / "starry_night.jpg"
EDGE = 128

#: case -> (config changes, measured content, measured mean style); thresholds add the margin.
#: Measured: faithful 226 epochs (converged) 1.0167 / 0.0653 (relu5_1 0.2925); adam 100 epochs
#: 1.0525 / 0.0759 (relu5_1 0.3344); lbfgs 100 epochs 1.0545 / 0.0693 (relu5_1 0.3086).
CASES: Dict[str, tuple] = {
    "faithful default": ({}, 1.0167, 0.0653),
    "--optimizer adam": ({"optimizer": "adam", "max_num_epochs": 100}, 1.0525, 0.0759),
    "--optimizer lbfgs": ({"optimizer": "lbfgs", "max_num_epochs": 100}, 1.0545, 0.0693),
    # 40 epochs: 0.7601 / 0.0716 (relu5_1 0.1972). At 128 px its style is not yet below the
    # faithful default's; at 256 it is (test_fast_recipe_reaches_the_faithful_default).
    "--recipe fast": (RECIPES["fast"], 0.7601, 0.0716),
}
CONTENT_MARGIN, STYLE_MARGIN = 0.05, 1.25


@pytest.fixture(scope="module")
def stylizer() -> Stylizer:
    path = find_weights(None)
    assert path.is_file(), f"no weights at {path}: run scripts/download_vgg.sh first"
    return Stylizer(gpu=-1)


@pytest.mark.parametrize("case", list(CASES))
def test_each_optimiser_lowers_the_measures(stylizer: Stylizer, case: str) -> None:
    changes, content, style = CASES[case]
    cfg = Config(max_long_edge=EDGE, seed=0, save_epochs=0, **changes)
    result = stylizer.stylize(CAT, STARRY, cfg)
    shape = result.image.shape[:2]
    judge = stylizer.judge(CAT, STARRY, shape)
    start = judge(from_network(white_noise((1, 3) + shape, 0)))  # where every run starts
    end = judge(result.image)
    print(
        f"{case}: {result.epochs} epochs ({result.stop_reason.value}); start content "
        f"{start.content:.4f} style {start.style:.4f}; end content {end.content:.4f} "
        f"style {end.style:.4f} {end.style_layers}"
    )
    painting = judge(np.rint(resize(load_rgb(STARRY), shape) * 255).astype(np.uint8))
    assert end.style < 0.1 * start.style and end.content < 0.6 * painting.content
    assert end.content <= content + CONTENT_MARGIN
    assert end.style <= style * STYLE_MARGIN


def test_fast_recipe_reaches_the_faithful_default(stylizer: Stylizer) -> None:
    """Issue 8's claim at 256 px on the cat: the fast recipe's final image is at or below
    the faithful default's on the content measure and the mean style measure (measured:
    faithful 379 epochs 0.889 / 0.0779; fast 40 epochs 0.748 / 0.0543)."""
    faithful = stylizer.stylize(CAT, STARRY, Config(max_long_edge=256, seed=0, save_epochs=0))
    fast = stylizer.stylize(
        CAT, STARRY, Config.from_recipe("fast", max_long_edge=256, seed=0, save_epochs=0)
    )
    judge = stylizer.judge(CAT, STARRY, faithful.image.shape[:2])
    goal, got = judge(faithful.image), judge(fast.image)
    print(f"faithful {goal.as_dict()}\nfast {got.as_dict()}")
    assert fast.epochs == 40 and faithful.epochs > 5 * fast.epochs
    assert got.at_most(goal)
