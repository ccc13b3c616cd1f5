"""Klarna's cart rules, checked independently of the addon's mapping.

Every function returns a list of ``(field, rule)`` problems rather than raising,
so one answer names every broken rule and the SDK stand-in can list the
``invalid_fields``. Amounts, quantities and rates must be real ``int``: a float
or a bool is a mapping bug even when its value is whole.
"""

import re
from fractions import Fraction

from .errors import bad_value
from .markets import INTENTS, LINE_TYPES, MARKET_CURRENCIES, REDUCING_LINE_TYPES

MAX_AMOUNT = 200_000_000
LOCALE = re.compile(r"^[a-z]{2}-[A-Z]{2}$")
ORDER_REQUIRED = (
    "purchase_country",
    "purchase_currency",
    "locale",
    "order_amount",
    "order_tax_amount",
    "order_lines",
)
LINE_REQUIRED = ("name", "quantity", "unit_price", "total_amount", "tax_rate", "total_tax_amount")
LINE_INTEGERS = (
    "quantity",
    "unit_price",
    "total_amount",
    "tax_rate",
    "total_tax_amount",
    "total_discount_amount",
)


def is_int(value):
    return type(value) is int


def expected_tax(total_amount, tax_rate):
    """The tax contained in a tax-inclusive total, exactly (a Fraction)."""
    return total_amount - Fraction(total_amount * 10000, 10000 + tax_rate)


def line_problems(line, field, *, us):
    """Rules for one order line; ``us`` applies the US sales-tax convention."""
    if not isinstance(line, dict):
        return [(field, "an order line must be an object")]
    problems = [(f"{field}.{name}", "is required") for name in LINE_REQUIRED if name not in line]
    line_type = line.get("type", "physical")
    if line_type not in LINE_TYPES:
        problems.append((f"{field}.type", f"{line_type!r} is not one of {sorted(LINE_TYPES)}"))
    name = line.get("name")
    if "name" in line and (not isinstance(name, str) or not name.strip() or len(name) > 255):
        problems.append((f"{field}.name", "must be a non-empty string of at most 255 characters"))
    not_ints = [key for key in LINE_INTEGERS if key in line and not is_int(line[key])]
    problems += [(f"{field}.{key}", "must be an integer (no float, no bool)") for key in not_ints]
    if problems:
        return problems

    quantity, unit_price = line["quantity"], line["unit_price"]
    total, tax_rate, tax = line["total_amount"], line["tax_rate"], line["total_tax_amount"]
    discount = line.get("total_discount_amount", 0)
    if quantity < 0:
        problems.append((f"{field}.quantity", "must be >= 0"))
    if discount < 0:
        problems.append((f"{field}.total_discount_amount", "must be >= 0"))
    if not 0 <= tax_rate <= 10000:
        problems.append((f"{field}.tax_rate", "must be within 0..10000 (percent x 100)"))
    if total != quantity * unit_price - discount:
        problems.append(
            (
                f"{field}.total_amount",
                f"total_amount == quantity * unit_price - total_discount_amount fails: "
                f"{total} != {quantity} * {unit_price} - {discount}",
            )
        )
    if line_type in REDUCING_LINE_TYPES and total > 0:
        problems.append((f"{field}.total_amount", f"a {line_type} line cannot be positive"))
    if us:
        if tax_rate != 0 or tax != 0:
            problems.append(
                (
                    f"{field}.tax_rate",
                    "US rule: lines carry tax_rate 0 and total_tax_amount 0; "
                    "the tax travels in one sales_tax line",
                )
            )
    elif line_type == "sales_tax":
        problems.append((f"{field}.type", "sales_tax lines are only for purchase_country US"))
    elif 0 <= tax_rate <= 10000 and abs(tax - expected_tax(total, tax_rate)) > 1:
        problems.append(
            (
                f"{field}.total_tax_amount",
                f"must be within 1 of total_amount - total_amount * 10000 / (10000 + tax_rate)"
                f" = {float(expected_tax(total, tax_rate)):.2f}, got {tax}",
            )
        )
    return problems


def lines_problems(lines, field="order_lines", *, us):
    if not isinstance(lines, list) or not lines:
        return [(field, "must be a non-empty list")]
    if len(lines) > 1000:
        return [(field, "at most 1000 lines")]
    problems = []
    for index, line in enumerate(lines):
        problems += line_problems(line, f"{field}[{index}]", us=us)
    return problems


def amount_problems(body, name, *, minimum=0):
    value = body.get(name)
    if not is_int(value):
        return [(name, "must be an integer number of minor units (no float, no bool)")]
    if not minimum <= value <= MAX_AMOUNT:
        return [(name, f"must be within {minimum}..{MAX_AMOUNT}")]
    return []


def order_problems(body):
    """All of Klarna's rules for a session, an authorization's cart or a placed order."""
    if not isinstance(body, dict):
        return [("body", "must be a JSON object")]
    problems = [(name, "is required") for name in ORDER_REQUIRED if name not in body]
    country, currency = body.get("purchase_country"), body.get("purchase_currency")
    if "purchase_country" in body and country not in MARKET_CURRENCIES:
        problems.append(("purchase_country", f"{country!r} is not a Klarna market"))
    elif "purchase_currency" in body and currency != MARKET_CURRENCIES.get(country, currency):
        problems.append(
            (
                "purchase_currency",
                f"{currency!r} is not the currency of {country} ({MARKET_CURRENCIES[country]})",
            )
        )
    if "locale" in body and not (isinstance(body["locale"], str) and LOCALE.match(body["locale"])):
        problems.append(("locale", "must look like sv-SE (RFC 1766)"))
    for name in ("order_amount", "order_tax_amount"):
        if name in body:
            problems += amount_problems(body, name)
    problems += optional_problems(body)
    us = country == "US"
    if "order_lines" in body:
        problems += lines_problems(body["order_lines"], us=us)
    if problems:
        return problems
    return sum_problems(body, us=us)


def sum_problems(body, *, us):
    lines = body["order_lines"]
    problems = []
    total = sum(line["total_amount"] for line in lines)
    if body["order_amount"] != total:
        problems.append(
            (
                "order_amount",
                f"order_amount == sum(order_lines.total_amount) fails: "
                f"{body['order_amount']} != {total}",
            )
        )
    if us:
        sales_tax = [line["total_amount"] for line in lines if line.get("type") == "sales_tax"]
        if len(sales_tax) > 1:
            problems.append(("order_lines", "US rule: at most one sales_tax line"))
        elif body["order_tax_amount"] != sum(sales_tax):
            problems.append(
                (
                    "order_tax_amount",
                    f"US rule: order_tax_amount must equal the sales_tax line's total_amount "
                    f"({sum(sales_tax)}), got {body['order_tax_amount']}",
                )
            )
        return problems
    tax = sum(line["total_tax_amount"] for line in lines)
    if body["order_tax_amount"] != tax:
        problems.append(
            (
                "order_tax_amount",
                f"order_tax_amount == sum(order_lines.total_tax_amount) fails: "
                f"{body['order_tax_amount']} != {tax}",
            )
        )
    return problems


def optional_problems(body):
    problems = []
    if "intent" in body and body["intent"] not in INTENTS:
        problems.append(("intent", f"must be one of {sorted(INTENTS)}"))
    for name in ("merchant_reference1", "merchant_reference2"):
        if name in body and not (isinstance(body[name], str) and len(body[name]) <= 255):
            problems.append((name, "must be a string of at most 255 characters"))
    for name in ("billing_address", "shipping_address", "customer", "merchant_urls"):
        if name in body and not isinstance(body[name], dict):
            problems.append((name, "must be an object"))
    for key, url in (body.get("merchant_urls") or {}).items():
        if not (isinstance(url, str) and re.match(r"^https?://", url)):
            problems.append((f"merchant_urls.{key}", "must be an absolute http(s) URL"))
    return problems


def part_problems(body, amount_field, *, us):
    """A capture or refund: a positive amount and, when lines are given, lines adding up to it."""
    if not isinstance(body, dict):
        return [("body", "must be a JSON object")]
    problems = amount_problems(body, amount_field, minimum=1)
    if not body.get("order_lines") or problems:
        return problems
    problems = lines_problems(body["order_lines"], us=us)
    if not problems:
        total = sum(line["total_amount"] for line in body["order_lines"])
        if total != body[amount_field]:
            problems.append((amount_field, f"must equal sum(order_lines.total_amount) = {total}"))
    return problems


def ensure(problems):
    """Raise Klarna's 400 BAD_VALUE naming every problem, if there is any."""
    if problems:
        raise bad_value(problems)
