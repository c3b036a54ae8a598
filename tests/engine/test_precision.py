"""--precision: the choice per device (flags injected), the low-precision graph's gradient
against fp32, the fp16 graph built on the CPU, and the CLI's errors and start-up line."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from neural_style import cli
from neural_style._mxnet import mx
from neural_style.engine import device as device_mod
from neural_style.engine.graph import FP32, StyleGraph, network
from neural_style.engine.precision import (
    BF16_CPU_FLAGS,
    PRECISIONS,
    Device,
    Precision,
    PrecisionError,
    _amp_type,
    convert,
    cpu_flags,
    resolve,
)
from neural_style.errors import ConfigError, DeviceError, ExitCode
from neural_style.io.cache import style_key
from tests.helpers import TINY, cpu_run, write_image

PLAIN_CPU = Device("cpu", frozenset({"sse2", "avx2", "avx512f"}))
BF16_CPU = Device("cpu", frozenset({"avx2", "avx512f", "avx512_bf16"}))
STYLE, CONTENT = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"], ["relu4_2"]

#: The machine this runs on, for the tests that need real bf16 hardware.
HAS_BF16 = any(flag in cpu_flags() for flag in BF16_CPU_FLAGS)


def test_auto_picks_bf16_on_a_cpu_with_the_flags() -> None:
    for flag in BF16_CPU_FLAGS:
        chosen = resolve("auto", Device("cpu", frozenset({"avx2", flag})))
        assert chosen.name == "bf16" and flag in chosen.reason and "auto" in chosen.reason


def test_auto_falls_back_to_fp32_without_bf16() -> None:
    chosen = resolve("auto", PLAIN_CPU)
    assert chosen.name == "fp32" and "neither avx512_bf16 nor amx_bf16" in chosen.reason


def test_bf16_on_a_cpu_without_it_is_a_usage_error() -> None:
    with pytest.raises(
        PrecisionError,
        match="--precision bf16: this CPU has no native bfloat16.*--precision auto or fp32",
    ) as info:
        resolve("bf16", PLAIN_CPU)
    assert isinstance(info.value, ConfigError) and isinstance(info.value, DeviceError)
    assert info.value.exit_code == ExitCode.USAGE


def test_fp16_needs_a_volta_or_newer_gpu() -> None:
    assert resolve("auto", Device("gpu", capability=(7, 0))).name == "fp16"
    assert resolve("fp16", Device("gpu", capability=(8, 6))).name == "fp16"
    assert resolve("auto", Device("gpu", capability=(6, 1))).name == "fp32"
    for device in (Device("gpu", capability=(6, 1)), Device("gpu"), BF16_CPU):
        with pytest.raises(PrecisionError, match="--precision fp16: .*compute capability 7.0"):
            resolve("fp16", device)
    with pytest.raises(PrecisionError, match="--precision bf16"):
        resolve("bf16", Device("gpu", capability=(8, 0)))  # bf16 is wired for CPUs only


@given(
    st.sampled_from(PRECISIONS),
    st.frozensets(
        st.sampled_from(["sse2", "avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"])
    ),
)
def test_resolution_is_total_on_cpus(requested: str, flags: frozenset) -> None:
    """Every request on every CPU either resolves to a precision the CPU can do, or is
    refused; fp32 always resolves, auto never fails."""
    device = Device("cpu", flags)
    native = {"fp32"} | ({"bf16"} if flags & set(BF16_CPU_FLAGS) else set())
    try:
        chosen = resolve(requested, device)
    except PrecisionError:
        assert requested in ("bf16", "fp16") and requested not in native
        return
    assert chosen.name in native and chosen.reason
    assert requested == "auto" or chosen.name == requested
    if requested == "auto":
        assert chosen.name == ("bf16" if "bf16" in native else "fp32")


def test_cpu_flags_reads_proc_cpuinfo_format(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nflags\t\t: fpu sse2 avx512_bf16 amx_bf16\n\n"
        "processor\t: 1\nflags\t\t: fpu sse2 avx512_bf16 amx_bf16\n"
    )
    assert cpu_flags(info) == {"fpu", "sse2", "avx512_bf16", "amx_bf16"}
    assert cpu_flags(tmp_path / "absent") == frozenset()


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(ConfigError, match="choose from auto, fp32, bf16, fp16"):
        resolve("fp8", PLAIN_CPU)


def test_style_cache_key_depends_on_precision() -> None:
    x = np.zeros((1, 3, 4, 4), np.float32)
    keys = {style_key(x, ["relu1_1"], "avg", "w", p) for p in ("fp32", "bf16", "fp16")}
    assert len(keys) == 3
    assert style_key(x, ["relu1_1"], "avg", "w") == style_key(x, ["relu1_1"], "avg", "w", "fp32")


# ---- the graphs ------------------------------------------------------------------------------


def _graph(weights: Dict[str, np.ndarray], precision: Precision) -> StyleGraph:
    params = {k: mx.nd.array(v) for k, v in weights.items()}
    return StyleGraph(TINY, params, (32, 48), STYLE, CONTENT, mx.cpu(), precision=precision)


def _gradient(weights: Dict[str, np.ndarray], precision: Precision) -> np.ndarray:
    rng = np.random.default_rng(0)
    style, content, image = (
        rng.uniform(-100, 100, (1, 3, 32, 48)).astype(np.float32) for _ in range(3)
    )
    graph = _graph(weights, precision)
    graph.set_targets(graph.style_targets(style), content)
    graph.data[:] = image
    graph.forward_backward()
    return graph.grad.asnumpy()


#: bfloat16 keeps 8 significant bits (relative rounding 2^-9 = 0.2%); through the eight
#: bf16 convolutions (the first is fp32) and the squared terms, the gradient of the tiny
#: network moves by 0.4% on this machine (1.5% when the first convolution and the sums
#: at the forks were bf16 too). Tolerated: 2% relative L2 error, direction within 0.999.
BF16_GRADIENT_RTOL, BF16_GRADIENT_COSINE = 0.02, 0.999


@pytest.mark.skipif(
    not HAS_BF16,
    reason="this CPU has neither avx512_bf16 nor amx_bf16: "
    "bfloat16 would be emulated, and is refused",
)
def test_bf16_gradient_agrees_with_fp32(tiny_weights: Dict[str, np.ndarray]) -> None:
    exact = _gradient(tiny_weights, FP32)
    low = _gradient(tiny_weights, Precision("bf16", "test"))
    assert low.dtype == np.float32 and np.isfinite(low).all()
    error = np.linalg.norm(low - exact) / np.linalg.norm(exact)
    cosine = float((low * exact).sum() / (np.linalg.norm(low) * np.linalg.norm(exact)))
    assert error < BF16_GRADIENT_RTOL and cosine > BF16_GRADIENT_COSINE, (error, cosine)
    assert error > 0  # the low-precision graph did run in low precision


@pytest.mark.skipif(
    not HAS_BF16,
    reason="this CPU has neither avx512_bf16 nor amx_bf16: "
    "bfloat16 would be emulated, and is refused",
)
def test_bf16_term_values_are_fp32(tiny_weights: Dict[str, np.ndarray]) -> None:
    """The loss terms of a bf16 graph are fp32 values: each is ‖source − target‖² of the
    graph's own fp32 Gram matrix (or features) and target, to fp32's accuracy."""
    rng = np.random.default_rng(0)
    style, content, image = (
        rng.uniform(-100, 100, (1, 3, 32, 48)).astype(np.float32) for _ in range(3)
    )
    graph = _graph(tiny_weights, Precision("bf16", "test"))
    graph.set_targets(graph.style_targets(style), content)
    graph.data[:] = image
    values = graph.forward_backward().read()
    outputs = graph._executor.outputs
    sources = outputs[len(graph.terms) :]
    args = graph._executor.arg_dict
    for term, raw, source in zip(graph.terms, outputs, sources):
        assert raw.dtype == np.float32 and source.dtype == np.float32, term.name
        target = args[term.target].asnumpy().astype(np.float64)
        exact = float(np.sum((source.asnumpy().astype(np.float64) - target) ** 2))
        assert values[term.name] == pytest.approx(exact, rel=1e-6), term.name


def _op_dtypes(symbol: mx.sym.Symbol) -> List[str]:
    """The dtypes AMP casts to, in graph order (attr_dict keeps the cast nodes that
    tojson hides)."""
    return [
        attrs["dtype"]
        for name, attrs in symbol.attr_dict().items()
        if "_amp_cast_" in name and "dtype" in attrs
    ]


@pytest.mark.parametrize("name", ["fp16", "bf16"])
def test_low_precision_graph_is_built_with_fp32_ends(name: str) -> None:
    """The fp16 graph (for GPUs) is built and type-checked on the CPU, not run: the
    convolutions but the first take the low type, the features leave the network as
    fp32, and the loss built on them (Gram matrices, terms) is fp32 throughout."""
    precision = Precision(name, "test")
    low = _amp_type(precision.amp_dtype or "")
    graph_symbol = network(TINY, STYLE + CONTENT, "avg", precision)
    casts = _op_dtypes(graph_symbol)
    assert {"fp16": "float16", "bf16": "bfloat16"}[name] in casts
    arg_types, out_types, _ = graph_symbol.infer_type(data=np.float32)
    assert all(t == np.float32 for t in out_types)  # features leave the network as fp32
    declared = dict(zip(graph_symbol.list_arguments(), arg_types))
    # the weights are the low type themselves (cast once when bound), but the first layer's
    assert declared["conv1_1_weight"] == np.float32 and declared["conv1_1_bias"] == np.float32
    assert all(
        declared[n] == low for n in declared if n.endswith(("_weight", "_bias")) and "1_1" not in n
    )
    symbol = _objective_symbol(precision)
    internals = symbol.get_internals()
    inputs = {k: np.float32 for k in symbol.list_arguments() if k == "data" or "target" in k}
    _, types_inside, _ = internals.infer_type(**inputs)
    dtype_of = dict(zip(internals.list_outputs(), types_inside))
    convolutions = [n for n in dtype_of if n.startswith("conv") and n.endswith("_output")]
    assert dtype_of["conv1_1_output"] == np.float32  # the first layer reads the image
    assert all(dtype_of[n] == low for n in convolutions if n != "conv1_1_output")
    loss = [n for n in dtype_of if "fullyconnected" in n or "square" in n or "sum" in n]
    assert loss and all(dtype_of[n] == np.float32 for n in loss)
    _, out_types, _ = symbol.infer_type(**inputs)
    assert all(t == np.float32 for t in out_types)  # terms, sources
    # no weight is cast inside the graph (AMP's default would cast each on every pass)
    nodes = json.loads(symbol.tojson(remove_amp_cast=False))["nodes"]
    cast = [nodes[n["inputs"][0][0]]["name"] for n in nodes if n["op"] == "amp_cast"]
    assert "data" in cast or any(c.endswith("_fp32") for c in cast)  # the casts are seen
    assert not [c for c in cast if c.endswith(("_weight", "_bias"))]


def _objective_symbol(precision: Precision) -> mx.sym.Symbol:
    """The objective as StyleGraph builds it (terms, then their sources), not bound."""
    from neural_style.engine.graph import _shapes, network_features
    from neural_style.engine.losses import TERM_BUILDERS

    feats = network_features(TINY, STYLE + CONTENT, "avg", precision)
    shapes = _shapes(feats, (1, 3, 32, 48))
    terms = [
        TERM_BUILDERS[kind](layer, feats[layer], shapes[layer])
        for kind, layers in (("style", STYLE), ("content", CONTENT))
        for layer in layers
    ]
    return mx.sym.Group([t.symbol for t in terms] + [mx.sym.BlockGrad(t.source) for t in terms])


def test_fp32_is_not_converted() -> None:
    symbol = network(TINY, ["relu1_1"])
    assert _op_dtypes(symbol) == [] and convert(symbol, FP32) is symbol


# ---- the CLI ---------------------------------------------------------------------------------


@pytest.fixture()
def cli_args(
    tmp_path: Path, content_path: Path, style_path: Path, vgg19_random_npz: Path
) -> List[str]:
    out = tmp_path / "out"
    return cpu_run(
        content_path,
        style_path,
        vgg19_random_npz,
        out,
        max_long_edge=32,
        max_num_epochs=2,
        save_epochs=0,
    )


def _as_plain_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device_mod, "cpu_flags", lambda: PLAIN_CPU.cpu_flags)


def test_cli_bf16_on_a_cpu_without_it_exits_2(
    monkeypatch: pytest.MonkeyPatch, cli_args: List[str], capsys: pytest.CaptureFixture[str]
) -> None:
    _as_plain_cpu(monkeypatch)
    assert cli.main([*cli_args, "--precision", "bf16"]) == ExitCode.USAGE
    out, err = capsys.readouterr()
    assert out == "" and err.strip() == (
        "neural-style: error: --precision bf16: this CPU has no "
        "native bfloat16 (needs a CPU with avx512_bf16 or "
        "amx_bf16); use --precision auto or fp32"
    )


def test_cli_fp16_on_the_cpu_exits_2(
    cli_args: List[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*cli_args, "--precision", "fp16"]) == ExitCode.USAGE
    assert "--precision fp16: this CPU has no float16 tensor cores" in capsys.readouterr().err


def test_cli_auto_falls_back_to_fp32_and_says_why(
    monkeypatch: pytest.MonkeyPatch, cli_args: List[str], capsys: pytest.CaptureFixture[str]
) -> None:
    _as_plain_cpu(monkeypatch)
    assert cli.main([*cli_args, "--json"]) == ExitCode.OK
    out, err = capsys.readouterr()
    assert (
        "neural-style: precision: fp32 (auto: the CPU has neither avx512_bf16 nor amx_bf16)"
        in err.splitlines()
    )
    assert json.loads(out)["status"] == "done"


@pytest.mark.skipif(not HAS_BF16, reason="this CPU has neither avx512_bf16 nor amx_bf16")
def test_cli_auto_runs_bf16_on_this_cpu(
    cli_args: List[str], capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    assert cli.main([*cli_args, "--precision", "bf16", "--json"]) == ExitCode.OK
    out, err = capsys.readouterr()
    assert "neural-style: precision: bf16 (as asked; the CPU has" in err
    assert json.loads(out)["status"] == "done"


@pytest.mark.skipif(
    HAS_BF16,
    reason="this CPU has bf16: the real refusal cannot be seen here "
    "(the injected-flags test covers it)",
)
def test_real_cpu_without_bf16_refuses_it(
    cli_args: List[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*cli_args, "--precision", "bf16"]) == ExitCode.USAGE
    assert "no native bfloat16" in capsys.readouterr().err


def test_stylizer_keeps_graphs_apart_by_precision(
    tiny_weights: Dict[str, np.ndarray], caplog: pytest.LogCaptureFixture
) -> None:
    from neural_style import Config, Stylizer

    stylizer = Stylizer(tiny_weights, gpu=-1, spec=TINY)
    with caplog.at_level(logging.INFO):
        fp32 = stylizer.graph((32, 48), Config(precision="fp32"))
    assert fp32.precision.name == "fp32"
    if HAS_BF16:
        assert stylizer.graph((32, 48), Config(precision="bf16")).precision.name == "bf16"
        assert stylizer.precision("auto").name == "bf16"
    else:
        with pytest.raises(PrecisionError):
            stylizer.graph((32, 48), Config(precision="bf16"))
        assert stylizer.precision("auto").name == "fp32"


# ---- AMX (oneDNN 2.4 in MXNet 1.9.1 needs to be told, and Linux asked) ------------------------


def test_amx_is_enabled_only_where_the_cpu_has_it() -> None:
    from neural_style._mxnet import enable_amx

    env: Dict[str, str] = {}
    assert enable_amx(env, frozenset({"avx512_bf16"}), lambda: True) is False and env == {}
    assert enable_amx(env, frozenset({"amx_bf16"}), lambda: False) is False and env == {}
    assert enable_amx(env, frozenset({"amx_bf16"}), lambda: True) is True
    assert env == {"DNNL_MAX_CPU_ISA": "AVX512_CORE_AMX"}


def test_amx_leaves_the_users_isa_but_still_asks_linux() -> None:
    from neural_style._mxnet import enable_amx

    asked: List[bool] = []

    def request() -> bool:
        asked.append(True)
        return True

    env = {"DNNL_MAX_CPU_ISA": "AVX512_CORE"}
    assert enable_amx(env, frozenset({"amx_bf16"}), request) is False
    assert env == {"DNNL_MAX_CPU_ISA": "AVX512_CORE"} and asked == [True]


def test_bf16_with_amx_has_a_width_limit() -> None:
    """oneDNN 2.4's AMX bf16 backward convolution stalls beyond AMX_BF16_MAX_WIDTH."""
    from neural_style.engine.precision import AMX_BF16_MAX_WIDTH, Precision, for_width

    bf16, fp32 = Precision("bf16", "auto: the CPU has amx_bf16"), Precision("fp32", "as asked")
    assert for_width(bf16, "auto", AMX_BF16_MAX_WIDTH, amx=True) is bf16
    assert for_width(bf16, "auto", 4000, amx=False) is bf16  # without AMX no limit
    assert for_width(fp32, "fp32", 4000, amx=True) is fp32
    wide = for_width(bf16, "auto", AMX_BF16_MAX_WIDTH + 1, amx=True)
    assert wide.name == "fp32" and f"wider than {AMX_BF16_MAX_WIDTH}" in wide.reason
    with pytest.raises(PrecisionError, match="800 here.*use --precision auto") as raised:
        for_width(bf16, "bf16", 800, amx=True)
    assert raised.value.exit_code == ExitCode.USAGE
    # what else fixes it (a tile, a smaller size) depends on the run: api.plan_sizes says
    assert "--tile" not in str(raised.value)


def test_amx_in_use_follows_the_flags_and_onednns_isa() -> None:
    from neural_style.engine.precision import Device, amx_in_use

    amx = Device("cpu", frozenset({"amx_bf16", "avx512_bf16"}))
    assert amx_in_use(amx, {"DNNL_MAX_CPU_ISA": "avx512_core_amx"})
    assert not amx_in_use(amx, {"DNNL_MAX_CPU_ISA": "AVX512_CORE_BF16"})
    assert not amx_in_use(amx, {})
    assert not amx_in_use(Device("cpu", frozenset({"avx512_bf16"})), {"DNNL_MAX_CPU_ISA": "ALL"})
    assert not amx_in_use(Device("gpu"), {"DNNL_MAX_CPU_ISA": "ALL"})


def test_the_stylizer_checks_the_width_before_any_work(
    tiny_weights: Dict[str, np.ndarray],
) -> None:
    """On a machine using AMX, auto runs a wide graph in fp32 and bf16 is refused before
    any epoch, for a whole image or a tile; elsewhere bf16 has no width limit (or is
    refused for the CPU itself)."""
    from neural_style import Config, Stylizer
    from neural_style.engine.precision import AMX_BF16_MAX_WIDTH, amx_in_use

    stylizer = Stylizer(tiny_weights, gpu=-1, spec=TINY)
    if not amx_in_use(stylizer._device):
        pytest.skip("this machine does not run bf16 on AMX: no width limit to check")
    assert stylizer.precision("auto", AMX_BF16_MAX_WIDTH + 1).name == "fp32"
    assert stylizer.precision("auto", AMX_BF16_MAX_WIDTH).name == "bf16"
    content = np.zeros((20, AMX_BF16_MAX_WIDTH + 1, 3), np.uint8)
    seen: List[int] = []
    with pytest.raises(PrecisionError, match="wider than 736"):
        stylizer.stylize(
            content,
            content,
            Config(precision="bf16", max_long_edge=AMX_BF16_MAX_WIDTH + 1, max_num_epochs=1),
            lambda info, image: seen.append(info.epoch),
        )
    assert seen == []
    # tiles wider than the limit are refused before the composition's epochs, too: at
    # 1450 px wide, two windows of 768 (the 800-px composition is 682 px wide)
    wide = np.zeros((1700, 1450, 3), np.uint8)
    tiled = Config(precision="bf16", max_long_edge=1700, max_num_epochs=1, tile=800)
    with pytest.raises(PrecisionError, match="wider than 736"):
        stylizer.stylize(wide, content, tiled, lambda info, image: seen.append(info.epoch))
    assert seen == []


@pytest.mark.skipif(not HAS_BF16, reason="this CPU has neither avx512_bf16 nor amx_bf16")
def test_bf16_graph_binds_its_weights_cast_once(tiny_weights: Dict[str, np.ndarray]) -> None:
    """The low-precision convolutions' weights are bound as bf16 copies of the fp32
    ones (cast at bind time, not every pass); the first layer's are the shared fp32
    arrays themselves, and an fp32 graph binds every weight as given."""
    params = {k: mx.nd.array(v) for k, v in tiny_weights.items()}
    bound = StyleGraph(
        TINY, params, (32, 48), STYLE, CONTENT, mx.cpu(), precision=Precision("bf16", "test")
    )._executor.arg_dict
    low = _amp_type("bfloat16")
    assert bound["conv1_1_weight"] is params["conv1_1_weight"]
    assert bound["conv1_2_weight"].dtype == low
    back = mx.nd.amp_cast(bound["conv1_2_weight"], dtype="float32").asnumpy()
    np.testing.assert_allclose(back, tiny_weights["conv1_2_weight"], rtol=2**-8)
    exact = StyleGraph(TINY, params, (32, 48), STYLE, CONTENT, mx.cpu())._executor.arg_dict
    assert all(exact[k] is v for k, v in params.items() if k in exact)


def test_start_up_line_says_when_wide_graphs_run_in_fp32(
    monkeypatch: pytest.MonkeyPatch,
    cli_args: List[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With AMX, auto runs graphs wider than 736 px in fp32: the start-up line says so
    when a job's graphs may be that wide (not when --tile keeps them narrower)."""
    from neural_style.cli.main import announce_precision, parse

    monkeypatch.setattr(device_mod, "cpu_flags", lambda: frozenset({"amx_bf16", "amx_tile"}))
    monkeypatch.setenv("DNNL_MAX_CPU_ISA", "AVX512_CORE_AMX")

    def line(*flags: str) -> str:
        caplog.clear()
        with caplog.at_level("INFO", logger="neural_style"):
            announce_precision(parse([*cli_args, *flags]))
        (message,) = [r.getMessage() for r in caplog.records if "precision" in r.getMessage()]
        return message

    wide = line("--max-long-edge", "800")
    assert wide.startswith("precision: bf16 (auto: the CPU has amx_bf16)")
    assert "; fp32 for graphs wider than 736 px" in wide and "--tile 736" in wide
    assert "fp32" not in line("--max-long-edge", "736")
    assert "fp32" not in line("--max-long-edge", "2048", "--tile", "512")


def test_start_up_line_offers_a_tile_only_where_it_keeps_bf16(
    monkeypatch: pytest.MonkeyPatch,
    cli_args: List[str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 2000x40 photo at 2000 px: in tiles of 736 the whole-image start that keeps its
    short side at 16 px is 800x16, over the limit, so --tile 736 would not keep bf16 and
    the line does not offer it (it did); a photo that tiles keeps the offer."""
    from neural_style.cli.main import announce_precision, parse

    monkeypatch.setattr(device_mod, "cpu_flags", lambda: frozenset({"amx_bf16", "amx_tile"}))
    monkeypatch.setenv("DNNL_MAX_CPU_ISA", "AVX512_CORE_AMX")
    thin = write_image(tmp_path / "thin.png", (2000, 40))
    assert cli_args[0] == "--content-image"

    def line(content: str) -> str:
        caplog.clear()
        args = ["--content-image", content, *cli_args[2:], "--max-long-edge", "2000"]
        with caplog.at_level("INFO", logger="neural_style"):
            announce_precision(parse(args))
        (message,) = [r.getMessage() for r in caplog.records if "precision" in r.getMessage()]
        return message

    thin_line = line(str(thin))
    assert "; fp32 for graphs wider than 736 px" in thin_line and "--tile" not in thin_line
    assert "(--tile 736 keeps bf16)" in line(cli_args[1])


# ---- bf16's width limit, found once the image is read: a usage error ------------------------


def _as_amx_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine as one whose oneDNN runs bf16 on AMX (the width limit applies)."""
    monkeypatch.setattr(device_mod, "cpu_flags", lambda: frozenset({"avx512_bf16", "amx_bf16"}))
    monkeypatch.setenv("DNNL_MAX_CPU_ISA", "AVX512_CORE_AMX")


def test_cli_bf16_wider_than_amx_allows_exits_2_before_any_epoch(
    monkeypatch: pytest.MonkeyPatch, cli_args: List[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The width is known once the image is read, but it is a setting that cannot work:
    exit 2 (not 1), one line, with fixes computed for this image (48x32 at 800: 800x533)."""
    _as_amx_cpu(monkeypatch)
    code = cli.main([*cli_args, "--precision", "bf16", "--max-long-edge", "800"])
    out, err = capsys.readouterr()
    assert code == ExitCode.USAGE, err
    (line,) = [line for line in err.splitlines() if "error" in line]
    assert line.startswith("neural-style: error: --precision bf16: the content image at 800x533")
    assert "800 px wide" in line and "wider than 736 px" in line
    assert "--precision auto" in line and "--tile 736" in line and "--max-long-edge 736" in line
    assert out == "" and "Traceback" not in err


def test_batch_job_bf16_too_wide_fails_alone_with_the_usage_status(
    monkeypatch: pytest.MonkeyPatch,
    cli_args: List[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """In a batch the job fails with exit code 2 in its JSON line, the batch goes on to
    its summary, and exits 2 when every failure is such a setting; with another kind of
    failure beside it, 1."""
    _as_amx_cpu(monkeypatch)
    args = [*cli_args, "--precision", "bf16", "--json", "--sweep", "max-long-edge=800,900"]
    code = cli.main(args)
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == ExitCode.USAGE, err
    assert [(j["status"], j["exit_code"]) for j in lines] == [("failed", 2), ("failed", 2)]
    assert "800 px wide" in lines[0]["error"] and "900 px wide" in lines[1]["error"]
    assert "batch: 0 done, 2 failed of 2 jobs" in err
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    content = cli_args.index("--content-image") + 1
    mixed = [*cli_args[:content], cli_args[content], str(broken), *cli_args[content + 1 :]]
    code = cli.main([*mixed, "--precision", "bf16", "--json", "--max-long-edge", "800"])
    out, err = capsys.readouterr()
    codes = sorted(json.loads(line)["exit_code"] for line in out.splitlines())
    assert codes == [ExitCode.FAILURE, ExitCode.USAGE] and code == ExitCode.FAILURE, err
