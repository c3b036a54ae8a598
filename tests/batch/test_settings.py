"""Numeric settings named by --sweep and manifest columns."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neural_style.batch.settings import numeric_fields, parse_sweep, parse_value
from neural_style.config import RANGES, parse_field
from neural_style.errors import ConfigError


def test_sweep_errors_teach() -> None:
    with pytest.raises(ConfigError, match="did you mean 'content-weight'"):
        parse_sweep("content-wieght=1,2")
    with pytest.raises(ConfigError, match="must be a number"):
        parse_sweep("lr=fast")
    with pytest.raises(ConfigError, match="NAME=V1,V2"):
        parse_sweep("lr")


def test_a_setting_with_its_own_syntax_keeps_it_in_sweeps() -> None:
    """--max-memory 2G works, so --sweep max-memory=1G,2G does too (and in manifests)."""
    assert parse_sweep("max-memory=1G,1500M,3000000000") == (
        "max_memory",
        [2**30, 1500 * 2**20, 3000000000],
    )
    with pytest.raises(
        ConfigError, match="not a size; expected a size such as 2G, 1500M or 2147483648"
    ):
        parse_sweep("max-memory=lots")
    with pytest.raises(ConfigError, match="must be from 16777216"):
        parse_sweep("max-memory=1K")


def test_numeric_fields_unwrap_optional_and_leave_out_the_rest() -> None:
    fields = numeric_fields()
    assert fields["content_weight"] is float and fields["max_num_epochs"] is int
    assert fields["lr"] is float and fields["seed"] is int  # Optional[...] unwrapped
    for not_numeric in (
        "model",
        "denoise",
        "original_colors",
        "style_layers",
        "style_blend_weights",
        "init_image",
    ):
        assert not_numeric not in fields


def test_values_take_the_fields_type() -> None:
    assert parse_sweep("max-num-epochs=5, 10") == ("max_num_epochs", [5, 10])
    assert parse_sweep("--lr=1e-3") == ("lr", [0.001])
    with pytest.raises(ConfigError, match="must be a whole number such as 1000, not '2.5'"):
        parse_sweep("max-num-epochs=2.5")
    with pytest.raises(ConfigError, match="no values"):
        parse_sweep("lr=,")


def values_of(name: str, kind: type) -> st.SearchStrategy:
    """Values within the field's range (config.RANGES), distinct as a sweep needs them."""
    allowed = RANGES[name]
    if kind is int:
        return st.integers(int(allowed.low), int(allowed.high))
    return st.floats(
        allowed.low, allowed.high, exclude_min=allowed.low_open, exclude_max=allowed.high_open
    ).map(lambda v: v + 0.0)  # -0.0 is 0


@given(st.sampled_from(sorted(numeric_fields())), st.data())
def test_any_numeric_setting_sweeps_its_values_back(name: str, data: st.DataObject) -> None:
    kind = numeric_fields()[name]
    values = data.draw(st.lists(values_of(name, kind), min_size=1, max_size=5, unique=True))
    flag = name.replace("_", "-") if data.draw(st.booleans()) else name
    key, parsed = parse_sweep(f"{flag}={','.join(repr(v) for v in values)}")
    assert key == name and parsed == values
    assert all(type(v) is kind for v in parsed)


@given(st.sampled_from(sorted(numeric_fields())), st.data())
def test_a_value_outside_its_range_is_refused_by_the_sweep(name: str, data: st.DataObject) -> None:
    allowed = RANGES[name]
    text = data.draw(
        st.sampled_from(["nan", "inf", "-inf", repr(allowed.high * 2 + 1), repr(allowed.low - 1)])
    )
    if numeric_fields()[name] is int and text in ("nan", "inf", "-inf"):
        text = str(int(allowed.high) + 1)
    with pytest.raises(ConfigError, match=f"must be {re.escape(str(allowed))}"):
        parse_sweep(f"{name}={text}")


_VALUES = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["2G", "1500M", " 7 ", "0x10", "1e3", "nan", "-1", "true"]),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)


@given(name=st.sampled_from(sorted(numeric_fields())), value=_VALUES)
def test_a_value_is_parsed_by_one_parser_for_flags_sweeps_and_manifests(
    name: str, value: object
) -> None:
    """Whatever the value (a flag's text, a manifest's JSON number, true, null), the flag's
    parser (config.parse_field) and the batch's (settings.parse_value) agree: the same
    number, or both refuse it with a ConfigError (never a TypeError), the batch's message
    being the flag's with where it came from."""
    try:
        expected = parse_field(name, value)  # type: ignore[arg-type]
    except ConfigError as err:
        with pytest.raises(ConfigError) as raised:
            parse_value(name, value, "row 2")
        assert str(raised.value).startswith("row 2: ") and str(err) in str(raised.value)
        return
    allowed = RANGES.get(name)
    if allowed is not None and not allowed.contains(expected):
        with pytest.raises(ConfigError, match="must be"):
            parse_value(name, value, "row 2")
        return
    got = parse_value(name, value, "row 2")
    assert got == expected and type(got) is type(expected)
