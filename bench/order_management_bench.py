"""Order-management section (issue 16, §2): capture and refund, whole and half the lines.

Each cart is first paid through the widget's steps (not measured), so its transaction is
authorized with a real Klarna order in the simulator. Then, per round and cart size,
interleaved with their order rotated: the whole order captured, then that capture
refunded; and the first half of the lines captured (the sale order lines a delivery
names), then that partial capture refunded. The calls go through the bench-only route
``/klarna_bench/order_management`` (bench/addons/klarna_bench_floor), which runs
``_send_capture_request`` / ``_send_refund_request`` as Odoo's buttons do: Odoo's
capture and refund wizards add screens, not payment work, and cannot name the lines of a
partial capture; a route keeps one measure (Odoo's access line, every cursor's queries,
the operation log's included) for checkout and order management alike. A refund without
a credit note sends Klarna the amount only. A 1-line cart has no half.
"""

import figures
import shop
from harness import say

SIZES = (1, 10, 100, 1000)
ROUNDS = 5
QUICK_SIZES = (1, 10)
QUICK_ROUNDS = 2
KINDS = ("whole", "half")
LABELS = {
    "whole capture": "capture the whole order",
    "whole refund": "refund that capture",
    "half capture": "capture half the lines",
    "half refund": "refund that partial capture",
}


def plan(quick):
    return (QUICK_SIZES, QUICK_ROUNDS) if quick else (SIZES, ROUNDS)


def kinds(size):
    return KINDS if size > 1 else KINDS[:1]


def carts_needed(quick):
    sizes, rounds = plan(quick)
    return {"order_management": {size: rounds * len(kinds(size)) for size in sizes}}


def run(probe, simulator, data, quick):
    sizes, rounds = plan(quick)
    say("order management: paying every cart through the widget's steps (not measured)")
    paid = {
        size: [
            shop.klarna_checkout(probe, simulator, data, cart)[1]
            for cart in data["carts"]["order_management"][size]
        ]
        for size in sizes
    }
    cookie = shop.login()
    samples = {}
    for round_ in range(rounds):
        for size in sizes:
            say(f"order management: round {round_ + 1}/{rounds}, {size}-line carts")
            for kind in figures.rotated(list(kinds(size)), round_):
                reference = paid[size].pop()
                captured, capture = probe.call(
                    shop.ORDER_MANAGEMENT_URL,
                    {
                        "reference": reference,
                        "action": "capture",
                        "lines": size // 2 if kind == "half" else None,
                    },
                    cookie=cookie,
                )
                refunded, refund = probe.call(
                    shop.ORDER_MANAGEMENT_URL,
                    {"reference": captured["reference"], "action": "refund"},
                    cookie=cookie,
                )
                if captured["state"] != "done" or refunded["state"] != "done":
                    raise SystemExit(f"{reference}: capture {captured}, refund {refunded}")
                for step, cost in ((f"{kind} capture", capture), (f"{kind} refund", refund)):
                    rounds_of = samples.setdefault((size, step), [[] for _ in range(rounds)])
                    rounds_of[round_].append(cost)
    return report(sizes, rounds, samples)


def report(sizes, rounds, samples):
    rows, raw_rows, summaries = [], [], {}
    for (size, step), by_round in sorted(samples.items()):
        step_summary = figures.summary([s for r in by_round for s in r])
        summaries[f"{size} {step}"] = step_summary
        row, raw = figures.step_rows(size, LABELS[step], by_round, step_summary)
        rows.append(row)
        raw_rows.append(raw)
    markdown = "\n\n".join(
        [
            __doc__.split("\n", 1)[1].strip(),
            f"{rounds} rounds, one cart per kind, size and round. Time, queries and CPU are "
            "measured as in the checkout section (the simulator's own time subtracted).",
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
                ],
                rows,
            ),
            "Raw rounds (each round's median):",
            figures.table(["lines", "step", "server ms per round", "queries per round"], raw_rows),
        ]
    )
    plot_steps = ("whole capture", "whole refund")
    return {
        "key": "order_management",
        "title": "Order management (issue 16 §2)",
        "markdown": markdown,
        "plot": {
            "x": list(sizes),
            "time": {
                f"ours: {LABELS[s]}": [summaries[f"{n} {s}"]["p50"] for n in sizes]
                for s in plot_steps
            },
            "queries": {
                f"ours: {LABELS[s]}": [summaries[f"{n} {s}"]["queries"] for n in sizes]
                for s in plot_steps
            },
        },
        "figures": summaries,
    }
