"""Odoo's computed line amounts to Klarna ``order_lines``, exact by construction.

Input is neutral :class:`CartLine` data holding what Odoo's tax engine already computed
(``price_total``, ``price_tax``); no tax is ever recomputed from a rate. Decisions:

* Amounts become integer minor units at once (see :mod:`.money`); the line total Odoo shows is
  the Klarna ``total_amount``, untouched except by the residual rule below.
* ``unit_price`` is ``ceil(gross / quantity)`` and ``total_discount_amount`` takes the rest, so
  ``total_amount == quantity * unit_price - total_discount_amount`` holds exactly. For a total
  not divisible by the quantity the discount carries the remainder (less than one minor unit
  per item).
* Klarna quantities are integers: a fractional quantity (1.5 kg) becomes quantity 1 of a line
  named ``"Apples (1.5 kg)"`` whose unit price is the whole line.
* ``tax_rate`` is derived from Odoo's tax and total, never the reverse. The first rate that
  keeps the line strictly within Klarna's tolerance wins, in this order: the line's nominal
  ``tax_percent`` (a display preference from the adapter), the implied rate
  ``tax * 10000 / (total - tax)`` rounded to a whole percent, to a tenth, then the nearest
  integer rate. For lines below 200.00 the nearest rate always fits. Above that, a rate with
  more than two decimals (14.975 %) or a fixed tax can leave every integer rate more than one
  minor unit off; such a line is sent as two parts, ``(1/2)`` and ``(2/2)``, at the two
  neighbouring rates, amounts proportioned so both parts meet the rule and add up to Odoo's
  total and tax. A tax above 100 % of the net (beyond a minor unit of rounding) cannot be
  expressed, Klarna capping rates at 100 %, and is refused.
* Residual: when Odoo's ``amount_total``/``amount_tax`` differ from the sum of the lines
  (round-globally mode), the difference is spread one minor unit at a time over the
  non-discount lines, largest first (round robin). A tax difference goes to taxed lines and
  moves their total with it, so their net stays Odoo's; any other total difference moves
  totals alone. Unit price and discount follow the new total. A residual above
  ``max_residual_per_line`` minor units per line is refused: it means the lines do not
  describe what the customer is charged.
* Down payments: a positive ``down_payment`` line (paying a down-payment invoice) is sent as
  ``physical``; a negative one (the deduction on the final invoice) as ``discount``.
* US (``us_sales_tax``): item lines carry their tax-excluded amount with rate 0 and the whole
  tax travels on one ``sales_tax`` line, as Klarna requires there.

Every payload is checked by :func:`validate_order_amounts` before it is returned.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction

from .mapping_errors import KlarnaMappingError
from .money import from_minor, to_decimal, to_minor

NEGATIVE_TYPES = frozenset({"discount", "gift_card", "store_credit"})
POSITIVE_TYPES = frozenset({"physical", "digital", "shipping_fee", "surcharge", "sales_tax"})
KINDS = (NEGATIVE_TYPES | POSITIVE_TYPES | {"down_payment"}) - {"sales_tax"}

MAX_TAX_RATE = 10000
NAME_MAX = 255
MERCHANT_REFERENCE_MAX = 255
# Klarna counts every currency in hundredths.
DECIMALS = 2
REFERENCE_MAX = 64
QUANTITY_UNIT_MAX = 8


@dataclass(frozen=True)
class CartLine:
    """One order line as Odoo computed it, before any Klarna-specific rounding.

    ``total`` is tax included and after discount (``price_total``), ``tax`` is ``price_tax``,
    ``gross`` the tax-included amount before the line's discount (``None``: no discount).
    Discount, gift card and store credit lines have a negative ``total`` and ``tax <= 0``.
    ``name`` is the display name, with the variant's attributes; ``reference`` the SKU.
    ``tax_percent`` is the nominal combined rate of the line's taxes (``25``, ``"14.975"``),
    used as Klarna's rate only when it fits Odoo's amounts (see module).
    """

    kind: str
    name: str
    quantity: Decimal | int | float | str
    total: Decimal | int | float | str
    tax: Decimal | int | float | str
    gross: Decimal | int | float | str | None = None
    reference: str | None = None
    unit_name: str | None = None
    product_url: str | None = None
    image_url: str | None = None
    tax_percent: Decimal | int | float | str | None = None


@dataclass(frozen=True)
class _Line:
    """A cart line in minor units, checked."""

    index: int
    type: str
    name: str
    quantity: Decimal
    total: int
    tax: int
    base: int  # tax-included amount before the line discount; equals total without one
    preferred_rate: int | None
    source: CartLine


def build_order_amounts(
    lines: Sequence[CartLine],
    *,
    decimals: int = 2,
    expected_total=None,
    expected_tax=None,
    us_sales_tax: bool = False,
    max_residual_per_line: int = 1,
    sales_tax_name: str = "Sales Tax",
) -> dict:
    """``order_amount``, ``order_tax_amount`` and ``order_lines`` for Odoo's lines.

    ``expected_total``/``expected_tax`` are Odoo's ``amount_total``/``amount_tax``; when given,
    ``order_amount``/``order_tax_amount`` equal them exactly. Raises
    :class:`KlarnaMappingError` listing every problem when the lines cannot be sent as they are.
    """
    if not lines:
        raise KlarnaMappingError("the order has no lines to send to Klarna")
    if isinstance(max_residual_per_line, bool) or not isinstance(max_residual_per_line, int):
        raise KlarnaMappingError("max_residual_per_line must be an integer")
    if max_residual_per_line < 0:
        raise KlarnaMappingError("max_residual_per_line must not be negative")
    problems = []
    normalized = []
    for index, line in enumerate(lines, 1):
        if not isinstance(line, CartLine):
            problems.append(f"line {index}: expected a CartLine, got {type(line).__name__}")
            continue
        try:
            normalized.append(_normalize(index, line, decimals, us_sales_tax))
        except KlarnaMappingError as error:
            problems.extend(error.problems)
    if problems:
        raise KlarnaMappingError(problems)
    normalized = _absorb_residual(
        normalized, decimals, expected_total, expected_tax, max_residual_per_line, us_sales_tax
    )
    if us_sales_tax:
        order_lines = [_untaxed_line(line) for line in normalized]
        sales_tax = sum(line.tax for line in normalized)
        if sales_tax < 0:
            raise KlarnaMappingError("the order's sales tax is negative")
        if sales_tax:
            order_lines.append(_sales_tax_line(sales_tax, sales_tax_name))
    else:
        order_lines = [part for line in normalized for part in _taxed_lines(line)]
        sales_tax = sum(part["total_tax_amount"] for part in order_lines)
    payload = {
        "order_amount": sum(part["total_amount"] for part in order_lines),
        "order_tax_amount": sales_tax,
        "order_lines": order_lines,
    }
    validate_order_amounts(payload)
    return payload


def _normalize(index: int, line: CartLine, decimals: int, us_sales_tax: bool) -> _Line:
    """Convert and check one line, raising all of its problems at once."""
    name = _fit(line.name.strip()) if isinstance(line.name, str) else ""
    label = f"line {index} ({name[:40]})" if name else f"line {index}"
    problems = []

    def read(convert, value, what):
        try:
            return convert(value)
        except KlarnaMappingError as error:
            problems.append(f"{label}: {what}: {error}")
            return None

    if not name:
        problems.append(f"{label}: the name is empty")
    if not isinstance(line.kind, str) or line.kind not in KINDS:
        problems.append(f"{label}: unknown kind {line.kind!r} (expected one of {sorted(KINDS)})")
    quantity = read(to_decimal, line.quantity, "quantity")
    total = read(lambda value: to_minor(value, decimals), line.total, "total")
    tax = read(lambda value: to_minor(value, decimals), line.tax, "tax")
    gross = None
    if line.gross is not None:
        gross = read(lambda value: to_minor(value, decimals), line.gross, "gross amount")
    preferred_rate = None
    if line.tax_percent is not None:
        preferred_rate = read(lambda value: to_minor(value, 2), line.tax_percent, "tax percent")
    if quantity is not None and quantity <= 0:
        problems.append(f"{label}: the quantity must be greater than zero")
    if problems:
        raise KlarnaMappingError(problems)

    kind = line.kind
    if kind == "down_payment":
        kind = "discount" if total < 0 else "physical"
    sent = total - tax if us_sales_tax else total  # what total_amount will hold
    if kind in NEGATIVE_TYPES and sent > 0:
        problems.append(f"{label}: a {kind} line must have a negative amount")
    if kind in POSITIVE_TYPES and sent < 0:
        problems.append(f"{label}: a {kind} line cannot have a negative amount (send a discount)")
    if gross is not None and total < 0 and gross != total:
        problems.append(f"{label}: a negative line cannot carry a discount of its own")
    elif gross is not None and gross < total:
        problems.append(f"{label}: the amount before discount is below the total")
    if not us_sales_tax:  # in the US the tax leaves the line for the sales_tax line
        problems.extend(f"{label}: {problem}" for problem in _tax_problems(total, tax))
    if problems:
        raise KlarnaMappingError(problems)
    base = total if gross is None else gross
    return _Line(index, kind, name, quantity, total, tax, base, preferred_rate, line)


def _tax_problems(total: int, tax: int) -> list:
    """Why no Klarna rate can carry ``tax`` on ``total`` (every other pair can, see module)."""
    if tax and not total:
        return ["a line with a zero total cannot carry tax"]
    if tax * total < 0:
        return ["the tax and the total have opposite signs"]
    if 2 * abs(tax) >= abs(total) + 2:
        return ["the tax exceeds 100% of the net amount, which Klarna cannot accept"]
    return []


def _absorb_residual(lines, decimals, expected_total, expected_tax, max_residual_per_line, us):
    """Spread Odoo's rounding residual over the largest lines, or refuse it when too large."""
    limit = max_residual_per_line * len(lines)
    residuals = {}
    for what, expected, actual in (
        ("total", expected_total, sum(line.total for line in lines)),
        ("tax", expected_tax, sum(line.tax for line in lines)),
    ):
        try:
            residuals[what] = 0 if expected is None else to_minor(expected, decimals) - actual
        except KlarnaMappingError as error:
            raise KlarnaMappingError(f"the order's expected {what}: {error}") from None
        if abs(residuals[what]) > limit:
            raise KlarnaMappingError(
                f"the order lines add up to a {what} of {from_minor(actual, decimals)}, "
                f"but the order's {what} is {from_minor(actual + residuals[what], decimals)}; "
                f"a difference above {from_minor(limit, decimals)} is not a rounding difference"
            )
    if not residuals["total"] and not residuals["tax"]:
        return lines
    by_size = sorted(
        (pos for pos, line in enumerate(lines) if line.type in POSITIVE_TYPES and line.total > 0),
        key=lambda pos: -lines[pos].total,
    )
    if not by_size:
        raise KlarnaMappingError("no line can take the order's rounding difference")
    taxed = [pos for pos in by_size if lines[pos].tax] or by_size
    # A tax difference moves a taxed line's tax and total together (its net is Odoo's);
    # whatever total difference remains moves totals alone.
    tax_moves = _spread(residuals["tax"], taxed)
    total_moves = _spread(residuals["total"] - residuals["tax"], by_size)
    adjusted, problems = [], []
    for pos, line in enumerate(lines):
        tax = line.tax + tax_moves.get(pos, 0)
        total = line.total + tax_moves.get(pos, 0) + total_moves.get(pos, 0)
        if (total, tax) != (line.total, line.tax):
            problems.extend(
                f"line {line.index}, taking the order's rounding difference: {problem}"
                for problem in ([] if us else _tax_problems(total, tax))
            )
            line = replace(line, total=total, tax=tax, base=max(line.base, total))
        adjusted.append(line)
    if problems:
        raise KlarnaMappingError(problems)
    return adjusted


def _spread(residual: int, positions: list) -> dict:
    """One minor unit at a time over ``positions``, round robin, so no line moves much."""
    moves = {}
    for turn in range(abs(residual)):
        pos = positions[turn % len(positions)]
        moves[pos] = moves.get(pos, 0) + (1 if residual > 0 else -1)
    return moves


def _tax_gap(total: int, rate: int, tax: int) -> Fraction:
    """How far ``tax`` is from the tax Klarna expects for ``total`` at ``rate`` (exact)."""
    return abs(tax - Fraction(total * rate, 10000 + rate))


def _tax_off(total: int, rate: int, tax: int) -> int:
    """:func:`_tax_gap` times ``10000 + rate``: the same comparisons in integers, without a
    ``Fraction`` per line and rate tried (the mapping's hot path). ``rate`` must be >= 0."""
    return abs(tax * (10000 + rate) - total * rate)


def _single_rate(total: int, tax: int, preferred: int | None) -> int | None:
    """A rate carrying ``tax`` on ``total`` strictly within tolerance, or ``None``."""
    total, tax = abs(total), abs(tax)
    if tax == 0:
        return 0
    exact = Fraction(tax * 10000, total - tax) if total > tax else Fraction(MAX_TAX_RATE)
    for rate in _candidate_rates(total, tax, exact, preferred):
        if 0 <= rate <= MAX_TAX_RATE and _tax_off(total, rate, tax) < 10000 + rate:
            return rate
    return None


def _candidate_rates(total: int, tax: int, exact: Fraction, preferred: int | None):
    """The rates :func:`_single_rate` tries, in order, each computed only when reached."""
    if preferred is not None:
        yield preferred
    yield int(round(exact, -2))
    yield int(round(exact, -1))
    nearest = min(round(exact), MAX_TAX_RATE)
    yield from sorted((nearest - 1, nearest, nearest + 1), key=lambda r: _tax_gap(total, r, tax))


def _taxed_lines(line: _Line) -> list:
    """One Klarna line, or two at neighbouring rates when no single rate is fine enough.

    Strictly under one minor unit is targeted (Klarna allows one) so that no implementation of
    Klarna's check, exact or floating point, can round a line out of tolerance. The split
    keeps both parts within half a minor unit: the first part's tax is rounded, and moving
    the cut by one minor unit moves the second part's tax by far less than one.
    """
    rate = _single_rate(line.total, line.tax, line.preferred_rate)
    if rate is not None:
        return [_klarna_line(line, line.total, line.tax, rate, line.base - line.total)]
    sign = -1 if line.total < 0 else 1
    total, tax = abs(line.total), abs(line.tax)
    low = math.floor(Fraction(tax * 10000, total - tax))  # not integral, below 10000: see above
    low_share, high_share = Fraction(low, 10000 + low), Fraction(low + 1, 10001 + low)
    first = round((total * high_share - tax) / (high_share - low_share))
    first_tax = round(first * low_share)
    name = _described_name(line)
    discount = line.base - line.total
    return [
        _part(line, sign * first, sign * first_tax, low, _fit(name, " (1/2)"), discount),
        _part(
            line, sign * (total - first), sign * (tax - first_tax), low + 1, _fit(name, " (2/2)"), 0
        ),
    ]


def _untaxed_line(line: _Line) -> dict:
    """A US item line: tax-excluded amount, its discount scaled to tax-excluded too."""
    net = line.total - line.tax
    discount = round(Fraction((line.base - line.total) * net, line.total)) if line.total else 0
    return _klarna_line(line, net, 0, 0, discount)


def _klarna_line(line: _Line, total: int, tax: int, rate: int, discount: int) -> dict:
    """Quantity, unit price and line discount around a fixed ``total``."""
    if line.quantity != line.quantity.to_integral_value():
        return _part(line, total, tax, rate, _described_name(line), discount)
    quantity = int(line.quantity)
    unit_price = -(-(total + discount) // quantity)
    unit = (line.source.unit_name or "").strip()
    return _fields(
        line,
        line.name,
        quantity,
        unit_price,
        rate,
        total,
        tax,
        quantity_unit=unit if len(unit) <= QUANTITY_UNIT_MAX else "",
    )


def _part(line: _Line, total: int, tax: int, rate: int, name: str, discount: int) -> dict:
    """A quantity-1 line carrying ``total`` (and the line's own discount, if any)."""
    return _fields(line, name, 1, total + discount, rate, total, tax)


def _described_name(line: _Line) -> str:
    """The name with the real quantity, for lines whose Klarna quantity is 1 instead."""
    if line.quantity == 1:
        return line.name
    quantity = format(line.quantity.normalize(), "f")
    unit = (line.source.unit_name or "").strip()
    return _fit(line.name, f" ({quantity} {unit})" if unit else f" (x {quantity})")


def _fit(name: str, suffix: str = "") -> str:
    """``name + suffix`` within Klarna's name length, shortening the name, never the suffix."""
    return name[: NAME_MAX - len(suffix)] + suffix


def _fields(line, name, quantity, unit_price, rate, total, tax, quantity_unit="") -> dict:
    """The Klarna line; the discount is whatever makes the line rule exact."""
    source = line.source
    reference = (source.reference or "").strip()[:REFERENCE_MAX]
    fields = {"type": line.type, "reference": reference, "name": name, "quantity": quantity}
    fields.update(
        quantity_unit=quantity_unit,
        unit_price=unit_price,
        tax_rate=rate,
        total_amount=total,
        total_discount_amount=quantity * unit_price - total,
        total_tax_amount=tax,
        product_url=source.product_url,
        image_url=source.image_url,
    )
    optional = ("reference", "quantity_unit", "product_url", "image_url")
    return {key: value for key, value in fields.items() if value or key not in optional}


def _sales_tax_line(amount: int, name: str) -> dict:
    return {
        "type": "sales_tax",
        "name": name,
        "quantity": 1,
        "unit_price": amount,
        "tax_rate": 0,
        "total_amount": amount,
        "total_discount_amount": 0,
        "total_tax_amount": 0,
    }


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_order_amounts(payload: Mapping) -> None:
    """Check every amount rule Klarna enforces (and our sign rules); raise listing all broken.

    US rules apply when ``purchase_country`` is ``"US"`` or a ``sales_tax`` line is present.
    Absent ``tax_rate``, ``total_tax_amount`` and ``total_discount_amount`` count as 0, as
    at Klarna.
    """
    problems = []
    lines = payload.get("order_lines")
    if not isinstance(lines, list) or not lines:
        problems.append("order_lines must be a non-empty list")
        lines = []
    us = payload.get("purchase_country") == "US" or any(
        isinstance(line, Mapping) and line.get("type") == "sales_tax" for line in lines
    )
    sound = True
    for number, line in enumerate(lines, 1):
        line_problems = _line_problems(line, us)
        problems.extend(f"order line {number}: {problem}" for problem in line_problems)
        sound = sound and not line_problems
    order_amount = payload.get("order_amount")
    order_tax = payload.get("order_tax_amount")
    if not _is_int(order_amount) or order_amount <= 0:
        problems.append("order_amount must be a positive integer")
    elif sound and order_amount != sum(line["total_amount"] for line in lines):
        problems.append("order_amount differs from the sum of the lines' total_amount")
    if not _is_int(order_tax):
        problems.append("order_tax_amount must be an integer")
    elif sound:
        sales_taxes = [line["total_amount"] for line in lines if line.get("type") == "sales_tax"]
        if len(sales_taxes) > 1:
            problems.append("a US order carries its tax on one sales_tax line")
        if us and order_tax != sum(sales_taxes):
            problems.append("order_tax_amount differs from the sales_tax line")
        if not us and order_tax != sum(line.get("total_tax_amount", 0) for line in lines):
            problems.append("order_tax_amount differs from the sum of the lines' total_tax_amount")
    if problems:
        raise KlarnaMappingError(problems)


def _line_problems(line, us: bool) -> list:
    if not isinstance(line, Mapping):
        return ["must be an object"]
    problems = []
    kind = line.get("type", "physical")
    if kind not in POSITIVE_TYPES | NEGATIVE_TYPES:
        problems.append(f"unknown type {kind!r}")
    if not isinstance(line.get("name"), str) or not line["name"].strip():
        problems.append("name is required")
    values = {
        key: line.get(key, default)
        for key, default in (
            ("quantity", None),
            ("unit_price", None),
            ("total_amount", None),
            ("total_discount_amount", 0),
            ("tax_rate", 0),
            ("total_tax_amount", 0),
        )
    }
    not_ints = [key for key, value in values.items() if not _is_int(value)]
    if not_ints:
        return [*problems, *(f"{key} must be an integer" for key in not_ints)]
    total, tax, rate = values["total_amount"], values["total_tax_amount"], values["tax_rate"]
    if values["quantity"] < 1:
        problems.append("quantity must be at least 1")
    if total != values["quantity"] * values["unit_price"] - values["total_discount_amount"]:
        problems.append("total_amount != quantity * unit_price - total_discount_amount")
    if values["total_discount_amount"] < 0:
        problems.append("total_discount_amount must not be negative")
    if not 0 <= rate <= MAX_TAX_RATE:
        problems.append(f"tax_rate must be between 0 and {MAX_TAX_RATE}")
    elif _tax_off(total, rate, tax) > 10000 + rate:
        problems.append("total_tax_amount is more than 1 minor unit off the tax_rate")
    if kind in NEGATIVE_TYPES and (total > 0 or tax > 0):
        problems.append(f"a {kind} line must have a negative total_amount and total_tax_amount")
    if kind in POSITIVE_TYPES and (total < 0 or tax < 0):
        problems.append(f"a {kind} line must not have a negative total_amount or total_tax_amount")
    if us and (rate or tax):
        problems.append("US lines carry tax_rate 0 and total_tax_amount 0")
    if kind == "sales_tax" and (values["quantity"] != 1 or values["unit_price"] != total):
        problems.append("a sales_tax line has quantity 1 and unit_price equal to total_amount")
    return problems
