from __future__ import annotations

from pathlib import Path

from neural_style.io.snapshots import SnapshotWriter, snapshot_name
from tests.helpers import noisy_flat


def test_writer_uses_the_examples_names(tmp_path: Path) -> None:
    writer = SnapshotWriter(tmp_path / "snaps")
    writer(50, noisy_flat())
    writer(100, noisy_flat())
    assert snapshot_name(50) == "e_50.jpg"
    assert sorted(p.name for p in (tmp_path / "snaps").iterdir()) == ["e_100.jpg", "e_50.jpg"]
    assert writer.written == [tmp_path / "snaps" / "e_50.jpg", tmp_path / "snaps" / "e_100.jpg"]
