"""Pure arithmetic of the bench's per-request sections (tested in tests/test_bench_figures.py).

A sample is one request's cost, as ``shop.Probe.call`` returns it: ``server_ms``,
``queries``, ``query_ms``, ``sim_ms``, ``cpu_odoo_ms``, ``cpu_pg_ms`` (``None`` without
``/proc``), ``wall_ms``. Rounds are lists of samples taken in one round, in which every
route ran interleaved with the others, so ratios are taken round by round.
"""

import math
import statistics

COST_KEYS = ("server_ms", "queries", "query_ms", "sim_ms", "cpu_odoo_ms", "cpu_pg_ms", "wall_ms")


def percentile(values, q):
    """The nearest-rank ``q``-th percentile (the smallest value with ``q`` % at or below it)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def combine(*costs):
    """The cost of several requests made as one step (e.g. the two requests of *Pay*)."""
    total = {}
    for key in COST_KEYS:
        values = [cost[key] for cost in costs]
        total[key] = None if None in values else sum(values)
    return total


def summary(samples):
    """One step over all its samples: time percentiles, queries, CPU per request."""
    times = [s["server_ms"] for s in samples]
    queries = [s["queries"] for s in samples]
    cpu = [(s["cpu_odoo_ms"], s["cpu_pg_ms"]) for s in samples]
    known = None not in (value for pair in cpu for value in pair)
    return {
        "n": len(samples),
        "p50": statistics.median(times),
        "p99": percentile(times, 99),
        "queries": statistics.median(queries),
        "queries_min": min(queries),
        "queries_max": max(queries),
        "query_ms": statistics.median(s["query_ms"] for s in samples),
        "sim_ms": statistics.median(s["sim_ms"] for s in samples),
        # /proc counts CPU in ticks (10 ms): the mean over many requests is what it can tell.
        "cpu_odoo": statistics.fmean(c[0] for c in cpu) if known else None,
        "cpu_pg": statistics.fmean(c[1] for c in cpu) if known else None,
    }


def round_medians(rounds, key="server_ms"):
    """The median of ``key`` in each round."""
    return [statistics.median(sample[key] for sample in samples) for samples in rounds]


def paired_ratio(ours, floor, key="server_ms"):
    """Median over the rounds of ours' median over the floor's median in the same round."""
    pairs = zip(round_medians(ours, key), round_medians(floor, key), strict=True)
    return statistics.median(a / b for a, b in pairs)


def paired_difference(ours, floor, key="server_ms"):
    """Median over the rounds of ours' median minus the floor's median in the same round."""
    pairs = zip(round_medians(ours, key), round_medians(floor, key), strict=True)
    return statistics.median(a - b for a, b in pairs)


def rotated(items, shift):
    """``items`` starting at ``shift`` (wrapped): the routes' order in one round."""
    shift %= len(items)
    return [*items[shift:], *items[:shift]]


def table(header, rows):
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def cpu_cell(step):
    if step["cpu_odoo"] is None:
        return "n/a"
    return (
        f"{step['cpu_odoo'] + step['cpu_pg']:.1f} ({step['cpu_odoo']:.1f} + {step['cpu_pg']:.1f})"
    )


def queries_cell(step):
    low, high = step["queries_min"], step["queries_max"]
    median = f"{step['queries']:g}"
    return median if low == high else f"{median} ({low}-{high})"


def step_rows(size, label, by_round, step_summary):
    """A step's summary row (lines, step, samples, p50, p99, queries, SQL ms, CPU,
    simulator ms) and its raw row (each round's median time and queries), for RESULTS.md."""
    row = [
        size,
        label,
        step_summary["n"],
        f"{step_summary['p50']:.1f}",
        f"{step_summary['p99']:.1f}",
        queries_cell(step_summary),
        f"{step_summary['query_ms']:.1f}",
        cpu_cell(step_summary),
        f"{step_summary['sim_ms']:.1f}",
    ]
    raw = [
        size,
        label,
        " / ".join(f"{v:.1f}" for v in round_medians(by_round)),
        " / ".join(f"{v:g}" for v in round_medians(by_round, "queries")),
    ]
    return row, raw
