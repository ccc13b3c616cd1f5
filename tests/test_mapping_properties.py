"""Random carts computed like Odoo: every Klarna rule holds and order_amount is Odoo's total.

The simulation follows Odoo's per-line tax computation with Decimal (HALF-UP): percent taxes
(tax excluded or included in the price, one or two per line), fixed per-unit taxes, line
discounts, an order-level discount line, shipping, a payment fee, gift cards and fractional
or large quantities. In the round-globally variant each line's tax is rounded once and
``amount_tax`` is rounded per tax over the whole order, so ``amount_total`` differs from the
sum of the line totals by the rounding residual, as in Odoo.
"""

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from klarna.mapping_errors import KlarnaMappingError
from klarna.money import to_minor
from klarna.order_lines import (
    CartLine,
    _tax_gap,
    _tax_off,
    build_order_amounts,
    validate_order_amounts,
)

PERCENTS = [Decimal(p) for p in ("25", "21", "20", "19", "12", "7.7", "5.5", "2.1")] + [
    Decimal(p) for p in ("14.975", "9.975", "8.875", "0")
]


@dataclass(frozen=True)
class Product:
    kind: str
    price: Decimal  # unit price, tax excluded or included as the cart says
    quantity: Decimal
    discount: Decimal  # percent
    percents: tuple
    fixed: Decimal  # per-unit fixed tax, excluded from the price


def rnd(value, decimals, rounding=ROUND_HALF_UP):
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=rounding)


def odoo_line(product, included, globally, decimals, discount=None):
    """``(total, tax, raw taxes by tax)`` for one line, as Odoo's compute_all would give."""
    discount = product.discount if discount is None else discount
    amount = product.price * (1 - discount / 100) * product.quantity
    share = sum(product.percents, Decimal(0)) / 100
    excluded = amount / (1 + share) if included else amount
    raw = {("pct", p, included): excluded * p / 100 for p in product.percents}
    if product.fixed:
        raw[("fixed", product.fixed)] = product.fixed * product.quantity
    if globally:
        tax = rnd(sum(raw.values(), Decimal(0)), decimals)
        return rnd(excluded, decimals) + tax, tax, raw
    percent_taxes = sum((rnd(raw[key], decimals) for key in raw if key[0] == "pct"), Decimal(0))
    subtotal = rnd(amount, decimals) - percent_taxes if included else rnd(amount, decimals)
    tax = sum((rnd(value, decimals) for value in raw.values()), Decimal(0))
    return subtotal + tax, tax, raw


amounts = st.integers(0, 10**6).map(lambda cents: Decimal(cents) / 100)
precise_amounts = st.integers(0, 10**8).map(lambda units: Decimal(units) / 10**4)
quantities = st.one_of(
    st.integers(1, 20).map(Decimal),
    st.integers(1, 10**4).map(Decimal),
    st.integers(1, 10**5).map(lambda thousandths: Decimal(thousandths) / 1000),
)
percents = st.lists(st.sampled_from(PERCENTS), max_size=2, unique=True).map(tuple)


@st.composite
def products(draw, kinds):
    kind = draw(kinds)
    price = draw(st.one_of(amounts, precise_amounts))
    discount = draw(st.one_of(st.just(Decimal(0)), st.integers(0, 9999).map(lambda d: d / 100)))
    fixed = Decimal(0)
    # Fixed taxes stay below the price so the tax never exceeds 100% of the net (see the
    # single-line property below for what happens beyond).
    if discount <= 50 and price >= Decimal("0.05") and draw(st.booleans()):
        fixed = Decimal(draw(st.integers(1, int(price * 20)))) / 100
    return Product(kind, price, draw(quantities), Decimal(discount), draw(percents), fixed)


@st.composite
def carts(draw):
    decimals = draw(st.sampled_from([2, 2, 2, 0]))
    included = draw(st.booleans())
    globally = draw(st.booleans())
    lines = draw(
        st.lists(products(st.sampled_from(["physical", "digital"])), min_size=1, max_size=6)
    )
    if draw(st.booleans()):
        lines.append(draw(products(st.just("shipping_fee"))))
    if draw(st.booleans()):
        lines.append(draw(products(st.just("surcharge"))))
    if draw(st.booleans()):
        lines.append(draw(products(st.just("down_payment"))))
    return {
        "decimals": decimals,
        "included": included,
        "globally": globally,
        "products": lines,
        "order_discount": draw(st.integers(0, 50)),
        "gift_card": draw(st.integers(0, 90)),
        "gift_kind": draw(st.sampled_from(["gift_card", "store_credit", "down_payment"])),
        "us": draw(st.booleans()),
    }


def simulate(cart):
    """Cart lines and Odoo's amount_total/amount_tax for a drawn cart."""
    decimals, included, globally = cart["decimals"], cart["included"], cart["globally"]
    cart_lines, raw_by_tax = [], defaultdict(Decimal)

    def add(product, name):
        total, tax, raw = odoo_line(product, included, globally, decimals)
        gross = None
        if product.discount:
            gross = odoo_line(product, included, globally, decimals, discount=Decimal(0))[0]
        for key, value in raw.items():
            raw_by_tax[key] += value
        cart_lines.append(
            CartLine(product.kind, name, product.quantity, total, tax, gross=gross, unit_name="kg")
        )

    for number, product in enumerate(cart["products"]):
        add(product, f"Product {number}")
    first = cart["products"][0]
    if cart["order_discount"]:
        # Odoo's order discount: a negative line with the discounted line's percent taxes.
        base = rnd(first.price * (1 - first.discount / 100) * first.quantity, decimals)
        price = -rnd(base * cart["order_discount"] / 100, decimals)
        add(Product("discount", price, Decimal(1), Decimal(0), first.percents, Decimal(0)), "Promo")
    so_far = sum(line.total for line in cart_lines)
    gift = rnd(so_far * cart["gift_card"] / 100, decimals, ROUND_DOWN)
    if gift > 0:
        cart_lines.append(CartLine(cart["gift_kind"], "Paid earlier", 1, -gift, 0))
    if globally:
        amount_tax = sum((rnd(value, decimals) for value in raw_by_tax.values()), Decimal(0))
        untaxed = sum((line.total - line.tax for line in cart_lines), Decimal(0))
        return cart_lines, untaxed + amount_tax, amount_tax
    return cart_lines, so_far - gift, sum((line.tax for line in cart_lines), Decimal(0))


def assert_klarna_rules(payload, us):
    """Klarna's rules restated with integer arithmetic, independent of the module's checker."""
    lines = payload["order_lines"]
    for line in lines:
        quantity, rate = line["quantity"], line["tax_rate"]
        total, tax = line["total_amount"], line["total_tax_amount"]
        numbers = ("unit_price", "total_discount_amount", "total_tax_amount", "quantity")
        assert all(type(line[key]) is int for key in (*numbers, "tax_rate", "total_amount"))
        assert quantity >= 1 and 0 <= rate <= 10000 and line["total_discount_amount"] >= 0
        assert total == quantity * line["unit_price"] - line["total_discount_amount"]
        assert abs(tax * (10000 + rate) - total * rate) <= 10000 + rate
        if line["type"] in ("discount", "gift_card", "store_credit"):
            assert total <= 0 and tax <= 0
        else:
            assert total >= 0 and tax >= 0
    assert payload["order_amount"] == sum(line["total_amount"] for line in lines)
    if us:
        assert all(line["tax_rate"] == 0 == line["total_tax_amount"] for line in lines)
        sales_tax = [line["total_amount"] for line in lines if line["type"] == "sales_tax"]
        assert payload["order_tax_amount"] == sum(sales_tax) and len(sales_tax) <= 1
    else:
        assert payload["order_tax_amount"] == sum(line["total_tax_amount"] for line in lines)


@settings(max_examples=2000, deadline=None)
@given(carts())
def test_random_carts_meet_every_rule_and_odoo_total(cart):
    cart_lines, amount_total, amount_tax = simulate(cart)
    total_of_lines = sum(line.total for line in cart_lines)
    decimals = cart["decimals"]
    assume(amount_total > 0)
    if cart["us"]:
        assume(sum(line.tax for line in cart_lines) >= 0)
    # Round-globally residual: at most half a unit per line and per tax (up to 3 per line).
    payload = build_order_amounts(
        cart_lines,
        decimals=decimals,
        expected_total=amount_total,
        expected_tax=amount_tax,
        us_sales_tax=cart["us"],
        max_residual_per_line=2 if cart["globally"] else 1,
    )
    validate_order_amounts({**payload, "purchase_country": "US" if cart["us"] else "SE"})
    assert_klarna_rules(payload, cart["us"])
    assert payload["order_amount"] == to_minor(amount_total, decimals)
    assert payload["order_tax_amount"] == to_minor(amount_tax, decimals)
    assert len(cart_lines) <= len(payload["order_lines"]) <= 2 * len(cart_lines) + 1
    event("US sales tax" if cart["us"] else f"{decimals} decimals")
    event(f"residual: {to_minor(amount_total, decimals) != to_minor(total_of_lines, decimals)}")
    event(f"split line: {any(line['name'].endswith('(2/2)') for line in payload['order_lines'])}")


@settings(max_examples=1000, deadline=None)
@given(
    total=st.one_of(st.integers(1, 300), st.integers(1, 10**5), st.integers(1, 10**11)),
    tax_share=st.fractions(0, 1),
    quantity=st.integers(1, 50),
    negative=st.booleans(),
)
def test_any_line_gets_a_valid_rate_unless_its_tax_exceeds_the_net(
    total, tax_share, quantity, negative
):
    """A rate (or a two-part split) exists for tax up to 100% of the net, else a clear error."""
    tax = int(total * tax_share)
    sign = -1 if negative else 1
    line = CartLine("discount" if negative else "physical", "X", quantity, sign * total, sign * tax)
    lines = [line, CartLine("physical", "Y", 1, total + 1, 0)] if negative else [line]
    representable = 2 * tax < total + 2
    try:
        payload = build_order_amounts(lines, decimals=0)
    except KlarnaMappingError as error:
        assert not representable
        assert "exceeds 100% of the net amount" in str(error)
        return
    assert representable
    assert_klarna_rules(payload, us=False)
    parts = [item for item in payload["order_lines"] if item["name"].startswith("X")]
    assert sum(item["total_amount"] for item in parts) == sign * total
    assert sum(item["total_tax_amount"] for item in parts) == sign * tax


@settings(max_examples=2000, deadline=None)
@given(
    total=st.integers(-(10**11), 10**11),
    rate=st.integers(0, 10000),
    tax=st.integers(-(10**11), 10**11),
)
def test_integer_tolerance_checks_agree_with_the_exact_gap(total, rate, tax):
    """The hot path's integer comparisons decide exactly as the Fraction gap does."""
    scale = 10000 + rate
    assert (_tax_off(total, rate, tax) < scale) == (_tax_gap(total, rate, tax) < 1)
    assert (_tax_off(total, rate, tax) > scale) == (_tax_gap(total, rate, tax) > 1)
    near = round(total * rate / scale)  # taxes around the expected one, where the bound bites
    for candidate in range(near - 2, near + 3):
        assert (_tax_off(total, rate, candidate) < scale) == (_tax_gap(total, rate, candidate) < 1)


def test_simulation_produces_round_globally_residuals():
    """Guard for the property above: the round-globally variant really differs from Σ lines."""
    product = Product("physical", Decimal("0.10"), Decimal(1), Decimal(0), (Decimal(25),), 0)
    cart = {
        "decimals": 2,
        "included": False,
        "globally": True,
        "products": [product] * 4,
        "order_discount": 0,
        "gift_card": 0,
        "gift_kind": "gift_card",
        "us": False,
    }
    cart_lines, amount_total, amount_tax = simulate(cart)
    assert [line.tax for line in cart_lines] == [Decimal("0.03")] * 4  # 0.025 each, HALF-UP
    assert (amount_total, amount_tax) == (Decimal("0.50"), Decimal("0.10"))
    payload = build_order_amounts(cart_lines, expected_total=amount_total, expected_tax=amount_tax)
    assert [line["total_tax_amount"] for line in payload["order_lines"]] == [2, 2, 3, 3]
