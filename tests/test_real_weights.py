"""End to end with the real VGG19 weights (``make test-slow``; CI fetches them first)."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from neural_style import Config, Stylizer, cli
from neural_style.engine.optimise import EpochInfo
from neural_style.io.locate import find_weights
from tests.helpers import INPUT

pytestmark = pytest.mark.slow

CAT, STARRY = INPUT / "cat.jpg", INPUT / "starry_night.jpg"


@pytest.fixture(scope="module")
def stylizer() -> Stylizer:
    find_weights()  # if missing: an error listing every place looked and how to fetch
    return Stylizer(gpu=-1)  # verifies the fingerprint


def style_term(info: EpochInfo) -> float:
    return sum(v for k, v in info.terms.items() if k.startswith("style:"))


def test_style_term_halves_in_30_epochs(stylizer: Stylizer) -> None:
    infos: List[EpochInfo] = []
    result = stylizer.stylize(
        CAT,
        STARRY,
        Config(max_long_edge=128, max_num_epochs=30, seed=0),
        lambda info, snapshot: infos.append(info),
    )
    assert result.epochs == 30 and len(infos) == 30
    assert style_term(infos[-1]) <= 0.5 * style_term(infos[0])
    assert result.image.shape == (85, 128, 3)


def test_cli_writes_every_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(
        [
            "--content-image",
            str(CAT),
            "--style-image",
            str(STARRY),
            "--gpu",
            "-1",
            "--max-long-edge",
            "128",
            "--max-num-epochs",
            "30",
            "--stop-eps",
            "1e-6",
            "--save-epochs",
            "10",
            "--output-dir",
            str(tmp_path),
            "-q",
        ]
    )
    assert code == 0
    visible = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert visible == ["e_10.jpg", "e_20.jpg", "e_30.jpg", "final.jpg"]
    assert capsys.readouterr().out.strip() == str(tmp_path / "final.jpg")
