"""Hand-built carts: each line kind and tax situation maps to exact Klarna lines."""

from decimal import Decimal

import pytest

from klarna.mapping_errors import KlarnaMappingError
from klarna.order_lines import CartLine, build_order_amounts


def klarna_line(type_, name, quantity, unit_price, tax_rate, total, discount, tax, **extra):
    return {
        "type": type_,
        "name": name,
        "quantity": quantity,
        "unit_price": unit_price,
        "tax_rate": tax_rate,
        "total_amount": total,
        "total_discount_amount": discount,
        "total_tax_amount": tax,
        **extra,
    }


# Each case: the Odoo line (amounts as Odoo computed them) and the Klarna line expected.
SINGLE_LINES = {
    "physical, tax included 25%: 2 x 100.00": (
        CartLine("physical", "Chair", 2, Decimal("200.00"), Decimal("40.00")),
        klarna_line("physical", "Chair", 2, 10000, 2500, 20000, 0, 4000),
    ),
    "physical, tax excluded 19%: 3 x 9.99 + 5.69 tax, remainder cent as discount": (
        CartLine("physical", "Mug", 3, "35.66", "5.69"),
        klarna_line("physical", "Mug", 3, 1189, 1900, 3566, 1, 569),
    ),
    "service as digital": (
        CartLine("digital", "Installation", 1, 119.0, 19.0),
        klarna_line("digital", "Installation", 1, 11900, 1900, 11900, 0, 1900),
    ),
    "delivery as shipping_fee": (
        CartLine("shipping_fee", "PostNord", 1, "4.90", "0.98"),
        klarna_line("shipping_fee", "PostNord", 1, 490, 2500, 490, 0, 98),
    ),
    "two taxes on a line (7.7% + 2.5% on 200.00 excluded)": (
        CartLine("physical", "Watch", 1, "220.40", "20.40"),
        klarna_line("physical", "Watch", 1, 22040, 1020, 22040, 0, 2040),
    ),
    "fixed tax: 4 x (2.00 + 20% VAT + 0.50 eco-tax)": (
        CartLine("physical", "Battery", 4, "11.60", "3.60"),
        klarna_line("physical", "Battery", 4, 290, 4500, 1160, 0, 360),
    ),
    "tax-exempt customer (fiscal position maps to 0%)": (
        CartLine("physical", "Desk", 1, "80.00", "0.00"),
        klarna_line("physical", "Desk", 1, 8000, 0, 8000, 0, 0),
    ),
    "line discount 10%: gross 3 x 40.00, total 108.00": (
        CartLine("physical", "Lamp", 3, "108.00", "18.00", gross="120.00"),
        klarna_line("physical", "Lamp", 3, 4000, 2000, 10800, 1200, 1800),
    ),
    "order-level discount (10% of 200.00 at 25%)": (
        CartLine("discount", "10% on your order", 1, "-20.00", "-4.00"),
        klarna_line("discount", "10% on your order", 1, -2000, 2500, -2000, 0, -400),
    ),
    "loyalty reward, three coupons not divisible": (
        CartLine("discount", "Coupon", 3, "-10.00", "0"),
        klarna_line("discount", "Coupon", 3, -333, 0, -1000, 1, 0),
    ),
    "gift card payment": (
        CartLine("gift_card", "Gift card GC-1", 1, "-50.00", "0"),
        klarna_line("gift_card", "Gift card GC-1", 1, -5000, 0, -5000, 0, 0),
    ),
    "e-wallet payment": (
        CartLine("store_credit", "eWallet", 1, "-5.00", "0"),
        klarna_line("store_credit", "eWallet", 1, -500, 0, -500, 0, 0),
    ),
    "payment fee as surcharge": (
        CartLine("surcharge", "Invoice fee", 1, "2.50", "0.50"),
        klarna_line("surcharge", "Invoice fee", 1, 250, 2500, 250, 0, 50),
    ),
    "down-payment invoice: physical": (
        CartLine("down_payment", "Down payment of 30%", 1, "300.00", "60.00"),
        klarna_line("physical", "Down payment of 30%", 1, 30000, 2500, 30000, 0, 6000),
    ),
    "down payment deducted on the final invoice: discount": (
        CartLine("down_payment", "Down payment (ref S00012)", 1, "-300.00", "-60.00"),
        klarna_line("discount", "Down payment (ref S00012)", 1, -30000, 2500, -30000, 0, -6000),
    ),
    "fractional quantity: 1.5 kg at 2.99 incl. 12%": (
        CartLine("physical", "Apples", Decimal("1.500"), "4.49", "0.48", unit_name="kg"),
        klarna_line("physical", "Apples (1.5 kg)", 1, 449, 1200, 449, 0, 48),
    ),
    "fractional quantity without a unit name": (
        CartLine("physical", "Rope", 2.25, "9.00", "1.80"),
        klarna_line("physical", "Rope (x 2.25)", 1, 900, 2500, 900, 0, 180),
    ),
    "fractional quantity with a discount": (
        CartLine("physical", "Cheese", "0.75", "9.00", "1.80", gross="10.00", unit_name="kg"),
        klarna_line("physical", "Cheese (0.75 kg)", 1, 1000, 2500, 900, 100, 180),
    ),
    "variant: SKU, unit, urls": (
        CartLine(
            "physical",
            "T-shirt (L, Blue)",
            2,
            "50.00",
            "10.00",
            reference="TS-L-BLUE",
            unit_name="Units",
            product_url="https://shop.example/shop/t-shirt",
            image_url="https://shop.example/web/image/1",
        ),
        klarna_line(
            "physical",
            "T-shirt (L, Blue)",
            2,
            2500,
            2500,
            5000,
            0,
            1000,
            reference="TS-L-BLUE",
            quantity_unit="Units",
            product_url="https://shop.example/shop/t-shirt",
            image_url="https://shop.example/web/image/1",
        ),
    ),
    "free product": (
        CartLine("physical", "Sticker", 1, "0", "0"),
        klarna_line("physical", "Sticker", 1, 0, 0, 0, 0, 0),
    ),
}


@pytest.mark.parametrize("case", SINGLE_LINES, ids=list(SINGLE_LINES))
def test_single_line(case):
    cart_line, expected = SINGLE_LINES[case]
    filler = [] if expected["total_amount"] > 0 else [CartLine("physical", "Sofa", 1, 1000, 200)]
    payload = build_order_amounts([cart_line, *filler])
    assert payload["order_lines"][0] == expected
    assert payload["order_amount"] == sum(line["total_amount"] for line in payload["order_lines"])
    assert payload["order_tax_amount"] == sum(
        line["total_tax_amount"] for line in payload["order_lines"]
    )


def test_whole_cart_matches_odoo_totals():
    lines = [case[0] for case in SINGLE_LINES.values()]
    payload = build_order_amounts(lines, expected_total="769.55", expected_tax="118.25")
    assert payload["order_amount"] == 76955
    assert payload["order_tax_amount"] == 11825
    assert payload["order_lines"] == [case[1] for case in SINGLE_LINES.values()]


def test_nominal_tax_percent_is_preferred_when_it_fits():
    # 1.00 net at 5.5% -> Odoo tax 0.06: 6% fits too, the configured rate is shown instead.
    assert _rate(CartLine("physical", "Bread", 1, "1.06", "0.06")) == 600
    assert _rate(CartLine("physical", "Bread", 1, "1.06", "0.06", tax_percent="5.5")) == 550
    # A hint that does not fit Odoo's amounts is ignored, never used to recompute the tax.
    assert _rate(CartLine("physical", "Sofa", 1, "119.00", "19.00", tax_percent=25)) == 1900


def _rate(line):
    return build_order_amounts([line])["order_lines"][0]["tax_rate"]


def test_rate_too_coarse_for_a_large_line_splits_it_in_two():
    # Quebec 14.975% (GST + QST) on 11740.00 net: every whole rate is over a cent off.
    total, tax = Decimal("13498.07"), Decimal("1758.07")
    payload = build_order_amounts(
        [CartLine("physical", "TV", 3, total, tax, reference="TV-65")], expected_total=total
    )
    first, second = payload["order_lines"]
    assert (first["name"], second["name"]) == ("TV (x 3) (1/2)", "TV (x 3) (2/2)")
    assert (first["tax_rate"], second["tax_rate"]) == (1497, 1498)
    assert first["reference"] == second["reference"] == "TV-65"
    assert first["total_amount"] + second["total_amount"] == 1349807
    assert first["total_tax_amount"] + second["total_tax_amount"] == 175807
    assert payload["order_amount"] == 1349807


def test_large_fixed_tax_line_is_split_keeping_its_discount():
    payload = build_order_amounts(
        [CartLine("physical", "Tobacco", 1000, "9000.00", "3333.33", gross="10000.00")]
    )
    first, second = payload["order_lines"]
    assert first["total_discount_amount"] == 100000  # the customer's discount stays visible
    assert second["total_discount_amount"] == 0
    assert first["total_amount"] + second["total_amount"] == 900000
    assert first["total_tax_amount"] + second["total_tax_amount"] == 333333


def test_long_names_and_references_are_cut_to_klarna_limits():
    line = CartLine("physical", "N" * 300, "1.5", "3.00", "0", reference="R" * 80, unit_name="kg")
    sent = build_order_amounts([line])["order_lines"][0]
    assert len(sent["name"]) == 255
    assert sent["name"].endswith("N (1.5 kg)")
    assert sent["reference"] == "R" * 64


def test_unit_name_longer_than_klarna_allows_is_left_out():
    line = CartLine("physical", "Cable", 2, "4.00", "0", unit_name="Meters (roll)")
    assert "quantity_unit" not in build_order_amounts([line])["order_lines"][0]


class TestResidual:
    """Round-globally: Odoo's amount_total/amount_tax are a cent or two off the line sums."""

    LINES = (
        CartLine("physical", "Pen", 3, "3.70", "0.74", gross="3.70"),  # tax 0.7425 per line
        CartLine("physical", "Ink", 1, "12.35", "2.47"),
        CartLine("shipping_fee", "Postage", 1, "50.00", "0"),
    )

    def test_goes_to_the_largest_taxed_line(self):
        payload = build_order_amounts(self.LINES, expected_total="66.06", expected_tax="3.22")
        assert payload["order_amount"] == 6606
        assert payload["order_tax_amount"] == 322
        pen, ink, postage = payload["order_lines"]
        assert (ink["total_amount"], ink["total_tax_amount"]) == (1236, 248)
        assert ink["unit_price"] == 1236 and ink["total_discount_amount"] == 0
        assert (pen["total_amount"], postage["total_amount"]) == (370, 5000)

    def test_total_only_goes_to_the_largest_line(self):
        payload = build_order_amounts(self.LINES, expected_total="66.04")
        assert payload["order_lines"][2]["total_amount"] == 4999
        assert payload["order_lines"][2]["total_discount_amount"] == 1
        assert payload["order_amount"] == 6604

    def test_above_tolerance_is_refused(self):
        with pytest.raises(KlarnaMappingError, match="not a rounding difference"):
            build_order_amounts(self.LINES, expected_total="66.09")
        with pytest.raises(KlarnaMappingError, match=r"tax of 3\.21"):
            build_order_amounts(self.LINES, expected_tax="3.25")

    def test_tolerance_is_configurable(self):
        build_order_amounts(self.LINES, expected_total="66.11", max_residual_per_line=2)
        with pytest.raises(KlarnaMappingError):
            build_order_amounts(self.LINES, expected_total="66.06", max_residual_per_line=0)

    def test_refused_when_no_line_can_take_it(self):
        lines = [CartLine("physical", "Pen", 1, "0", "0"), CartLine("gift_card", "GC", 1, -1, 0)]
        with pytest.raises(KlarnaMappingError, match="rounding difference"):
            build_order_amounts(lines, expected_total="0.01")


def test_every_problem_is_reported_at_once():
    lines = [
        CartLine("gadget", "Thing", 1, "1.00", "0"),
        CartLine("physical", " ", 1, "1.00", "0"),
        CartLine("physical", "Zero", 0, "1.00", "0"),
        CartLine("gift_card", "Card", 1, "5.00", "0"),
        CartLine("physical", "Cheaper than discounted", 1, "10.00", "0", gross="9.00"),
        CartLine("physical", "Negative tax", 1, "10.00", "-1.00"),
        CartLine("physical", "Excise", 1, "10.00", "5.02"),
        CartLine("physical", "Bad amount", 1, "ten", "0"),
        CartLine("discount", "Promo", 1, "-5.00", "0", gross="-6.00"),
        CartLine("physical", "Taxed nothing", 1, "0", "0.05"),
        CartLine("physical", "Refund", 1, "-3.00", "0"),
    ]
    with pytest.raises(KlarnaMappingError) as raised:
        build_order_amounts(lines)
    problems = raised.value.problems
    assert problems == (
        "line 1 (Thing): unknown kind 'gadget' (expected one of ['digital', 'discount', "
        "'down_payment', 'gift_card', 'physical', 'shipping_fee', 'store_credit', 'surcharge'])",
        "line 2: the name is empty",
        "line 3 (Zero): the quantity must be greater than zero",
        "line 4 (Card): a gift_card line must have a negative amount",
        "line 5 (Cheaper than discounted): the amount before discount is below the total",
        "line 6 (Negative tax): the tax and the total have opposite signs",
        "line 7 (Excise): the tax exceeds 100% of the net amount, which Klarna cannot accept",
        "line 8 (Bad amount): total: 'ten' is not a number",
        "line 9 (Promo): a negative line cannot carry a discount of its own",
        "line 10 (Taxed nothing): a line with a zero total cannot carry tax",
        "line 11 (Refund): a physical line cannot have a negative amount (send a discount)",
    )


def test_bad_arguments_are_refused():
    line = CartLine("physical", "Pen", 1, 5, 0)
    with pytest.raises(KlarnaMappingError, match="line 2: expected a CartLine, got dict"):
        build_order_amounts([line, {"name": "Pen"}])
    with pytest.raises(KlarnaMappingError, match=r"line 1 \(Pen\): unknown kind None"):
        build_order_amounts([CartLine(None, "Pen", 1, 5, 0)])
    with pytest.raises(KlarnaMappingError, match="expected total: 'five' is not a number"):
        build_order_amounts([line], expected_total="five")
    with pytest.raises(KlarnaMappingError, match="must not be negative"):
        build_order_amounts([line], max_residual_per_line=-1)
    with pytest.raises(KlarnaMappingError, match="must be an integer"):
        build_order_amounts([line], max_residual_per_line=0.5)


def test_tax_of_exactly_the_net_amount_is_still_accepted():
    payload = build_order_amounts([CartLine("physical", "Excise", 1, "10.00", "5.00")])
    assert payload["order_lines"][0]["tax_rate"] == 10000


def test_empty_cart_and_non_positive_order_are_refused():
    with pytest.raises(KlarnaMappingError, match="no lines"):
        build_order_amounts([])
    with pytest.raises(KlarnaMappingError, match="order_amount must be a positive"):
        build_order_amounts(
            [CartLine("physical", "Pen", 1, 5, 0), CartLine("gift_card", "GC", 1, -5, 0)]
        )


def test_cart_lines_are_immutable():
    line = CartLine("physical", "Pen", 1, 5, 0)
    with pytest.raises(AttributeError):
        line.total = 6
