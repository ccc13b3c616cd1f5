"""Checkout section (issue 16, §1): the widget's three steps against Odoo's own floor.

Per cart size, rounds of carts; in each, our checkout and the floor run on carts of the
same lines, their order rotated from cart to cart. Ours is what payment_form.js does:
open the widget's session (``/payment/klarna/session``), bind it at *Pay* (Odoo's
``/shop/payment/transaction/<order>`` for Klarna, then ``/payment/klarna/prepare``; the
customer approves in the simulator), place the order (``/payment/klarna/authorize``,
Klarna's create_order). The floor is Odoo's ``/shop/payment/transaction/<order>`` with
payment_demo, then its ``/payment/demo/simulate_payment`` (authorized), for reference.
"""

import figures
import shop
from harness import say

SIZES = (1, 10, 100, 1000)
ROUNDS = 5
CARTS = {1: 6, 10: 6, 100: 3, 1000: 1}  # carts per size, route and round
QUICK_SIZES = (1, 10)
QUICK_ROUNDS = 2
QUICK_CARTS = {1: 2, 10: 2}
WARMUP = 8  # checkouts of a 1-line cart per route before measuring (every worker serves)
QUICK_WARMUP = 4

OURS = ("session", "transaction", "prepare", "pay", "authorize")
FLOOR = ("transaction", "place")
LABELS = {
    "session": "ours: open the session",
    "transaction": "ours: Odoo's transaction route (Klarna)",
    "prepare": "ours: prepare (bind the session)",
    "pay": "ours: bind at Pay (transaction + prepare)",
    "authorize": "ours: place the order (authorize)",
    "floor transaction": "floor: Odoo's transaction route (demo)",
    "floor place": "floor: demo simulate_payment (authorized)",
}


def plan(quick):
    """``(sizes, rounds, carts per size and round)``."""
    if quick:
        return QUICK_SIZES, QUICK_ROUNDS, QUICK_CARTS
    return SIZES, ROUNDS, CARTS


def carts_needed(quick):
    sizes, rounds, carts = plan(quick)
    needed = {size: rounds * carts[size] for size in sizes}
    warmup = {1: QUICK_WARMUP if quick else WARMUP}
    return {"checkout": needed, "checkout_floor": needed, "warmup": warmup, "warmup_floor": warmup}


def run(probe, simulator, data, quick):
    """Measure the checkout; returns the section (title, markdown, plot, figures)."""
    sizes, rounds, per_round = plan(quick)
    carts = data["carts"]
    say(f"checkout: warming up ({len(carts['warmup'][1])} checkouts per route)")
    for ours, floor in zip(carts["warmup"][1], carts["warmup_floor"][1], strict=True):
        shop.klarna_checkout(probe, simulator, data, ours)
        shop.demo_checkout(probe, data, floor)
    samples = {}  # (size, step) -> one list of costs per round
    queues = {
        (size, route): iter(carts[name][size])
        for size in sizes
        for route, name in (("ours", "checkout"), ("floor", "checkout_floor"))
    }
    for round_ in range(rounds):
        for size in sizes:
            say(f"checkout: round {round_ + 1}/{rounds}, {size}-line carts")
            for slot in range(per_round[size]):
                for route in figures.rotated(["ours", "floor"], round_ + slot):
                    cart = next(queues[(size, route)])
                    if route == "ours":
                        costs, _reference = shop.klarna_checkout(probe, simulator, data, cart)
                        costs["pay"] = figures.combine(costs["transaction"], costs["prepare"])
                    else:
                        found = shop.demo_checkout(probe, data, cart)
                        costs = {f"floor {step}": cost for step, cost in found.items()}
                    for step, cost in costs.items():
                        rounds_of = samples.setdefault((size, step), [[] for _ in range(rounds)])
                        rounds_of[round_].append(cost)
    return report(sizes, rounds, samples, quick)


def report(sizes, rounds, samples, quick):
    steps = [*OURS, *(f"floor {step}" for step in FLOOR)]
    rows, raw_rows, summaries = [], [], {}
    for size in sizes:
        floor = samples[(size, "floor transaction")]
        for step in steps:
            by_round = samples[(size, step)]
            step_summary = figures.summary([s for r in by_round for s in r])
            summaries[f"{size} {step}"] = step_summary
            versus = "-"
            if not step.startswith("floor"):
                difference = figures.paired_difference(by_round, floor)
                ratio = figures.paired_ratio(by_round, floor)
                step_summary["floor_difference"], step_summary["floor_ratio"] = difference, ratio
                versus = f"{difference:+.1f} ms / {ratio:.2f}x"
            row, raw = figures.step_rows(size, LABELS[step], by_round, step_summary)
            rows.append([*row, versus])
            raw_rows.append(raw)
    markdown = "\n\n".join(
        [
            __doc__.split("\n", 1)[1].strip(),
            f"{rounds} rounds; carts per size and round: "
            f"{', '.join(f'{s} lines: {plan(quick)[2][s]}' for s in sizes)} per route. "
            "Server time = Odoo's own figures from its access line (SQL time + the rest), "
            "minus the time the simulator took to answer Odoo during the request "
            "(`GET /_sim/timing`, shown). Queries = Odoo's count for the request (all its "
            "cursors). CPU = Odoo's processes plus PostgreSQL's, from `/proc`, averaged over "
            "the samples (10 ms ticks). *vs floor* = median over the rounds of (ours' median "
            "- the floor transaction route's median) in the same round, and of their ratio.",
            figures.table(
                [
                    "lines",
                    "step",
                    "samples",
                    "p50 ms",
                    "p99 ms",
                    "queries (min-max)",
                    "SQL ms p50",
                    "CPU ms/request (Odoo + PostgreSQL)",
                    "simulator ms subtracted",
                    "vs floor (paired)",
                ],
                rows,
            ),
            "Raw rounds (each round's median):",
            figures.table(["lines", "step", "server ms per round", "queries per round"], raw_rows),
        ]
    )
    plot_steps = ("session", "pay", "authorize", "floor transaction")
    return {
        "key": "checkout",
        "title": "Checkout (issue 16 §1)",
        "markdown": markdown,
        "plot": {
            "x": list(sizes),
            "time": {LABELS[s]: [summaries[f"{n} {s}"]["p50"] for n in sizes] for s in plot_steps},
            "queries": {
                LABELS[s]: [summaries[f"{n} {s}"]["queries"] for n in sizes] for s in plot_steps
            },
        },
        "figures": summaries,
    }
