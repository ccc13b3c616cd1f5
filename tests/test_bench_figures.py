"""The bench's pure arithmetic (bench/figures.py) and its reading of Odoo's access line."""

import os
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)

import figures  # noqa: E402 - importable once the path is set
from harness import parse_access_line  # noqa: E402


def cost(server_ms, queries=10, cpu=(1.0, 0.5)):
    return {
        "server_ms": server_ms,
        "queries": queries,
        "query_ms": server_ms / 4,
        "sim_ms": 0.5,
        "cpu_odoo_ms": cpu[0],
        "cpu_pg_ms": cpu[1],
        "wall_ms": server_ms + 1,
    }


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert figures.percentile(values, 50) == 50
    assert figures.percentile(values, 99) == 99
    assert figures.percentile([3, 1, 2], 99) == 3
    assert figures.percentile([7], 1) == 7
    with pytest.raises(ValueError):
        figures.percentile([], 50)


def test_combine_adds_every_figure_and_keeps_unknown_cpu_unknown():
    total = figures.combine(cost(10, 5), cost(20, 7))
    assert total["server_ms"] == 30
    assert total["queries"] == 12
    assert total["cpu_odoo_ms"] == 2.0
    assert figures.combine(cost(1), cost(2, cpu=(None, None)))["cpu_pg_ms"] is None


def test_summary_of_a_step():
    found = figures.summary([cost(10, 8), cost(30, 9), cost(20, 8)])
    assert found["n"] == 3
    assert found["p50"] == 20
    assert found["p99"] == 30
    assert (found["queries"], found["queries_min"], found["queries_max"]) == (8, 8, 9)
    assert found["cpu_odoo"] == 1.0
    assert figures.summary([cost(1, cpu=(None, None))])["cpu_odoo"] is None


def test_paired_figures_take_each_round_apart():
    """A slow second round slows both routes; the ratio stays that of each round."""
    ours = [[cost(12), cost(14)], [cost(26), cost(26)], [cost(13)]]
    floor = [[cost(10)], [cost(20)], [cost(10)]]
    assert figures.round_medians(ours) == [13, 26, 13]
    assert figures.paired_ratio(ours, floor) == 1.3
    assert figures.paired_difference(ours, floor) == 3
    with pytest.raises(ValueError):
        figures.paired_ratio(ours, floor[:2])


def test_rotated_order_of_routes():
    assert figures.rotated(["a", "b", "c"], 0) == ["a", "b", "c"]
    assert figures.rotated(["a", "b", "c"], 4) == ["b", "c", "a"]


def test_cells_and_table():
    step = figures.summary([cost(10, 8), cost(10, 9)])
    assert figures.queries_cell(step) == "8.5 (8-9)"
    assert figures.queries_cell(figures.summary([cost(1, 4)])) == "4"
    assert figures.cpu_cell(step) == "1.5 (1.0 + 0.5)"
    assert figures.table(["a", "b"], [[1, "x"]]) == "| a | b |\n|---|---|\n| 1 | x |"


def test_access_line_with_odoo_figures():
    line = (
        "2026-11-30 10:00:00,123 4242 INFO klarna_bench werkzeug: 127.0.0.1 - - "
        '[30/Nov/2026 10:00:00] "POST /payment/klarna/session HTTP/1.1" 200 - 33 0.012 0.063'
    )
    assert parse_access_line(line) == {
        "method": "POST",
        "path": "/payment/klarna/session",
        "status": 200,
        "queries": 33,
        "query_s": 0.012,
        "other_s": 0.063,
    }


def test_lines_without_odoo_figures_are_not_access_lines():
    assert parse_access_line('werkzeug: 127.0.0.1 "GET /web/health HTTP/1.1" 200 - - - -') is None
    assert parse_access_line("odoo.service.server: HTTP service running") is None


def test_a_step_row_and_its_raw_row():
    summary = {"n": 4, "p50": 12.34, "p99": 20.0, "query_ms": 3.21, "sim_ms": 0.4,
               "queries": 33, "queries_min": 33, "queries_max": 33,
               "cpu_odoo": 10.0, "cpu_pg": 2.5}  # fmt: skip
    by_round = [[{"server_ms": 10.0, "queries": 33}], [{"server_ms": 14.0, "queries": 33}]]
    row, raw = figures.step_rows(10, "ours: open the session", by_round, summary)
    assert row[:5] == [10, "ours: open the session", 4, "12.3", "20.0"]
    assert row[6:] == ["3.2", figures.cpu_cell(summary), "0.4"]
    assert raw == [10, "ours: open the session", "10.0 / 14.0", "33 / 33"]
