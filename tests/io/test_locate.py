"""The one search order for the weights, used by the CLI, the library and the fetch command."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_style import Stylizer, WeightsError
from neural_style.io import locate
from neural_style.io.locate import cache_dir, find_weights, search_order


@pytest.fixture()
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dict[str, Path]:
    """Four candidate files, none existing yet; the checkout's path is redirected."""
    paths = {
        name: tmp_path / name / "vgg19.params" for name in ("flag", "env", "checkout", "cache")
    }
    monkeypatch.setattr(locate, "checkout_weights", lambda: paths["checkout"])
    return paths


def env_for(paths: Dict[str, Path], with_env: bool) -> Dict[str, str]:
    env = {"NEURAL_STYLE_CACHE": str(paths["cache"].parent)}
    if with_env:
        env["NEURAL_STYLE_WEIGHTS"] = str(paths["env"])
    return env


def test_order_and_labels(places: Dict[str, Path]) -> None:
    order = search_order(places["flag"], env_for(places, True))
    assert [p.path for p in order] == [places[k] for k in ("flag", "env", "checkout", "cache")]
    assert [p.explicit for p in order] == [True, True, False, False]


@settings(max_examples=40, deadline=None)
@given(
    exists=st.lists(st.booleans(), min_size=4, max_size=4), flag=st.booleans(), env=st.booleans()
)
def test_first_explicit_or_first_existing_wins(
    tmp_path_factory: pytest.TempPathFactory, exists: List[bool], flag: bool, env: bool
) -> None:
    """Whatever exists: a given --weights or $NEURAL_STYLE_WEIGHTS is binding (used, or its
    absence is the error); otherwise the checkout, then the cache; the error lists all four."""
    root = tmp_path_factory.mktemp("order")
    paths = {name: root / name / "vgg19.params" for name in ("flag", "env", "checkout", "cache")}
    for made, path in zip(exists, paths.values()):
        if made:
            path.parent.mkdir(parents=True)
            path.write_bytes(b"x")
    original = locate.checkout_weights
    locate.checkout_weights = lambda: paths["checkout"]  # type: ignore[assignment]
    try:
        explicit: Optional[Path] = paths["flag"] if flag else None
        wanted = (
            paths["flag"]
            if flag
            else paths["env"]
            if env
            else paths["checkout"]
            if exists[2]
            else paths["cache"]
            if exists[3]
            else None
        )
        if wanted is not None and wanted.is_file():
            assert find_weights(explicit, env_for(paths, env)) == wanted
        else:
            with pytest.raises(WeightsError) as err:
                find_weights(explicit, env_for(paths, env))
            text = str(err.value)
            assert "neural-style-weights" in text
            assert str(paths["checkout"]) in text and str(paths["cache"]) in text
            if flag:
                assert str(paths["flag"]) in text
    finally:
        locate.checkout_weights = original  # type: ignore[assignment]


def test_cache_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import platformdirs

    assert cache_dir({"NEURAL_STYLE_CACHE": str(tmp_path)}) == tmp_path
    assert cache_dir({}) == Path(platformdirs.user_cache_dir("neural-style", appauthor=False))


def test_an_installed_package_has_no_checkout_place(tmp_path: Path) -> None:
    """Only a folder with pyproject.toml beside the package counts as a source checkout:
    nothing is ever looked for (or written) inside site-packages."""
    assert (
        locate.checkout_weights()
        == Path(locate.__file__).resolve().parents[2] / "models" / "vgg19.params"
    )
    order = search_order(None, {"NEURAL_STYLE_CACHE": str(tmp_path)})
    site = Path(locate.__file__).resolve().parents[1]
    assert all(p.path is None or site not in p.path.parents for p in order)


def test_library_uses_the_same_order(
    places: Dict[str, Path], monkeypatch: pytest.MonkeyPatch, vgg19_random_npz: Path
) -> None:
    monkeypatch.setenv("NEURAL_STYLE_CACHE", str(places["cache"].parent))
    monkeypatch.delenv("NEURAL_STYLE_WEIGHTS", raising=False)
    with pytest.raises(WeightsError, match="Fetch them with: neural-style-weights"):
        Stylizer(gpu=-1)
    with pytest.raises(WeightsError, match="Looked at, in order: --weights .*missing.npz"):
        Stylizer(places["flag"].parent / "missing.npz", gpu=-1)
    # found through $NEURAL_STYLE_WEIGHTS, and then checked against the VGG19 fingerprint
    monkeypatch.setenv("NEURAL_STYLE_WEIGHTS", str(vgg19_random_npz))
    with pytest.raises(WeightsError, match="not the expected VGG19 weights"):
        Stylizer(gpu=-1)


def test_help_shows_the_order(capsys: pytest.CaptureFixture[str]) -> None:
    from neural_style import cli

    assert cli.main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "Weights are looked for at: --weights PATH, then $NEURAL_STYLE_WEIGHTS" in text
    assert "neural-style-weights fetches" in text
    assert str(locate.cache_weights()) in text
