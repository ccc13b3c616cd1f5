"""The simulator's own handling time (``GET /_sim/timing``), which benchmarks subtract."""

import requests

from klarna_simulator.testing import sample_cart

AUTH = ("sim_user", "sim_pass")


def timing(sim):
    return requests.get(f"{sim.url}/_sim/timing", timeout=5).json()


def test_klarna_calls_are_counted_and_control_calls_are_not(sim):
    assert timing(sim) == {"requests": 0, "seconds": 0.0}
    answer = requests.post(
        f"{sim.url}/payments/v1/sessions", json=sample_cart(), auth=AUTH, timeout=5
    )
    assert answer.status_code == 200
    requests.get(f"{sim.url}/_sim/state", timeout=5)
    requests.post(f"{sim.url}/_sim/faults", json={"kind": "error", "path": "/nowhere"}, timeout=5)
    counted = timing(sim)
    assert counted["requests"] == 1
    assert 0 < counted["seconds"] < 5


def test_refused_calls_count_too(sim):
    """A refusal is still time the simulator spent, not the merchant."""
    requests.post(f"{sim.url}/payments/v1/sessions", json={}, auth=AUTH, timeout=5)
    requests.post(f"{sim.url}/payments/v1/sessions", json=sample_cart(), timeout=5)
    assert timing(sim)["requests"] == 2


def test_injected_latency_is_inside_the_simulator(sim):
    sim.faults.add("latency", path="/payments/", delay=0.05)
    requests.post(f"{sim.url}/payments/v1/sessions", json=sample_cart(), auth=AUTH, timeout=5)
    assert timing(sim)["seconds"] >= 0.05


def test_reset_starts_from_zero(sim):
    requests.post(f"{sim.url}/payments/v1/sessions", json=sample_cart(), auth=AUTH, timeout=5)
    requests.post(f"{sim.url}/_sim/reset", timeout=5)
    assert timing(sim) == {"requests": 0, "seconds": 0.0}


def test_timing_answers_only_get(sim):
    assert requests.post(f"{sim.url}/_sim/timing", timeout=5).status_code == 405
