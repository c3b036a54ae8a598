"""--loss-plot: a PNG of the loss terms and eps per epoch."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PIL import Image

from neural_style.engine.optimise import EpochInfo
from neural_style.errors import NeuralStyleError
from neural_style.io.plots import loss_plot, require_matplotlib


def history(epochs: int) -> list:
    return [
        EpochInfo(
            e,
            epochs,
            1.0 / e,
            10.0 / e,
            {"style:relu1_1": 4.0 / e, "content:relu4_2": 6.0 / e, "tv": 0.1},
            0.1,
            float(e),
            False,
        )
        for e in range(1, epochs + 1)
    ]


def test_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = loss_plot(history(20), tmp_path / "sub" / "loss.png")
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == (800, 600)
    assert sorted(p.name for p in path.parent.iterdir()) == ["loss.png"]


def test_does_not_switch_the_process_backend(tmp_path: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    before = matplotlib.get_backend()
    matplotlib.use("svg")  # a caller's choice, which the plot must not undo
    try:
        loss_plot(history(3), tmp_path / "loss.png")
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)


def test_without_matplotlib_the_error_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(NeuralStyleError, match=r"pip install 'neural-style\[plot\]'"):
        require_matplotlib()
