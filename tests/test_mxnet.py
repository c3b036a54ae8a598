from __future__ import annotations

import types

from neural_style._mxnet import mx, prepare_environment, restore_numpy_aliases


def test_restores_only_missing_aliases() -> None:
    fake = types.SimpleNamespace(bool=bool, float="kept")
    assert restore_numpy_aliases(fake) == ["int", "complex", "object", "str"]
    assert fake.float == "kept" and fake.int is int and fake.str is str


def test_user_thread_count_is_respected() -> None:
    env = {"OMP_NUM_THREADS": "1"}
    prepare_environment(env)
    assert env["OMP_NUM_THREADS"] == "1"
    env = {}
    prepare_environment(env)
    assert int(env["OMP_NUM_THREADS"]) >= 1


def test_mxnet_imports_and_computes() -> None:
    assert mx.__version__ == "1.9.1"
    assert (mx.nd.ones((2,)) * 3).asnumpy().tolist() == [3.0, 3.0]
