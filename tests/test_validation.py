"""Every value is checked before any work, and a usage error is one line with exit code 2.

A property-based test drives the CLI with random values for every numeric flag; focused
tests cover each class: ranges, the parameter's name in the caller's language, sweeps,
repeated images, file names with glob characters, manifests, output paths, weights with
NaN, and real out-of-memory.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from neural_style import api, cli
from neural_style.batch.manifest import read_manifest
from neural_style.config import MAX_TILED_EDGE, RANGES, Config
from neural_style.errors import ConfigError, ExitCode, WeightsError
from neural_style.io.weights import load_weights
from tests.helpers import ROOT, TINY, random_weights, read_only, write_image

Run = Tuple[int, str, str]

#: Every numeric flag, from Config's fields (int or float, optional or not).
NUMERIC = {
    f.name: typing.get_args(t)[0] if typing.get_args(t) else t
    for f, t in ((f, typing.get_type_hints(Config)[f.name]) for f in dataclasses.fields(Config))
    if (typing.get_args(t)[0] if typing.get_args(t) else t) in (int, float)
}

#: Values a hostile user types: NaN, infinities, zeros, huge, tiny, negative, not numbers.
SPECIAL = [
    "nan",
    "-nan",
    "NaN",
    "inf",
    "-inf",
    "+inf",
    "infinity",
    "0",
    "-0",
    "0.0",
    "-0.0",
    "1e308",
    "-1e308",
    "1e-320",
    "-1e-320",
    "1e20",
    "100000000000000000000",
    "-1",
    "1",
    "2",
    "0.5",
    "16",
    "5792",
    "5793",
    "1e4",
    "true",
    "",
    "1,2",
    "0x10",
]


def value_text(kind: type) -> st.SearchStrategy[str]:
    floats = st.floats(allow_nan=True, allow_infinity=True).map(repr)
    ints = st.integers(min_value=-(2**70), max_value=2**70).map(str)
    return (
        st.one_of(st.sampled_from(SPECIAL), floats, ints)
        if kind is float
        else st.one_of(st.sampled_from(SPECIAL), ints, floats)
    )


def flags_for(values: Dict[str, str]) -> List[str]:
    return [arg for name, text in values.items() for arg in (f"--{name.replace('_', '-')}={text}",)]


def files_under(folder: Path) -> Dict[Path, int]:
    return {p: p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def run_cli(args: Sequence[str], capsys: pytest.CaptureFixture[str]) -> Run:
    capsys.readouterr()
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_usage_error(result: Run, *fragments: str) -> str:
    """Exit 2, one line on stderr naming what is wrong and pointing to --help."""
    code, out, err = result
    assert code == ExitCode.USAGE, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and out == "", err
    assert lines[0].startswith("neural-style: error: ") and lines[0].endswith(
        "(see neural-style --help)"
    )
    assert "usage:" not in err and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# ---- the property: random values for every numeric flag ----------------------------------


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    return write_image(folder / "c.png", (48, 32)), write_image(folder / "s.png", (40, 40), seed=2)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_numeric_values_dry_run(
    data: st.DataObject,
    images: Tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every numeric flag at once, each random: exit 0 or 2, one line, nothing written.
    Exit 2 comes in two forms: a usage error (nothing on stdout), or values that parse but
    cannot work for this image (e.g. --max-long-edge 16 leaves its short side at 11 px),
    which the dry run's pre-flight reports as the run would, after the job's plan line.
    Exit 1 only where the pre-flight finds too little free memory on this machine (e.g.
    --max-long-edge 5792 with 22 GiB free)."""
    # Every flag at once would almost always be refused: each is given or not, at random.
    values = {
        name: data.draw(value_text(kind), label=name)
        for name, kind in NUMERIC.items()
        if data.draw(st.integers(0, len(NUMERIC) - 1), label=f"give {name}") < 2
    }
    layer = data.draw(st.sampled_from(SPECIAL), label="layer weight")
    before = files_under(tmp_path)
    code, out, err = run_cli(
        [
            "--content-image",
            str(images[0]),
            "--style-image",
            str(images[1]),
            "--output-dir",
            str(tmp_path / "out"),
            "--dry-run",
            f"--style-layers=relu1_1:{layer},relu2_1",
            *flags_for(values),
        ],
        capsys,
    )
    assert code in (ExitCode.OK, ExitCode.USAGE, ExitCode.FAILURE), err
    assert "Traceback" not in err
    event(f"exit {code}")
    if code == ExitCode.FAILURE:  # the pre-flight: this machine's free memory is too little
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("neural-style: error: "), err
        assert "free" in lines[0] and len(out.splitlines()) == 1, err
    elif code == ExitCode.USAGE and out == "":
        assert_usage_error((code, out, err))
    elif code == ExitCode.USAGE:  # the pre-flight: the plan, and the job's one error
        assert len(out.splitlines()) == 1 and json.loads(out)["content"] == str(images[0])
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("neural-style: error: ")
        assert "Traceback" not in err and "usage:" not in err
    else:
        assert err == "" and len(out.splitlines()) == 1
    assert files_under(tmp_path) == before


#: Flags that set how much work a run does: drawn among bad values and small good ones, so
#: that every run that is accepted stays a fraction of a second.
SMALL = {
    "max_long_edge": ["24", "32"],
    "start_long_edge": ["24"],
    "max_num_epochs": ["1", "2", "3"],
    "scales": ["1", "2"],
    "style_scale": ["0.5", "1"],
}
BAD = ["nan", "inf", "-inf", "-1", "0", "-0", "1e308", "1e-320", "100000000000000000000", "x"]


def valid_text(name: str, kind: type) -> st.SearchStrategy[str]:
    """A value within the flag's range (small where it sets the amount of work)."""
    if name in SMALL:
        return st.sampled_from(SMALL[name])
    allowed = RANGES[name]
    if kind is int:
        return st.integers(int(allowed.low), int(allowed.high)).map(str)
    return st.floats(
        allowed.low, allowed.high, exclude_min=allowed.low_open, exclude_max=allowed.high_open
    ).map(repr)


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "tiny.npz"
    np.savez(path, **random_weights(TINY))
    return path


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_numeric_values_real_run(
    data: st.DataObject,
    images: Tuple[Path, Path],
    tiny_npz: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A real run (the tiny network, tiny images): exit 0, 1 or 2, a few lines on stderr,
    no traceback, and nothing written outside the output folder."""
    monkeypatch.setattr(api, "Stylizer", functools.partial(api.Stylizer, spec=TINY))
    work = tmp_path_factory.mktemp("run")
    monkeypatch.chdir(work)
    values = {}
    for name, kind in NUMERIC.items():
        # About one flag in each run gets any value (most of them bad): runs are refused
        # for one reason, or accepted and really run, about as often.
        choice = data.draw(
            st.sampled_from(["absent"] * 8 + ["valid"] * 8 + ["any"]), label=f"{name} is"
        )
        if choice == "valid":
            values[name] = data.draw(valid_text(name, kind), label=name)
        elif choice == "any":
            values[name] = data.draw(
                st.sampled_from(BAD) if name in SMALL else value_text(kind), label=name
            )
    values.setdefault("max_long_edge", "32")
    values.setdefault("max_num_epochs", "2")
    code, out, err = run_cli(
        [
            "--content-image",
            str(images[0]),
            "--style-image",
            str(images[1]),
            "--weights",
            str(tiny_npz),
            "--gpu",
            "-1",
            "--output-dir",
            "out",
            *flags_for(values),
        ],
        capsys,
    )
    assert code in (ExitCode.OK, ExitCode.FAILURE, ExitCode.USAGE), err
    assert "Traceback" not in err
    event(f"exit {code}")
    messages = [line for line in err.splitlines() if "epoch" not in line]
    assert len(messages) <= 3, err
    assert all(p.relative_to(work).parts[0] == "out" for p in files_under(work)), files_under(work)
    if code == ExitCode.OK:
        assert (work / "out" / "final.jpg").is_file()


# ---- one table of ranges, the parameter named in the caller's language --------------------


def config_with(name: str, value: float, **others: Any) -> Config:
    """A Config with ``name`` set to ``value`` (as a one-weight tuple for blend weights)."""
    kind = NUMERIC.get(name, float)
    number = kind(value)
    changes: Dict[str, Any] = {name: (number,) if name == "style_blend_weights" else number}
    return Config(**changes, **others)


@pytest.mark.parametrize("name", sorted(RANGES))
def test_each_range_refuses_nan_infinities_and_its_ends(name: str) -> None:
    allowed = RANGES[name]
    outside = [math.nan, math.inf, -math.inf, allowed.low - 1, allowed.high * 2 + 1]
    if allowed.low_open:
        outside.append(allowed.low)
    if allowed.high_open:
        outside.append(allowed.high)
    if allowed.zero:
        outside.append(allowed.low / 10)  # between 0 and the smallest weight
    for value in outside:
        if NUMERIC.get(name) is int and not math.isfinite(value):
            continue  # an int cannot hold NaN: see test_python_callers_read_their_keyword
        with pytest.raises(ConfigError) as err:
            config_with(name, value)
        assert err.value.field == name and str(err.value).startswith(f"{name}: must be")
    inside = [
        v
        for v, open_ in ((allowed.low, allowed.low_open), (allowed.high, allowed.high_open))
        if not open_
    ] + ([0.0] if allowed.zero and name != "style_blend_weights" else [])  # not all 0
    others = {
        "max_long_edge": {"tile": 512},
        "start_long_edge": {"max_long_edge": MAX_TILED_EDGE, "tile": 512},
        "style_scale": {"max_long_edge": 16, "tile": 512},
        "tile": {"tile_margin": 0, "tile_overlap": 0},
    }.get(name, {})
    for value in inside:
        assert config_with(name, value, **others) is not None


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"style_weight": 1e308}, "style_weight: must be 0 or from 1e-12 to 1e12, not 1e308"),
        ({"lr": 1e-320}, "lr: must be from 1e-8 to 10000"),
        ({"scales": 10**20}, "scales: must be from 1 to 16"),
        ({"style_scale": 1e308}, "style_scale: must be in (0, 1672.12]"),
        (
            {"style_scale": 20.0},
            "style_scale: 20 times max_long_edge (600) makes the style image "
            "12000 pixels long; the most is 5792 (so at most 9.65)",
        ),
        ({"max_long_edge": 10**9}, "max_long_edge: must be from 16 to 26754"),
        (
            {"max_long_edge": 6000},
            "max_long_edge: must be at most 5792 for a whole image, not 6000; "
            "larger ones (up to 26754) are optimised in tiles with tile or "
            "max_memory",
        ),
        ({"tile": 8}, "tile: must be from 16 to 5792, not 8"),
        ({"tile_margin": -1}, "tile_margin: must be from 0 to 1024, not -1"),
        (
            {"style_layers": ("relu1_1:nan",)},
            "style_layers: the weight of relu1_1 must be 0 or from",
        ),
        ({"content_layers": ("relu4_2:1e308",)}, "content_layers: the weight of relu4_2 must be"),
        ({"max_long_edge": True}, "max_long_edge: must be a whole number such as 600, not True"),
        ({"content_weight": "10"}, "content_weight: must be a number such as 10, not '10'"),
        ({"seed": -1}, "seed: must be from 0 to 4294967295, not -1"),
        ({"start_long_edge": 700}, "start_long_edge: must be at most max_long_edge (600), not 700"),
    ],
)
def test_python_callers_read_their_keyword(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        Config(**changes)
    assert str(err.value).startswith(message)
    assert "--" not in str(err.value)


def test_terminal_users_read_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    line = assert_usage_error(
        run_cli(
            ["--content-image", "c.jpg", "--style-image", "s.jpg", "--style-scale", "20"], capsys
        ),
        "--style-scale: 20 times --max-long-edge (600)",
    )
    assert "style_scale" not in line and "max_long_edge" not in line


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--lr", "-1e-5"], "--lr: must be from 1e-8 to 10000, not -1e-5"),
        (["--lr", "-inf"], "--lr: must be from 1e-8 to 10000, not -inf"),
        (["--style-weight", "-nan"], "--style-weight: must be 0 or from 1e-12 to 1e12, not nan"),
        (["--style-layers", "relu1_1:nan"], "--style-layers: the weight of relu1_1 must be"),
        (["--style-blend-weights", "1,inf"], "--style-blend-weights: must be 0 or from"),
        (["--max-long-edge", "100000"], "--max-long-edge: must be from 16 to 26754, not 100000"),
        (["--max-long-edge", "6000"], "--max-long-edge: must be at most 5792 for a whole image"),
        (["--tile-sweeps", "0"], "--tile-sweeps: must be from 1 to 100, not 0"),
        (["--seed", "-3"], "--seed: must be from 0 to"),
        (["--gpu", "-2"], "--gpu -2: use GPU numbers from 0, or -1 for the CPU"),
        (["--shard", "3/2"], "--shard 3/2: I must be from 0 to N-1"),
        (["--max-long-edge", "x"], "--max-long-edge: must be a whole number such as 600, not 'x'"),
        (["--lr", "fast"], "--lr: must be a number such as 0.001, not 'fast'"),
        (["--tile", "1.5"], "--tile: must be a whole number such as 512, not '1.5'"),
        (["--max-memory", "2X"], "--max-memory: '2X' is not a size; expected a size such as 2G"),
        (["--max-memory", "-1G"], "--max-memory: '-1G': the size must be above 0; expected a"),
        (["--sweep", "max-memory=abc"], "max-memory: 'abc' is not a size; expected a size such"),
        (["--style-blend-weights", "a,b"], "expected numbers separated by commas, such as 1,2"),
        (["--style-layers", "relu1_1:x"], "must be a number, as in relu1_1:0.5"),
        (["--tile", "70"], "raise --tile to 80, or lower --tile-margin and --tile-overlap"),
    ],
)
def test_usage_errors_are_one_line(
    args: List[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_usage_error(
        run_cli(["--content-image", "c.jpg", "--style-image", "s.jpg", *args], capsys), fragment
    )


def test_negative_device_lists_parse_without_rewriting() -> None:
    request = cli.parse(["--content-image", "c.jpg", "--style-image", "s.jpg", "--gpu", "-1,-1"])
    assert request.devices == [-1, -1]


def test_blend_weights_must_match_the_styles(
    images: Tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content, style = images
    assert_usage_error(
        run_cli(
            [
                "--content-image",
                str(content),
                "--style-image",
                f"{style},{style}",
                "--style-blend-weights",
                "1,2,3",
                "--dry-run",
            ],
            capsys,
        ),
        "--style-blend-weights: 3 weights for 2 style images",
    )


# ---- sweeps and repeated images ---------------------------------------------------------------


@pytest.mark.parametrize(
    "sweeps, fragment",
    [
        (["content-weight=5,5"], "--sweep content-weight=5,5: the value 5 is listed twice"),
        (["content-weight=5,5.0"], "the value 5 is listed twice"),
        (
            ["content-weight=5", "content_weight=10"],
            "--sweep: content-weight is swept twice; give all its values in one "
            "--sweep content-weight=5,10",
        ),
        (["content-weight=-1,5"], "--sweep content-weight=-1,5: content-weight must be 0 or from"),
        (["lr=nan"], "--sweep lr=nan: lr must be from 1e-8 to 10000, not 'nan'"),
        (
            ["start-long-edge=700"],
            "the job with --start-long-edge 700: --start-long-edge: must be at "
            "most --max-long-edge (600)",
        ),
    ],
)
def test_sweeps_speak_of_what_was_written(
    images: Tuple[Path, Path], sweeps: List[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--content-image", str(images[0]), "--style-image", str(images[1]), "--dry-run"]
    line = assert_usage_error(run_cli([*args, *(f"--sweep={s}" for s in sweeps)], capsys), fragment)
    assert "template" not in line


def test_an_image_listed_twice(
    images: Tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    content, style = images
    line = assert_usage_error(
        run_cli(
            [
                "--content-image",
                str(content),
                str(content),
                "--style-image",
                str(style),
                "--dry-run",
            ],
            capsys,
        ),
        f"--content-image: {content} is given twice",
    )
    assert "template" not in line
    assert_usage_error(
        run_cli(
            [
                "--content-image",
                str(content),
                str(content.parent),
                "--style-image",
                str(style),
                "--dry-run",
            ],
            capsys,
        ),
        "is given twice",
    )
    assert_usage_error(
        run_cli(
            [
                "--content-image",
                str(content),
                str(content),
                "--style-image",
                str(style),
                str(style),
                "--pairs",
                "zip",
                "--dry-run",
            ],
            capsys,
        ),
        f"--pairs zip: the pair {content} + {style} is given twice",
    )


@pytest.mark.parametrize("name", ["photo[1].png", "what?.png", "star*.png"])
def test_a_file_name_with_glob_characters_is_a_file(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    content = write_image(tmp_path / name)
    write_image(tmp_path / "photo1.png")  # what "photo[1].png" would match as a glob
    write_image(tmp_path / "starry.png")
    code, out, err = run_cli(
        [
            "--content-image",
            str(content),
            "--style-image",
            str(tmp_path / "photo1.png"),
            "--dry-run",
        ],
        capsys,
    )
    assert code == ExitCode.OK, err
    assert [json.loads(line)["content"] for line in out.splitlines()] == [str(content)]


# ---- manifests ----------------------------------------------------------------------------


@pytest.fixture()
def shots(tmp_path: Path) -> Path:
    for name in ("a.png", "b.png", "s.png", "a,b.png"):
        write_image(tmp_path / name)
    return tmp_path


def manifest_jobs(path: Path, capsys: pytest.CaptureFixture[str]) -> List[dict]:
    code, out, err = run_cli(
        ["--manifest", str(path), "--dry-run", "--output-dir", str(path.parent / "out")], capsys
    )
    assert code == ExitCode.OK, err
    return [json.loads(line) for line in out.splitlines()]


def test_manifest_utf8_with_a_bom_blank_lines_and_quoted_commas(
    shots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = shots / "jobs.csv"
    path.write_bytes(
        "\ufeffcontent,style,content_weight\r\n\r\na.png,s.png,5\r\n\r\n"
        '"a,b.png",s.png,7\r\n'.encode("utf-8")
    )
    jobs = manifest_jobs(path, capsys)
    assert [(Path(j["content"]).name, j["params"]) for j in jobs] == [
        ("a.png", {"content_weight": 5.0}),
        ("a,b.png", {"content_weight": 7.0}),
    ]


@pytest.mark.parametrize(
    "text, fragment",
    [
        (
            "content;style\na.png;s.png\n",
            "line 1: the columns are separated by semicolons; use commas",
        ),
        ("content\tstyle\na.png\ts.png\n", "line 1: the columns are separated by tabs"),
        ("content,style,style\na.png,s.png,b.png\n", "line 1: column 'style' appears twice"),
        (
            "content,style,content_weight\n\n\na.png,s.png,-1\n",
            "line 4: content_weight must be 0 or from 1e-12 to 1e12, not '-1'",
        ),
        ("content,style\n\na.png,nope.png\n", "line 3: style"),
        (
            "content,style,output\na.png,s.png,x.png\nb.png,s.png,x.png\n",
            "lines 2 and 3 both write x.png",
        ),
        ("content,style\na.png,s.png\n\na.png,s.png\n", "lines 2 and 4 are the same job"),
        ("content,style\na.png,s.png,9\n", "line 2: 3 values for 2 columns"),
        (
            "content,style,max_long_edge\na.png,s.png,1e9\n",
            "line 2: max_long_edge must be a whole number",
        ),
    ],
)
def test_manifest_csv_refused_with_its_line(
    shots: Path, text: str, fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = shots / "jobs.csv"
    path.write_text(text, encoding="utf-8")
    line = assert_usage_error(run_cli(["--manifest", str(path), "--dry-run"], capsys), fragment)
    assert "template" not in line


@pytest.mark.parametrize(
    "rows, fragment",
    [
        (
            '{"content": "a.png", "style": "s.png", "content_weight": true}',
            "line 1: content_weight must be a number such as 10, not True",
        ),
        (
            '{"content": "a.png", "style": "s.png", "seed": 1.5}',
            "line 1: seed must be a whole number",
        ),
        (
            '{"content": "a.png", "style": "s.png", "style_weight": 1e308}',
            "line 1: style_weight must be 0 or from 1e-12 to 1e12",
        ),
        ('\n\n{"content": "a.png", "style": "s.png", "lr": NaN}', "line 3: lr must be from 1e-8"),
        (
            '{"content": "a.png", "style": "s.png", "style": "b.png"}',
            "line 1: key 'style' appears twice",
        ),
        ('{"content": "missing.png", "style": "s.png"}', "line 1: content"),
    ],
)
def test_manifest_jsonl_refused_with_its_line(
    shots: Path, rows: str, fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = shots / "jobs.jsonl"
    path.write_text(rows + "\n", encoding="utf-8")
    assert_usage_error(run_cli(["--manifest", str(path), "--dry-run"], capsys), fragment)


def test_manifest_in_another_encoding(shots: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = shots / "jobs.csv"
    write_image(shots / "café.png")
    path.write_bytes("content,style\na.png,s.png\ncafé.png,s.png\n".encode("latin-1"))
    assert_usage_error(
        run_cli(["--manifest", str(path), "--dry-run"], capsys),
        "line 3: not UTF-8 (byte 0xe9 at column 4); save the file as UTF-8",
    )


def test_manifest_files_checked_before_any_work(shots: Path) -> None:
    path = shots / "jobs.csv"
    path.write_text("content,style\na.png,s.png\nnope.png,s.png\nb.png,folder\n")
    (shots / "folder").mkdir()
    with pytest.raises(ConfigError) as err:
        read_manifest(path)
    assert f"line 3: content {shots / 'nope.png'}: no such file" in str(err.value)
    assert f"line 4: style {shots / 'folder'}: is a folder" in str(err.value)


# ---- output paths ---------------------------------------------------------------------------


def test_output_paths_that_cannot_work(
    images: Tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content, style = images
    base = ["--content-image", str(content), "--style-image", str(style)]
    folder = tmp_path / "result.jpg"
    folder.mkdir()
    blocker = tmp_path / "a_file"
    blocker.write_text("in the way")
    long_name = "x" * 240 + ".jpg"  # fits in 255 bytes, not with ".interrupted" and ".part"
    before = files_under(tmp_path)
    for dry in ([], ["--dry-run"]):
        assert_usage_error(
            run_cli([*base, "--output", str(folder), *dry], capsys), f"{folder}: is a folder"
        )
        assert_usage_error(
            run_cli([*base, "--output", str(blocker / "x" / "final.jpg"), *dry], capsys),
            f"cannot create this folder: {blocker} is a file",
        )
        assert_usage_error(
            run_cli([*base, "--output-dir", str(blocker / "out"), *dry], capsys),
            f"cannot create this folder: {blocker} is a file",
        )
        assert_usage_error(
            run_cli([*base, "--output", str(tmp_path / long_name), *dry], capsys),
            "the name is too long",
        )
    assert files_under(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "a_file",
        "result.jpg",
    ]


def _paths_under(folder: Path) -> List[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("where", ["--output-dir new/out", "--output-dir .", "--output sub/c.png"])
def test_a_folder_that_cannot_be_written_fails_the_dry_run_as_it_fails_the_run(
    where: str,
    images: Tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Under a read-only folder (missing folders to make there, or the folder itself), the
    run stops before any work with exit 1 and one line; --dry-run lists the job, says the
    same line and exits 1 too (it exited 0); neither leaves anything behind."""
    content, style = images
    locked = tmp_path / "locked"
    locked.mkdir()
    flag, relative = where.split()
    base = ["--content-image", str(content), "--style-image", str(style), flag]
    args = [*base, str(locked / relative), "--weights", str(tmp_path / "never-read.npz")]
    monkeypatch.setattr(api, "load_weights", _no_weights)
    with read_only(locked):
        dry = run_cli([*args, "--dry-run"], capsys)
        real = run_cli(args, capsys)
    assert _paths_under(tmp_path) == ["locked"]
    (code, out, err), (real_code, real_out, real_err) = dry, real
    assert real_code == ExitCode.FAILURE and real_out == "", real_err
    (line,) = real_err.splitlines()
    assert line.startswith("neural-style: error: ") and "cannot write there (" in line
    assert line.endswith("); choose another --output or --output-dir")
    assert code == ExitCode.FAILURE and err.splitlines() == [line]
    (planned,) = [json.loads(text) for text in out.splitlines()]
    assert planned["content"] == str(content)


def _no_weights(*args: object, **kwargs: object) -> None:
    raise AssertionError("the weights were read")


# ---- weights and memory ------------------------------------------------------------------------


def test_weights_with_nan_or_inf_are_refused_by_name(tmp_path: Path) -> None:
    weights = random_weights(TINY)
    weights["conv3_2_weight"][0, 0, 0, 0] = np.nan
    weights["conv1_1_bias"] = weights["conv1_1_bias"].astype(np.float64)
    weights["conv1_1_bias"][1] = 1e39  # beyond float32: inf once converted
    np.savez(tmp_path / "bad.npz", **weights)
    with pytest.raises(
        WeightsError,
        match=r"bad.npz: NaN or infinite values in conv1_1_bias \(1\), "
        r"conv3_2_weight \(1\); the file is damaged",
    ):
        load_weights(tmp_path / "bad.npz", TINY)


_LIMITED = """
import resource, sys
import neural_style._mxnet  # MXNet's own address space is not part of the budget
from neural_style.cli.main import main
vm = int(next(l for l in open("/proc/self/status") if l.startswith("VmSize")).split()[1]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + int(sys.argv[1]) * 2 ** 20, resource.RLIM_INFINITY))
sys.exit(main(sys.argv[2:]))
"""


def run_with_memory(megabytes: int, args: Sequence[str]) -> subprocess.CompletedProcess:
    """The CLI in a process whose address space may grow by ``megabytes`` only (ulimit -v)."""
    # glibc reserves 64 MB of address space per thread that allocates: two arenas keep the
    # address space close to the memory really used, which is what the limit stands for.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MALLOC_ARENA_MAX": "2"}
    return subprocess.run(
        [sys.executable, "-c", _LIMITED, str(megabytes), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture()
def memory_args(tmp_path: Path, vgg19_random_npz: Path) -> List[str]:
    content = write_image(tmp_path / "c.png", (48, 32))
    style = write_image(tmp_path / "s.png", (40, 40), seed=2)
    return [
        "--content-image",
        str(content),
        "--style-image",
        str(style),
        "--weights",
        str(vgg19_random_npz),
        "--gpu",
        "-1",
        "--max-num-epochs",
        "1",
        "--save-epochs",
        "0",
        "--output-dir",
        str(tmp_path / "out"),
        # The memory model (engine/memory.py) is fp32's; bf16 with AMX needs ~300 MB more,
        # and oneDNN then fails as "could not create a primitive", not as out of memory.
        "--precision",
        "fp32",
    ]


def test_real_out_of_memory_says_the_size_and_a_smaller_edge(memory_args: List[str]) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("ulimit -v and /proc are Linux's")
    done = run_with_memory(1500, [*memory_args, "--max-long-edge", "2400"])
    assert done.returncode == ExitCode.FAILURE, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = [
        x for x in done.stderr.strip().splitlines() if not x.startswith("neural-style: precision: ")
    ]  # the start-up line
    assert "out of memory on cpu(0) at 2400x1600 pixels" in line, line
    edge = int(line.rsplit("--max-long-edge ", 1)[1])
    assert 16 <= edge < 2400


@pytest.mark.slow
def test_the_suggested_edge_fits(memory_args: List[str]) -> None:
    done = run_with_memory(1500, [*memory_args, "--max-long-edge", "2400"])
    edge = done.stderr.strip().rsplit("--max-long-edge ", 1)[1]
    again = run_with_memory(1500, [*memory_args, "--max-long-edge", edge])
    assert again.returncode == ExitCode.OK, again.stderr


def test_out_of_memory_for_a_large_style_names_style_scale(
    tiny_weights: Dict[str, np.ndarray],
    content_path: Path,
    style_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from neural_style._mxnet import mx
    from neural_style.engine.graph import StyleGraph
    from neural_style.errors import DeviceError

    real_init = StyleGraph.__init__

    def only_small(
        self: StyleGraph,
        spec: Any,
        params: Any,
        shape: Tuple[int, int],
        *args: Any,
        **kwargs: Any,
    ) -> None:
        if max(shape) > 100:
            raise mx.base.MXNetError(
                "src/storage/./cpu_device_storage.h:72: Failed to allocate CPU Memory"
            )
        real_init(self, spec, params, shape, *args, **kwargs)

    monkeypatch.setattr(StyleGraph, "__init__", only_small)
    stylizer = api.Stylizer(tiny_weights, gpu=-1, spec=TINY)
    with pytest.raises(DeviceError) as err:
        stylizer.stylize(
            content_path, style_path, Config(max_long_edge=32, style_scale=8.0, max_num_epochs=1)
        )
    text = str(err.value)
    assert (
        "at 256x256 pixels" in text
        and "for a style image at --style-scale 8; try --style-scale" in text
    )
    assert "--max-long-edge" not in text


def test_readme_states_every_range() -> None:
    """README's "Allowed values" table says what config.RANGES says."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Allowed values") :].split("\n## ", 1)[0]
    for name, allowed in RANGES.items():
        flag = f"`--{name.replace('_', '-')}`"
        rows = [
            line
            for line in section.splitlines()
            if line.startswith("|") and flag in line.split(" | ")[0]
        ]
        assert len(rows) == 1, flag
        assert f"| {allowed} |" in rows[0], (flag, str(allowed))
