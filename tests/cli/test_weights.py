"""The ``neural-style-weights`` command: fetch into the user cache, --list, --source."""

from __future__ import annotations

from pathlib import Path

import pytest

from neural_style.errors import ExitCode
from neural_style.io.weights import fingerprint, load_weights
from tests.helpers import ROOT


def test_command_fetches_into_the_user_cache_then_lists(
    tmp_path: Path,
    served: str,
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from neural_style.cli import weights as command
    from neural_style.io import locate

    monkeypatch.setattr(locate, "checkout_weights", lambda: tmp_path / "checkout" / "vgg19.params")
    env = {
        "NEURAL_STYLE_CACHE": str(tmp_path / "cache"),
        "NEURAL_STYLE_VGG_PARAMS_URL": f"{served}/corrupt.params",
        "NEURAL_STYLE_VGG_H5_URL": f"{served}/good.h5",
        "NEURAL_STYLE_VGG_FINGERPRINT": expected,
    }
    assert command.main(["--list"], env) == ExitCode.FAILURE  # nothing there yet
    out = capsys.readouterr().out
    assert "[missing]" in out and "nothing usable: run neural-style-weights" in out

    assert command.main(["--source", "h5,params", "--retries", "0"], env) == ExitCode.OK
    out, err = capsys.readouterr()
    cached = tmp_path / "cache" / "vgg19.params"
    assert out.strip() == str(cached) and "trying h5" in err and "trying params" not in err
    assert fingerprint(load_weights(cached)) == expected

    assert command.main(["--list"], env) == ExitCode.OK
    out = capsys.readouterr().out
    used = f"4. user cache ($NEURAL_STYLE_CACHE overrides): {cached}  [present, verified]  <- used"
    assert used in out
    assert "2. $NEURAL_STYLE_WEIGHTS: -  [not set]" in out

    # a file at $NEURAL_STYLE_WEIGHTS comes first, and a wrong one is flagged
    wrong = tmp_path / "wrong.h5"
    wrong.write_bytes((tmp_path / "cache" / "vgg19.params").read_bytes()[:1000])
    env["NEURAL_STYLE_WEIGHTS"] = str(wrong)
    assert command.main(["--list"], env) == ExitCode.FAILURE
    out = capsys.readouterr().out
    assert f"2. $NEURAL_STYLE_WEIGHTS: {wrong}  [present, NOT verified: " in out
    assert "<- used" in out


def test_command_refuses_unknown_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from neural_style.cli import weights as command

    assert command.main(["--source", "ftp", "--dest", str(tmp_path / "w.params")], {}) == 1
    assert "unknown source(s) ftp; choose from params, h5, pypi" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_console_scripts_are_declared() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert 'neural-style-weights = "neural_style.cli.weights:main"' in text
    assert 'neural-style = "neural_style.cli:main"' in text
