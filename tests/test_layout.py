"""The layout keeps its promises: tests mirror modules, layers import downwards only,
and the documentation names every module."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "neural_style"

#: Layers from the bottom; a module may import from its own layer and those below.
LAYERS: Dict[str, int] = {
    "engine": 0,
    "config": 0,
    "errors": 0,
    "_mxnet": 0,
    "io": 1,
    "api": 2,
    "batch": 3,
    "cli": 4,
}


def modules() -> List[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name not in ("__init__.py", "__main__.py"))


def layer_of(dotted: str) -> int:
    """``neural_style.io.images`` -> 1."""
    parts = dotted.split(".")
    return LAYERS[parts[1]] if len(parts) > 1 and parts[1] in LAYERS else -1


def dotted(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def imports(path: Path) -> List[str]:
    """Every module ``path`` imports from the package (also inside functions), absolute."""
    package = dotted(path).split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            found.append(".".join(base + ([node.module] if node.module else [])))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("neural_style"):
            found.append(node.module or "")
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_module_has_its_test_file(path: Path) -> None:
    rel = path.relative_to(PACKAGE)
    name = "test_" + rel.stem.lstrip("_") + ".py"
    assert (ROOT / "tests" / rel.parent / name).is_file()


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_down_the_layers(path: Path) -> None:
    own = layer_of(dotted(path))
    for target in imports(path):
        assert layer_of(target) <= own, f"{dotted(path)} imports {target}"


@pytest.mark.parametrize("doc", ["README.md", "docs/architecture.md"])
def test_the_documentation_names_every_module(doc: str) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    missing = [str(p.relative_to(PACKAGE)) for p in modules() if p.name not in text]
    assert missing == []
