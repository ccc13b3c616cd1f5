"""What the simulator sends: authorization callbacks and signed webhooks, always after answering."""

import hashlib
import hmac
import json
import threading

import pytest
import requests

from klarna_simulator import Simulator
from klarna_simulator.testing import Receiver, sample_cart

AUTH = ("sim_user", "sim_pass")
KEYS = {"old": "retired-secret", "k2": "current-secret"}


def open_session(sim, cart):
    answer = requests.post(f"{sim.url}/payments/v1/sessions", json=cart, auth=AUTH, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()["session_id"]


def place(sim, cart, category):
    token = sim.authorize(open_session(sim, cart), category)
    answer = requests.post(
        f"{sim.url}/payments/v1/authorizations/{token}/order", json=cart, auth=AUTH, timeout=5
    )
    return answer.json()["order_id"]


def test_authorization_callback_is_sent_after_the_approval_answer():
    gate = threading.Event()
    with Receiver(gate=gate) as receiver, Simulator(*AUTH, port=0) as sim:
        cart = sample_cart(merchant_urls={"authorization": f"{receiver.url}/cb/secret-1"})
        session_id = open_session(sim, cart)
        # The receiver holds its answer: a synchronous callback would block this call.
        answer = requests.post(f"{sim.url}/_sim/sessions/{session_id}/authorize", timeout=5)
        assert answer.status_code == 200
        token = answer.json()["authorization_token"]
        gate.set()
        assert receiver.wait_for(1)
        assert sim.wait_idle()
    assert receiver.requests[0]["path"] == "/cb/secret-1"
    assert receiver.bodies() == [{"authorization_token": token, "session_id": session_id}]
    [delivery] = sim.state.deliveries_of("callback")
    assert (delivery.status, delivery.attempt, delivery.delivered) == (200, 1, True)


def test_callback_retries_non_2xx_up_to_three_attempts_in_all():
    with (
        Receiver(statuses=[500, 503, 500, 500]) as receiver,
        Simulator(*AUTH, port=0, retry_delay=0.01) as sim,
    ):
        cart = sample_cart(merchant_urls={"authorization": f"{receiver.url}/cb"})
        sim.authorize(open_session(sim, cart))
        assert sim.wait_idle()
    attempts = sim.state.deliveries_of("callback")
    assert [(d.attempt, d.status) for d in attempts] == [(1, 500), (2, 503), (3, 500)]
    assert len(receiver.requests) == 3


def test_callback_to_an_unreachable_url_is_recorded_as_failed():
    with Simulator(*AUTH, port=0, retry_delay=0.01, max_attempts=2) as sim:
        cart = sample_cart(merchant_urls={"authorization": "http://127.0.0.1:9/cb"})
        sim.authorize(open_session(sim, cart))
        assert sim.wait_idle()
    attempts = sim.state.deliveries_of("callback")
    assert [d.attempt for d in attempts] == [1, 2]
    assert all(d.status is None and d.error for d in attempts)


def verify_payload_signature(request, secrets):
    fields = dict(part.split("=", 1) for part in request["headers"]["Payload-Signature"].split(","))
    expected = hmac.new(secrets[fields["v"]].encode(), request["raw"], hashlib.sha512).hexdigest()
    return hmac.compare_digest(expected, fields["sig"]) and fields["ts"].isdigit()


def verify_klarna_signature(request, secrets):
    key = secrets[request["headers"]["Klarna-Signing-Key-Id"]]
    expected = hmac.new(key.encode(), request["raw"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request["headers"]["Klarna-Signature"])


@pytest.mark.parametrize(
    ("scheme", "verify"),
    [
        ("payload-signature", verify_payload_signature),
        ("klarna-signature", verify_klarna_signature),
    ],
)
def test_pay_now_orders_send_signed_unpaid_then_paid_webhooks(scheme, verify):
    with (
        Receiver() as receiver,
        Simulator(
            *AUTH,
            port=0,
            webhook_url=f"{receiver.url}/hook",
            signing_keys=KEYS,
            webhook_scheme=scheme,
        ) as sim,
    ):
        order_id = place(sim, sample_cart(), "pay_now")
        assert receiver.wait_for(2)
        assert sim.wait_idle()
    events = receiver.bodies()
    assert [e["event_type"] for e in events] == ["non_guaranteed_payment.updated"] * 2
    assert [e["payload"]["payment_status"] for e in events] == ["UNPAID", "PAID"]
    assert all(e["payload"]["order_id"] == order_id for e in events)
    assert "payments" in events[1]["payload"] and "payments" not in events[0]["payload"]
    assert len({e["event_id"] for e in events}) == 2
    assert all(verify(request, KEYS) for request in receiver.requests)
    assert not verify(receiver.requests[0], {"k2": "wrong", "old": "wrong"})
    tampered = {**receiver.requests[0], "raw": receiver.requests[0]["raw"] + b" "}
    assert not verify(tampered, KEYS)
    key_header = (
        receiver.requests[0]["headers"].get("Klarna-Signing-Key-Id")
        or receiver.requests[0]["headers"]["Payload-Signature"].rsplit("v=", 1)[1]
    )
    assert key_header == "k2"


def test_other_categories_send_no_payment_status_webhook():
    with (
        Receiver() as receiver,
        Simulator(*AUTH, port=0, webhook_url=f"{receiver.url}/hook", signing_keys=KEYS) as sim,
    ):
        place(sim, sample_cart(), "pay_later")
        assert sim.wait_idle()
    assert receiver.requests == []
    assert sim.state.events == []


def test_control_endpoints_drive_payment_status_and_any_webhook():
    with (
        Receiver() as receiver,
        Simulator(
            *AUTH,
            port=0,
            webhook_url=f"{receiver.url}/hook",
            signing_keys=KEYS,
            pay_now_auto_paid=False,
        ) as sim,
    ):
        order_id = place(sim, sample_cart(), "pay_now")
        closed = requests.post(
            f"{sim.url}/_sim/orders/{order_id}/payment-status",
            json={"payment_status": "CLOSED"},
            timeout=5,
        )
        assert closed.status_code == 200
        custom = requests.post(
            f"{sim.url}/_sim/webhooks",
            json={"event_type": "payment.dispute.created", "payload": {"dispute_id": "d1"}},
            timeout=5,
        )
        assert custom.json()["event_type"] == "payment.dispute.created"
        assert receiver.wait_for(3)
        assert sim.wait_idle()
        read = requests.get(
            f"{sim.url}/ordermanagement/v1/orders/{order_id}", auth=AUTH, timeout=5
        ).json()
    events = receiver.bodies()
    assert [e["payload"].get("payment_status") for e in events] == ["UNPAID", "CLOSED", None]
    assert events[2]["payload"] == {"dispute_id": "d1"}
    assert events[2]["event_id"] == custom.json()["event_id"]
    assert read["status"] == "CANCELLED"
    assert all(verify_payload_signature(request, KEYS) for request in receiver.requests)


def test_webhook_event_bodies_are_recorded_with_every_attempt():
    with (
        Receiver(statuses=[500]) as receiver,
        Simulator(*AUTH, port=0, webhook_url=f"{receiver.url}/hook", retry_delay=0.01) as sim,
    ):
        event = sim.send_webhook("payment.request.state-change.completed", payload={"x": 1})
        assert sim.wait_idle()
    attempts = sim.state.deliveries_of("webhook")
    assert [(d.attempt, d.status) for d in attempts] == [(1, 500), (2, 200)]
    assert all(d.body == event for d in attempts)
    assert json.loads(receiver.requests[1]["raw"]) == event
    assert "Payload-Signature" not in receiver.requests[0]["headers"]
