"""Amounts as integers in minor units, the only form Klarna accepts.

Floats (what Odoo's fields hold) are read through ``Decimal(repr(x))``: the shortest decimal
that prints as that float, so ``0.1`` stays ``0.1`` rather than ``0.1000000000000000055...``.
Rounding is HALF-UP (away from zero on ties), like Odoo's ``float_round``, so ``to_minor``
yields the cents Odoo displays. Nothing after this conversion uses float arithmetic.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .mapping_errors import KlarnaMappingError

MAX_DECIMALS = 6


def to_decimal(value) -> Decimal:
    """Read an amount or quantity exactly; bools, None, NaN and infinities are refused."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float, str)):
        raise KlarnaMappingError(
            f"expected a number (Decimal, int, float or str), got {type(value).__name__}"
        )
    try:
        number = Decimal(repr(value) if isinstance(value, float) else value)
    except InvalidOperation:
        raise KlarnaMappingError(f"{value!r:.40} is not a number") from None
    if not number.is_finite():
        raise KlarnaMappingError(f"{value!r:.40} is not a finite number")
    return number


def _check_decimals(decimals) -> None:
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise KlarnaMappingError("currency decimals must be an integer")
    if not 0 <= decimals <= MAX_DECIMALS:
        raise KlarnaMappingError(f"currency decimals must be between 0 and {MAX_DECIMALS}")


def to_minor(amount, decimals: int = 2) -> int:
    """``amount`` in major units (e.g. ``"12.345"``) to minor units (``1235``), HALF-UP."""
    _check_decimals(decimals)
    number = to_decimal(amount)
    try:
        rounded = number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise KlarnaMappingError(f"{amount!r:.40} is too large to be an amount") from None
    return int(rounded.scaleb(decimals))


def from_minor(minor: int, decimals: int = 2) -> Decimal:
    """Minor units back to an exact Decimal in major units (``1235`` -> ``Decimal('12.35')``)."""
    _check_decimals(decimals)
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise KlarnaMappingError(f"minor units must be an integer, got {type(minor).__name__}")
    return Decimal(minor).scaleb(-decimals)
