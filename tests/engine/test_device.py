from __future__ import annotations

import logging

import pytest

from neural_style._mxnet import mx
from neural_style.engine import device
from neural_style.errors import DeviceError


def test_cpu_on_request() -> None:
    assert device.choose_context(-1) == mx.cpu()


def test_auto_falls_back_to_cpu_with_a_notice(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(device, "visible_gpus", lambda: 0)
    with caplog.at_level(logging.INFO, logger="neural_style"):
        assert device.choose_context(None) == mx.cpu()
    assert "no GPU found" in caplog.text


def test_auto_picks_gpu_0_when_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "visible_gpus", lambda: 2)
    monkeypatch.setattr(device, "probe", lambda ctx: ctx)
    assert device.choose_context(None) == mx.gpu(0)


def test_gpu_on_a_cpu_build_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "has_cuda", lambda: False)
    fixes = r"no CUDA support.*--gpu -1.*pip install 'neural-style\[cu112\]'.*MXNET=cu112"
    with pytest.raises(DeviceError, match=fixes):
        device.choose_context(0)


def test_missing_gpu_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "has_cuda", lambda: True)
    monkeypatch.setattr(device, "visible_gpus", lambda: 1)
    with pytest.raises(DeviceError, match="only 1 GPU"):
        device.choose_context(3)
    with pytest.raises(DeviceError, match="-1 for the CPU"):
        device.choose_context(-2)


def test_probe_reports_a_broken_device() -> None:
    if device.has_cuda():
        pytest.skip("this MXNet build has CUDA: gpu(99) may exist")
    with pytest.raises(DeviceError, match="does not work"):
        device.probe(mx.gpu(99))
