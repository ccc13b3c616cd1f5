"""validate_order_amounts names every Klarna amount rule a payload breaks."""

import pytest

from klarna.mapping_errors import KlarnaMappingError
from klarna.order_lines import validate_order_amounts


def line(**changes):
    base = {
        "type": "physical",
        "name": "Chair",
        "quantity": 2,
        "unit_price": 10000,
        "tax_rate": 2500,
        "total_amount": 20000,
        "total_discount_amount": 0,
        "total_tax_amount": 4000,
    }
    return {**base, **changes}


def payload(*lines, **changes):
    lines = lines or (line(),)
    return {
        "order_amount": sum(item.get("total_amount", 0) for item in lines),
        "order_tax_amount": sum(item.get("total_tax_amount", 0) for item in lines),
        "order_lines": list(lines),
        **changes,
    }


def problems(data):
    with pytest.raises(KlarnaMappingError) as raised:
        validate_order_amounts(data)
    return raised.value.problems


def test_valid_payload_passes():
    assert validate_order_amounts(payload()) is None


def test_optional_line_fields_default_to_zero():
    minimal = {"name": "Chair", "quantity": 1, "unit_price": 500, "total_amount": 500}
    assert validate_order_amounts(payload(minimal)) is None


def test_tax_within_one_minor_unit_passes_and_beyond_fails():
    assert validate_order_amounts(payload(line(total_tax_amount=4001))) is None
    assert validate_order_amounts(payload(line(total_tax_amount=3999))) is None
    assert problems(payload(line(total_tax_amount=4002))) == (
        "order line 1: total_tax_amount is more than 1 minor unit off the tax_rate",
    )


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"quantity": 0, "total_amount": 0, "total_tax_amount": 0}, "quantity must be at least 1"),
        ({"quantity": 1.5}, "quantity must be an integer"),
        ({"unit_price": 100.0}, "unit_price must be an integer"),
        ({"tax_rate": True}, "tax_rate must be an integer"),
        ({"total_amount": 19999}, "total_amount != quantity * unit_price - total_discount_amount"),
        (
            {"total_discount_amount": -100, "total_amount": 20100, "total_tax_amount": 4020},
            "total_discount_amount must not be negative",
        ),
        ({"tax_rate": 10001}, "tax_rate must be between 0 and 10000"),
        ({"tax_rate": -1}, "tax_rate must be between 0 and 10000"),
        ({"type": "coupon"}, "unknown type 'coupon'"),
        ({"name": ""}, "name is required"),
        (
            {"type": "discount"},
            "a discount line must have a negative total_amount and total_tax_amount",
        ),
        (
            {"unit_price": -10000, "total_amount": -20000, "total_tax_amount": -4000},
            "a physical line must not have a negative total_amount or total_tax_amount",
        ),
    ],
)
def test_each_line_rule(changes, problem):
    broken = line(**changes)
    assert f"order line 1: {problem}" in problems(payload(broken, line()))


def test_order_sums():
    assert problems(payload(line(), order_amount=20001)) == (
        "order_amount differs from the sum of the lines' total_amount",
    )
    assert problems(payload(line(), order_tax_amount=4001)) == (
        "order_tax_amount differs from the sum of the lines' total_tax_amount",
    )


def test_order_level_shape():
    assert problems({"order_amount": 0, "order_tax_amount": "0", "order_lines": []}) == (
        "order_lines must be a non-empty list",
        "order_amount must be a positive integer",
        "order_tax_amount must be an integer",
    )
    not_a_line = {"order_amount": 1, "order_tax_amount": 0, "order_lines": ["Chair"]}
    assert problems(not_a_line) == ("order line 1: must be an object",)


def test_every_broken_rule_is_listed_together():
    found = problems(payload(line(quantity=0), line(tax_rate=20000), order_tax_amount=None))
    assert found == (
        "order line 1: quantity must be at least 1",
        "order line 1: total_amount != quantity * unit_price - total_discount_amount",
        "order line 2: tax_rate must be between 0 and 10000",
        "order_tax_amount must be an integer",
    )


def sales_tax(amount, **changes):
    fields = {"type": "sales_tax", "name": "Sales Tax", "quantity": 1, "unit_price": amount}
    fields.update(tax_rate=0, total_amount=amount, total_tax_amount=0)
    return line(**{**fields, **changes})


US_ITEM = line(tax_rate=0, total_tax_amount=0)


def test_us_order():
    valid = payload(US_ITEM, sales_tax(1775), order_tax_amount=1775, purchase_country="US")
    assert validate_order_amounts(valid) is None


def test_us_order_with_taxed_items_or_wrong_tax_total():
    assert problems(payload(line(), sales_tax(1775), order_tax_amount=1775)) == (
        "order line 1: US lines carry tax_rate 0 and total_tax_amount 0",
    )
    assert problems(payload(US_ITEM, sales_tax(1775), order_tax_amount=0)) == (
        "order_tax_amount differs from the sales_tax line",
    )
    assert problems(payload(line(), purchase_country="US")) == (
        "order line 1: US lines carry tax_rate 0 and total_tax_amount 0",
    )
    assert problems(payload(US_ITEM, order_tax_amount=5, purchase_country="US")) == (
        "order_tax_amount differs from the sales_tax line",
    )


def test_sales_tax_line_shape_and_count():
    found = problems(payload(US_ITEM, sales_tax(5, quantity=5), sales_tax(5), order_tax_amount=30))
    assert found == (
        "order line 2: total_amount != quantity * unit_price - total_discount_amount",
        "order line 2: a sales_tax line has quantity 1 and unit_price equal to total_amount",
    )
    assert problems(payload(US_ITEM, sales_tax(5), sales_tax(5), order_tax_amount=10)) == (
        "a US order carries its tax on one sales_tax line",
    )
