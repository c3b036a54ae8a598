"""Manifests: one job per row, every error with its row."""

from __future__ import annotations

from pathlib import Path

import pytest

from neural_style.batch.manifest import read_manifest
from neural_style.errors import ConfigError
from tests.helpers import write_image


def test_manifest_errors_name_their_lines(tmp_path: Path) -> None:
    for name in ("a.jpg", "c.jpg", "s.jpg"):
        write_image(tmp_path / name)
    manifest = tmp_path / "jobs.csv"
    manifest.write_text(
        "content,style,content_weight,colour\na.jpg,s.jpg,5,\nb.jpg,,10,\nc.jpg,s.jpg,ten,red\n"
    )
    with pytest.raises(ConfigError) as err:
        read_manifest(manifest)
    text = str(err.value)
    assert "line 3: no style" in text
    assert "line 4: content_weight must be a number such as 10, not 'ten'" in text
    jsonl = tmp_path / "jobs.jsonl"
    jsonl.write_text('{"content": "a.jpg", "style": "s.jpg", "stop_eps": -1}\n{"content": 3\n')
    with pytest.raises(ConfigError, match="line 2: not JSON"):
        read_manifest(jsonl)
    jsonl.write_text('{"content": "a.jpg", "style": "s.jpg", "stop_eps": -1}\n')
    with pytest.raises(ConfigError, match=r"line 1: stop_eps must be in \(0, 1\], not -1"):
        read_manifest(jsonl)
