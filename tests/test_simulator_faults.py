"""Fault injection, inbound (latency, 5xx, 429, drops) and outbound (lost, duplicate, reordered)."""

import pytest
import requests

from klarna_simulator import Simulator
from klarna_simulator.testing import Receiver, sample_cart

AUTH = ("sim_user", "sim_pass")
SESSIONS = "/payments/v1/sessions"


def create(sim, **headers):
    return requests.post(
        f"{sim.url}{SESSIONS}", json=sample_cart(), auth=AUTH, headers=headers, timeout=5
    )


def test_error_fault_answers_503_without_acting_then_expires(sim):
    sim.faults.add("error", method="POST", path=SESSIONS, count=1)
    failed = create(sim)
    assert failed.status_code == 503
    assert failed.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert sim.state.sessions == {}
    assert create(sim).status_code == 200
    assert sim.faults.rules == []


def test_rate_limit_fault_sends_retry_after(sim):
    sim.faults.add("rate_limit", path="/payments/", retry_after=7, count=2)
    answers = [create(sim) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "7"
    assert answers[0].json()["error_code"] == "TOO_MANY_REQUESTS"


def test_faults_match_method_and_path_prefix(sim):
    sim.faults.add("error", method="GET", path="/ordermanagement/", count=None)
    assert create(sim).status_code == 200
    answer = requests.get(f"{sim.url}/ordermanagement/v1/orders/x", auth=AUTH, timeout=5)
    assert answer.status_code == 503
    assert len(sim.faults.rules) == 1


def test_latency_fault_delays_the_answer(sim):
    sim.faults.add("latency", delay=0.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(f"{sim.url}{SESSIONS}", json=sample_cart(), auth=AUTH, timeout=0.1)
    assert create(sim).status_code == 200


def test_drop_before_closes_the_connection_and_does_nothing(sim):
    sim.faults.add("drop", path=SESSIONS)
    with pytest.raises(requests.exceptions.ConnectionError):
        create(sim)
    assert sim.state.sessions == {}


def test_drop_after_acts_and_a_keyed_retry_gets_the_original_answer(sim):
    session_id = create(sim).json()["session_id"]
    token = sim.authorize(session_id)
    order_id = requests.post(
        f"{sim.url}/payments/v1/authorizations/{token}/order",
        json=sample_cart(),
        auth=AUTH,
        timeout=5,
    ).json()["order_id"]
    path = f"/ordermanagement/v1/orders/{order_id}/captures"
    sim.faults.add("drop", path=path, when="after")
    headers = {"Klarna-Idempotency-Key": "capture-1"}
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(
            f"{sim.url}{path}", json={"captured_amount": 900}, auth=AUTH, headers=headers, timeout=5
        )
    [capture] = sim.state.orders[order_id].captures
    retry = requests.post(
        f"{sim.url}{path}", json={"captured_amount": 900}, auth=AUTH, headers=headers, timeout=5
    )
    assert retry.status_code == 201
    assert retry.headers["Capture-Id"] == capture.capture_id
    assert len(sim.state.orders[order_id].captures) == 1


def test_faults_from_the_control_endpoint_and_control_is_never_faulted(sim):
    rule = {"kind": "error", "path": "/", "count": None, "status": 502}
    answer = requests.post(f"{sim.url}/_sim/faults", json=rule, timeout=5)
    assert answer.status_code == 201
    assert create(sim).status_code == 502
    assert requests.get(f"{sim.url}/_sim/faults", timeout=5).json()[0]["status"] == 502
    assert requests.delete(f"{sim.url}/_sim/faults", timeout=5).status_code == 204
    assert create(sim).status_code == 200
    bad = requests.post(f"{sim.url}/_sim/faults", json={"kind": "meteor"}, timeout=5)
    assert bad.status_code == 400
    assert bad.json()["error_code"] == "BAD_VALUE"


def test_constructor_faults_apply_from_the_start():
    with Simulator(*AUTH, port=0, faults=[{"kind": "error", "count": 1}]) as sim:
        assert create(sim).status_code == 503
        assert create(sim).status_code == 200


def test_lost_authorization_callback_is_recorded_but_never_sent(sim):
    sim.faults.add("lose", target="callback")
    with Receiver() as receiver:
        cart = sample_cart(merchant_urls={"authorization": f"{receiver.url}/cb"})
        session_id = requests.post(f"{sim.url}{SESSIONS}", json=cart, auth=AUTH, timeout=5).json()[
            "session_id"
        ]
        token = sim.authorize(session_id)
        sim.authorize(session_id)
        assert receiver.wait_for(1)
        assert sim.wait_idle()
    [lost, sent] = sim.state.deliveries_of("callback")
    assert (lost.error, lost.body["authorization_token"]) == ("lost", token)
    assert sent.delivered
    assert len(receiver.requests) == 1
    session = requests.get(f"{sim.url}{SESSIONS}/{session_id}", auth=AUTH, timeout=5).json()
    assert session["authorization_token"] == sent.body["authorization_token"]


def _pay_now_order(sim):
    session_id = create(sim).json()["session_id"]
    token = sim.authorize(session_id, "pay_now")
    requests.post(
        f"{sim.url}/payments/v1/authorizations/{token}/order",
        json=sample_cart(),
        auth=AUTH,
        timeout=5,
    )


def test_duplicate_webhook_delivers_the_same_event_twice(sim):
    sim.faults.add("duplicate", target="webhook")
    with Receiver() as receiver:
        sim.configure(webhook_url=f"{receiver.url}/hook")
        _pay_now_order(sim)
        assert receiver.wait_for(3)
        assert sim.wait_idle()
    events = receiver.bodies()
    assert [e["payload"]["payment_status"] for e in events] == ["UNPAID", "UNPAID", "PAID"]
    assert events[0] == events[1]


def test_reordered_webhook_arrives_after_the_next_one(sim):
    sim.faults.add("reorder", target="webhook")
    with Receiver() as receiver:
        sim.configure(webhook_url=f"{receiver.url}/hook")
        _pay_now_order(sim)
        assert receiver.wait_for(2)
        assert sim.wait_idle()
    assert [e["payload"]["payment_status"] for e in receiver.bodies()] == ["PAID", "UNPAID"]
