"""Mapping section (issue 16, §3): the pure mapping of a cart, without Odoo or a network.

What it times is what the checkout runs after Odoo has read the cart: neutral
``CartLine``\\s to Klarna's ``order_amount``, ``order_tax_amount`` and ``order_lines``
(``klarna/order_lines.build_order_amounts``, its validation included), plus the customer's
addresses and the locale (``klarna/address.build_addresses``, ``klarna/locale``), for carts
of 1, 10, 100 and 1,000 lines: the median of repeated runs, and the peak memory one run
allocates (``tracemalloc``, in a run of its own since tracing slows it down).

The carts look like a B2B cart priced by Odoo: products at 21 % and 6 % VAT (amounts as
Odoo rounds them, ``Decimal`` like the adapter hands them over), quantities 1 to 3, every
fifth line discounted, one item in seven a service, a shipping fee; Odoo's order totals
are the sum of the lines, so no residual is spread. The target: a 1,000-line cart in at
most 100 ms, and time per line no worse at 1,000 lines than at 100 (linear growth).

Called by the bench's orchestrator (``run(quick)``), or alone:
``python3 bench/mapping_bench.py [--quick]`` prints the table and the JSON figures. Plain
``python3`` is enough: the pure package imports nothing outside the standard library.
"""

import json
import os
import statistics
import sys
import time
import tracemalloc
from decimal import ROUND_HALF_UP, Decimal

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "payment_klarna")
)

from klarna.address import PartyData, build_addresses
from klarna.locale import klarna_locale, market
from klarna.order_lines import CartLine, build_order_amounts

SIZES = (1, 10, 100, 1000)
TARGET_MS = 100.0  # issue 16: a 1,000-line cart
LINEAR_SLACK = 1.25  # time per line at 1,000 lines may exceed the 100-line one by this factor
BUDGET_S = 2.0  # measuring time per cart size (at least MIN_REPEATS runs)
QUICK_BUDGET_S = 0.3
MIN_REPEATS = 5
CENT = Decimal("0.01")
BASE_URL = "https://shop.example.com"
BILLING = PartyData(
    name="Erika Mustermann",
    email="erika@example.com",
    street="Hauptstrasse 5",
    postal_code="10115",
    city="Berlin",
    country_code="DE",
    phone="+49 30 1234567",
    organization_name="Mustermann GmbH",
    registration_id="DE123456789",
)
SHIPPING = PartyData(
    name="Erika Mustermann",
    email="erika@example.com",
    street="Lagerweg 1",
    postal_code="20095",
    city="Hamburg",
    country_code="DE",
)


def _money(value):
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def cart(size):
    """``size`` cart lines (the last a shipping fee when there are several), as Odoo's tax
    engine would price them, and the order's total and tax."""
    lines = []
    for index in range(size - 1 if size > 1 else size):
        rate = Decimal(21 if index % 3 == 0 else 6)
        quantity = 1 + index % 3
        unit = _money(Decimal(10) + Decimal(index) * Decimal("1.37"))
        gross_net = unit * quantity
        net = _money(gross_net * Decimal("0.9")) if index % 5 == 0 else gross_net
        tax = _money(net * rate / 100)
        total = net + tax
        product_id = 1000 + index
        lines.append(
            CartLine(
                kind="digital" if index % 7 == 3 else "physical",
                name=f"Item {index} (Colour: Blue, Size: L)",
                quantity=Decimal(quantity),
                total=total,
                tax=tax,
                gross=gross_net + _money(gross_net * rate / 100) if net != gross_net else None,
                reference=f"ITEM-{index:04}",
                unit_name="Units",
                product_url=f"{BASE_URL}/shop/item-{index}-{product_id}",
                image_url=f"{BASE_URL}/web/image/product.product/{product_id}/image_1024",
                tax_percent=rate,
            )
        )
    if size > 1:
        lines.append(
            CartLine("shipping_fee", "Express", 1, Decimal("5.99"), Decimal("1.04"), tax_percent=21)
        )
    return lines, sum(line.total for line in lines), sum(line.tax for line in lines)


def map_cart(lines, total, tax):
    """What the adapter asks of the pure package for one checkout payload."""
    country = "DE"
    payload = {"purchase_country": country, "purchase_currency": market(country).currency}
    payload["locale"] = klarna_locale("de_DE", country)
    payload.update(
        build_order_amounts(
            lines, decimals=2, expected_total=total, expected_tax=tax, sales_tax_name="Sales Tax"
        )
    )
    payload.update(build_addresses(BILLING, SHIPPING))
    return payload


def _time(size, budget):
    lines, total, tax = cart(size)
    payload = map_cart(lines, total, tax)  # warm up, and check the payload
    assert payload["order_amount"] == int(total * 100), payload["order_amount"]
    samples = []
    deadline = time.perf_counter() + budget
    while len(samples) < MIN_REPEATS or time.perf_counter() < deadline:
        start = time.perf_counter()
        map_cart(lines, total, tax)
        samples.append(time.perf_counter() - start)
    tracemalloc.start()
    map_cart(lines, total, tax)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    median = statistics.median(samples)
    return {
        "lines": size,
        "order_lines": len(payload["order_lines"]),
        "runs": len(samples),
        "median_ms": round(median * 1000, 3),
        "min_ms": round(min(samples) * 1000, 3),
        "per_line_us": round(median * 1e6 / size, 1),
        "peak_kib": round(peak / 1024, 1),
    }


def run(quick=False):
    """The mapping's time and memory per cart size, and the verdict on issue 16's target.

    :param bool quick: measure briefly (development), else long enough for stable medians
    :return: ``{"sizes": [per-size figures], "target": {...}}``
    """
    budget = QUICK_BUDGET_S if quick else BUDGET_S
    sizes = [_time(size, budget) for size in SIZES]
    by_size = {row["lines"]: row for row in sizes}
    growth = by_size[1000]["per_line_us"] / by_size[100]["per_line_us"]
    return {
        "sizes": sizes,
        "target": {
            "ms_1000_lines": by_size[1000]["median_ms"],
            "target_ms": TARGET_MS,
            "per_line_growth_100_to_1000": round(growth, 2),
            "met": by_size[1000]["median_ms"] <= TARGET_MS and growth <= LINEAR_SLACK,
        },
        "python": sys.version.split()[0],
    }


def table(result):
    """The figures as a Markdown table, for RESULTS.md."""
    rows = [
        "| lines | Klarna order lines | median (ms) | per line (µs) | peak memory (KiB) | runs |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    rows.extend(
        f"| {r['lines']} | {r['order_lines']} | {r['median_ms']} | {r['per_line_us']} "
        f"| {r['peak_kib']} | {r['runs']} |"
        for r in result["sizes"]
    )
    target = result["target"]
    rows.append(
        f"\n1,000 lines: {target['ms_1000_lines']} ms (target ≤ {target['target_ms']:g} ms); "
        f"time per line at 1,000 lines / at 100: {target['per_line_growth_100_to_1000']} "
        f"({'met' if target['met'] else 'MISSED'})"
    )
    return "\n".join(rows)


if __name__ == "__main__":
    figures = run(quick="--quick" in sys.argv[1:])
    print(table(figures))
    print(json.dumps(figures, indent=1))
