"""The US rule: items untaxed, the whole tax on one sales_tax line."""

import pytest

from klarna.mapping_errors import KlarnaMappingError
from klarna.order_lines import CartLine, build_order_amounts, validate_order_amounts

# A California cart as Odoo computes it: prices tax excluded, 8.875% (sales tax + district).
CART = [
    CartLine("physical", "Shirt", 3, "97.99", "7.99", gross="130.65"),  # 25% off 3 x 40.00
    CartLine("shipping_fee", "UPS Ground", 1, "9.99", "0"),
    CartLine("discount", "Spring promo", 1, "-10.89", "-0.89"),
]


def test_items_carry_no_tax_and_one_sales_tax_line_carries_all():
    payload = build_order_amounts(CART, us_sales_tax=True, sales_tax_name="Sales tax (CA)")
    assert payload["order_lines"] == [
        {
            "type": "physical",
            "name": "Shirt",
            "quantity": 3,
            "unit_price": 4000,  # discount scaled to tax-excluded: 25% of 120.00
            "tax_rate": 0,
            "total_amount": 9000,
            "total_discount_amount": 3000,
            "total_tax_amount": 0,
        },
        {
            "type": "shipping_fee",
            "name": "UPS Ground",
            "quantity": 1,
            "unit_price": 999,
            "tax_rate": 0,
            "total_amount": 999,
            "total_discount_amount": 0,
            "total_tax_amount": 0,
        },
        {
            "type": "discount",
            "name": "Spring promo",
            "quantity": 1,
            "unit_price": -1000,
            "tax_rate": 0,
            "total_amount": -1000,
            "total_discount_amount": 0,
            "total_tax_amount": 0,
        },
        {
            "type": "sales_tax",
            "name": "Sales tax (CA)",
            "quantity": 1,
            "unit_price": 710,
            "tax_rate": 0,
            "total_amount": 710,
            "total_discount_amount": 0,
            "total_tax_amount": 0,
        },
    ]
    assert payload["order_amount"] == 9709  # Odoo's amount_total, tax included
    assert payload["order_tax_amount"] == 710
    validate_order_amounts({**payload, "purchase_country": "US"})


def test_rounding_residual_in_the_tax_lands_on_the_sales_tax_line():
    payload = build_order_amounts(
        CART, us_sales_tax=True, expected_total="97.10", expected_tax="7.11"
    )
    assert payload["order_lines"][-1]["total_amount"] == 711
    assert payload["order_lines"][0]["total_amount"] == 9000  # the net did not move
    assert (payload["order_amount"], payload["order_tax_amount"]) == (9710, 711)


def test_untaxed_us_order_has_no_sales_tax_line():
    payload = build_order_amounts(
        [CartLine("digital", "E-book", 1, "9.99", "0")], us_sales_tax=True
    )
    assert [line["type"] for line in payload["order_lines"]] == ["digital"]
    assert payload["order_tax_amount"] == 0


def test_negative_sales_tax_is_refused():
    lines = [
        CartLine("physical", "Shirt", 1, "30.00", "0"),
        CartLine("discount", "Promo", 1, "-10.89", "-0.89"),
    ]
    with pytest.raises(KlarnaMappingError, match="sales tax is negative"):
        build_order_amounts(lines, us_sales_tax=True)


def test_tax_larger_than_the_line_is_refused():
    with pytest.raises(KlarnaMappingError, match="physical line cannot have a negative amount"):
        build_order_amounts([CartLine("physical", "Odd", 1, "1.00", "2.00")], us_sales_tax=True)
