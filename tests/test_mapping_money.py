"""Minor-unit conversion: exact, HALF-UP like Odoo's float_round, strict about input."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from klarna.mapping_errors import KlarnaMappingError
from klarna.money import from_minor, to_decimal, to_minor


@pytest.mark.parametrize(
    ("amount", "decimals", "minor"),
    [
        (Decimal("12.34"), 2, 1234),
        ("12.345", 2, 1235),  # HALF-UP, not banker's rounding
        ("12.325", 2, 1233),
        ("-12.345", 2, -1235),  # ties away from zero, as float_round
        (2.675, 2, 268),  # the float prints as 2.675; binary value is 2.67499999...
        (0.1 + 0.2, 2, 30),
        (1.005, 2, 101),
        (7, 2, 700),
        ("  3.10 ", 2, 310),
        (1234.5, 0, 1235),  # 0-decimal currency
        ("1234.4", 0, 1234),
        (Decimal("1.2345"), 3, 1235),
        (0, 2, 0),
    ],
)
def test_to_minor(amount, decimals, minor):
    assert to_minor(amount, decimals) == minor
    assert type(to_minor(amount, decimals)) is int


@pytest.mark.parametrize(
    ("minor", "decimals", "amount"),
    [(1234, 2, Decimal("12.34")), (-5, 2, Decimal("-0.05")), (12, 0, Decimal(12))],
)
def test_from_minor(minor, decimals, amount):
    assert from_minor(minor, decimals) == amount


@pytest.mark.parametrize(
    "bad", [None, True, "abc", "", float("nan"), float("inf"), Decimal("NaN"), [1], "1e30000"]
)
def test_bad_amounts_are_refused(bad):
    with pytest.raises(KlarnaMappingError):
        to_minor(bad)


@pytest.mark.parametrize("decimals", [-1, 7, 2.0, True, "2"])
def test_bad_decimals_are_refused(decimals):
    with pytest.raises(KlarnaMappingError):
        to_minor("1", decimals)
    with pytest.raises(KlarnaMappingError):
        from_minor(1, decimals)


@pytest.mark.parametrize("bad", [1.5, "12", True, Decimal(1)])
def test_from_minor_takes_integers_only(bad):
    with pytest.raises(KlarnaMappingError):
        from_minor(bad)


def test_mapping_error_is_a_value_error():
    with pytest.raises(ValueError, match="not a number"):
        to_decimal("twelve")


@given(st.integers(-(10**12), 10**12), st.sampled_from([0, 2, 3]))
def test_round_trip(minor, decimals):
    assert to_minor(from_minor(minor, decimals), decimals) == minor
    assert to_minor(str(from_minor(minor, decimals)), decimals) == minor


@given(st.integers(-(10**9), 10**9), st.sampled_from([0, 2]))
def test_floats_as_odoo_prints_them(minor, decimals):
    """A float holding an amount Odoo rounded converts to exactly that amount."""
    as_float = float(from_minor(minor, decimals))
    assert to_minor(as_float, decimals) == minor


@given(st.integers(-(10**9), 10**9), st.sampled_from([0, 2]))
def test_half_minor_units_round_away_from_zero(minor, decimals):
    half = Decimal(minor).scaleb(-decimals) + Decimal(5).scaleb(-decimals - 1).copy_sign(minor or 1)
    expected = minor + (1 if minor >= 0 else -1)
    assert to_minor(half, decimals) == expected
