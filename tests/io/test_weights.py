from __future__ import annotations

from pathlib import Path
from typing import Dict

import h5py
import numpy as np
import pytest

from neural_style._mxnet import mx
from neural_style.errors import WeightsError
from neural_style.io.weights import (
    check_shapes,
    fingerprint,
    load_weights,
    read_h5,
    save_params,
)
from tests.helpers import TINY, write_keras_h5


def assert_same(a: Dict[str, np.ndarray], b: Dict[str, np.ndarray]) -> None:
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_params_round_trip(tmp_path: Path, tiny_weights: Dict[str, np.ndarray]) -> None:
    path = tmp_path / "w.params"
    save_params(tiny_weights, path)
    raw = mx.nd.load(str(path))
    assert "arg:conv1_1_weight" in raw  # the example's key names
    assert_same(load_weights(path, TINY), tiny_weights)


def test_h5_is_converted_to_the_canonical_layout(
    tmp_path: Path, tiny_weights: Dict[str, np.ndarray]
) -> None:
    path = write_keras_h5(tiny_weights, tmp_path / "w.h5", TINY)
    assert_same(load_weights(path, TINY), tiny_weights)


def test_h5_conv1_1_input_channels_are_reversed(
    tmp_path: Path, tiny_weights: Dict[str, np.ndarray]
) -> None:
    path = write_keras_h5(tiny_weights, tmp_path / "w.h5", TINY)
    with h5py.File(path, "r") as h5:
        stored = h5["block1_conv1/block1_conv1_W_1:0"][()]
    loaded = read_h5(path, TINY)["conv1_1_weight"]
    # input channel 0 of ours (R) is channel 2 of the file (B)
    np.testing.assert_array_equal(loaded[:, 0], np.transpose(stored, (3, 2, 0, 1))[:, 2])


def test_npz_with_and_without_prefix(tmp_path: Path, tiny_weights: Dict[str, np.ndarray]) -> None:
    np.savez(tmp_path / "a.npz", **tiny_weights)
    np.savez(tmp_path / "b.npz", **{"arg:" + k: v for k, v in tiny_weights.items()})
    assert_same(load_weights(tmp_path / "a.npz", TINY), tiny_weights)
    assert_same(load_weights(tmp_path / "b.npz", TINY), tiny_weights)


def test_wrong_shapes_and_missing_keys_are_named(tiny_weights: Dict[str, np.ndarray]) -> None:
    bad = dict(tiny_weights)
    bad["conv2_1_weight"] = np.zeros((1, 2, 3, 3), np.float32)
    del bad["conv5_4_bias"]
    with pytest.raises(WeightsError) as err:
        check_shapes(bad, TINY, "x.npz")
    message = str(err.value)
    assert "conv2_1_weight has shape (1, 2, 3, 3), expected (6, 4, 3, 3)" in message
    assert "conv5_4_bias missing" in message


def test_fingerprint_refuses_other_arrays(
    tmp_path: Path, tiny_weights: Dict[str, np.ndarray]
) -> None:
    path = tmp_path / "w.params"
    save_params(tiny_weights, path)
    good = fingerprint(tiny_weights, TINY)
    assert load_weights(path, TINY, expected=good)
    changed = dict(tiny_weights)
    changed["conv3_2_bias"] = changed["conv3_2_bias"] + np.float32(1e-3)
    assert fingerprint(changed, TINY) != good
    save_params(changed, path)
    with pytest.raises(WeightsError, match="not the expected VGG19 weights"):
        load_weights(path, TINY, expected=good)


@pytest.mark.parametrize("suffix", [".params", ".h5", ".npz"])
def test_truncated_files_are_refused(
    tmp_path: Path, tiny_weights: Dict[str, np.ndarray], suffix: str
) -> None:
    whole = tmp_path / f"whole{suffix}"
    if suffix == ".params":
        save_params(tiny_weights, whole)
    elif suffix == ".h5":
        write_keras_h5(tiny_weights, whole, TINY)
    else:
        np.savez(whole, **tiny_weights)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(WeightsError, match=str(cut.name)):
        load_weights(cut, TINY)


def test_wrong_file_type_and_missing_file(tmp_path: Path) -> None:
    text = tmp_path / "w.params"
    text.write_text("not weights")
    with pytest.raises(WeightsError, match="not a readable MXNet .params file"):
        load_weights(text, TINY)
    with pytest.raises(WeightsError, match="unknown weights format '.pt'"):
        (tmp_path / "w.pt").write_bytes(b"x")
        load_weights(tmp_path / "w.pt", TINY)
    with pytest.raises(WeightsError, match="no such weights file"):
        load_weights(tmp_path / "missing.params", TINY)
