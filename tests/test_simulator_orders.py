"""Placing orders and Order Management: limits, state rules, idempotency, fraud outcomes."""

import pytest
import requests

from klarna_simulator import Simulator
from klarna_simulator.testing import Receiver, sample_cart

AUTH = ("sim_user", "sim_pass")


@pytest.fixture
def sim():
    with Simulator(*AUTH, port=0, retry_delay=0.01) as simulator:
        yield simulator


def call(sim, method, path, body=None, key=None):
    headers = {"Klarna-Idempotency-Key": key} if key else {}
    return requests.request(
        method, f"{sim.url}{path}", json=body, auth=AUTH, headers=headers, timeout=5
    )


def authorized(sim, cart=None, category=None):
    cart = cart or sample_cart()
    session_id = call(sim, "POST", "/payments/v1/sessions", cart).json()["session_id"]
    return sim.authorize(session_id, category), cart


def place(sim, cart=None, **extra):
    token, cart = authorized(sim, cart)
    answer = call(sim, "POST", f"/payments/v1/authorizations/{token}/order", {**cart, **extra})
    assert answer.status_code == 200, answer.text
    return answer.json()


def om(order_id, action=""):
    return f"/ordermanagement/v1/orders/{order_id}{action}"


def order(sim, order_id):
    return call(sim, "GET", om(order_id)).json()


def assert_error(answer, status, code):
    assert answer.status_code == status, answer.text
    assert answer.json()["error_code"] == code


def test_placed_order_is_authorized_for_28_days(sim):
    placed = place(sim, merchant_reference1="S0001")
    assert placed["fraud_status"] == "ACCEPTED"
    assert placed["redirect_url"].startswith(sim.url)
    read = order(sim, placed["order_id"])
    assert read["status"] == "AUTHORIZED"
    assert read["merchant_reference1"] == "S0001"
    assert (read["order_amount"], read["remaining_authorized_amount"]) == (27900, 27900)
    assert (read["captured_amount"], read["refunded_amount"]) == (0, 0)
    sim.clock.advance(28 * 86400)
    assert order(sim, placed["order_id"])["status"] == "EXPIRED"
    answer = call(sim, "POST", om(placed["order_id"], "/captures"), {"captured_amount": 100})
    assert_error(answer, 403, "CAPTURE_NOT_ALLOWED")


def test_order_must_repeat_the_authorized_cart(sim):
    token, cart = authorized(sim)
    changed = sample_cart()
    changed["order_lines"][0]["reference"] = "OTHER"
    answer = call(sim, "POST", f"/payments/v1/authorizations/{token}/order", changed)
    assert_error(answer, 400, "BAD_VALUE")
    assert "order_lines" in answer.json()["error_messages"][0]
    invalid = {**cart, "order_amount": 1}
    answer = call(sim, "POST", f"/payments/v1/authorizations/{token}/order", invalid)
    assert_error(answer, 400, "BAD_VALUE")
    assert sim.state.orders == {}


def test_authorization_token_places_one_order_and_lives_60_minutes(sim):
    token, cart = authorized(sim)
    path = f"/payments/v1/authorizations/{token}/order"
    assert call(sim, "POST", path, cart).status_code == 200
    assert_error(call(sim, "POST", path, cart), 409, "CONFLICT")
    late, cart = authorized(sim)
    sim.clock.advance(3600)
    assert_error(
        call(sim, "POST", f"/payments/v1/authorizations/{late}/order", cart), 404, "NOT_FOUND"
    )


def test_cancelled_authorization_cannot_place_an_order(sim):
    token, cart = authorized(sim)
    assert call(sim, "DELETE", f"/payments/v1/authorizations/{token}").status_code == 204
    answer = call(sim, "POST", f"/payments/v1/authorizations/{token}/order", cart)
    assert_error(answer, 404, "NOT_FOUND")
    assert_error(call(sim, "DELETE", f"/payments/v1/authorizations/{token}"), 404, "NOT_FOUND")


def test_auto_capture_captures_everything_at_once(sim):
    read = order(sim, place(sim, auto_capture=True)["order_id"])
    assert read["status"] == "CAPTURED"
    assert (read["captured_amount"], read["remaining_authorized_amount"]) == (27900, 0)
    assert len(read["captures"]) == 1


def test_customer_token_needs_a_tokenizing_intent(sim):
    token, _ = authorized(sim)
    body = {"purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE"}
    path = f"/payments/v1/authorizations/{token}/customer-token"
    assert_error(call(sim, "POST", path, body), 400, "BAD_VALUE")
    token, _ = authorized(sim, sample_cart(intent="buy_and_tokenize"))
    path = f"/payments/v1/authorizations/{token}/customer-token"
    answer = call(sim, "POST", path, body)
    assert answer.status_code == 200
    assert answer.json()["token_id"] in sim.state.customer_tokens
    assert_error(call(sim, "POST", path, body), 409, "CONFLICT")


def test_capture_and_refund_limits(sim):
    order_id = place(sim)["order_id"]
    refund = call(sim, "POST", om(order_id, "/refunds"), {"refunded_amount": 100})
    assert_error(refund, 403, "REFUND_NOT_ALLOWED")
    too_much = call(sim, "POST", om(order_id, "/captures"), {"captured_amount": 27901})
    assert_error(too_much, 403, "CAPTURE_NOT_ALLOWED")
    first = call(sim, "POST", om(order_id, "/captures"), {"captured_amount": 10000})
    assert first.status_code == 201
    assert first.headers["Location"].endswith(first.headers["Capture-Id"])
    read = order(sim, order_id)
    assert (read["status"], read["remaining_authorized_amount"]) == ("PART_CAPTURED", 17900)
    over = call(sim, "POST", om(order_id, "/captures"), {"captured_amount": 17901})
    assert_error(over, 403, "CAPTURE_NOT_ALLOWED")
    over_refund = call(sim, "POST", om(order_id, "/refunds"), {"refunded_amount": 10001})
    assert_error(over_refund, 403, "REFUND_NOT_ALLOWED")
    refund = call(sim, "POST", om(order_id, "/refunds"), {"refunded_amount": 4000})
    assert refund.status_code == 201
    assert refund.headers["Refund-Id"] == order(sim, order_id)["refunds"][0]["refund_id"]
    again = call(sim, "POST", om(order_id, "/refunds"), {"refunded_amount": 6001})
    assert_error(again, 403, "REFUND_NOT_ALLOWED")
    assert (
        call(sim, "POST", om(order_id, "/captures"), {"captured_amount": 17900}).status_code == 201
    )
    read = order(sim, order_id)
    assert (read["status"], read["captured_amount"], read["refunded_amount"]) == (
        "CAPTURED",
        27900,
        4000,
    )
    assert (
        call(sim, "POST", om(order_id, "/refunds"), {"refunded_amount": 23900}).status_code == 201
    )
    assert order(sim, order_id)["status"] == "CLOSED"


def test_capture_lines_must_add_up_and_follow_the_line_rules(sim):
    order_id = place(sim)["order_id"]
    lines = sample_cart()["order_lines"][:1]
    wrong_sum = call(
        sim, "POST", om(order_id, "/captures"), {"captured_amount": 100, "order_lines": lines}
    )
    assert_error(wrong_sum, 400, "BAD_VALUE")
    lines[0]["total_tax_amount"] = 1
    bad_line = call(
        sim, "POST", om(order_id, "/captures"), {"captured_amount": 25000, "order_lines": lines}
    )
    assert_error(bad_line, 400, "BAD_VALUE")
    float_amount = call(sim, "POST", om(order_id, "/captures"), {"captured_amount": 100.0})
    assert_error(float_amount, 400, "BAD_VALUE")
    assert order(sim, order_id)["captures"] == []


def test_cancel_only_before_any_capture(sim):
    order_id = place(sim)["order_id"]
    assert call(sim, "POST", om(order_id, "/cancel")).status_code == 204
    assert order(sim, order_id)["status"] == "CANCELLED"
    assert order(sim, order_id)["remaining_authorized_amount"] == 0
    captured = call(sim, "POST", om(order_id, "/captures"), {"captured_amount": 100})
    assert_error(captured, 403, "CAPTURE_NOT_ALLOWED")
    assert_error(call(sim, "POST", om(order_id, "/cancel")), 403, "CANCEL_NOT_ALLOWED")
    other = place(sim)["order_id"]
    call(sim, "POST", om(other, "/captures"), {"captured_amount": 100})
    assert_error(call(sim, "POST", om(other, "/cancel")), 403, "CANCEL_NOT_ALLOWED")


def test_release_only_after_a_partial_capture(sim):
    order_id = place(sim)["order_id"]
    release = om(order_id, "/release-remaining-authorization")
    assert_error(call(sim, "POST", release), 403, "NOT_ALLOWED")
    call(sim, "POST", om(order_id, "/captures"), {"captured_amount": 100})
    assert call(sim, "POST", release).status_code == 204
    read = order(sim, order_id)
    assert (read["status"], read["remaining_authorized_amount"]) == ("CAPTURED", 0)
    assert_error(
        call(sim, "POST", om(order_id, "/captures"), {"captured_amount": 1}),
        403,
        "CAPTURE_NOT_ALLOWED",
    )


def test_extend_pushes_expiry_to_28_days_from_now_within_180_days(sim):
    order_id = place(sim)["order_id"]
    first_expiry = order(sim, order_id)["expires_at"]
    sim.clock.advance(10 * 86400)
    assert call(sim, "POST", om(order_id, "/extend-authorization-time")).status_code == 204
    assert order(sim, order_id)["expires_at"] > first_expiry
    sim.clock.advance(27 * 86400)
    assert order(sim, order_id)["status"] == "AUTHORIZED"
    for _ in range(5):
        call(sim, "POST", om(order_id, "/extend-authorization-time"))
        assert order(sim, order_id)["status"] == "AUTHORIZED"
        sim.clock.advance(27 * 86400)
    assert call(sim, "POST", om(order_id, "/extend-authorization-time")).status_code == 204
    answer = call(sim, "POST", om(order_id, "/extend-authorization-time"))
    assert_error(answer, 403, "NOT_ALLOWED")
    assert "180 days" in answer.json()["error_messages"][0]


def test_update_authorization_lowers_before_capture_only(sim):
    order_id = place(sim)["order_id"]
    path = om(order_id, "/authorization")
    assert_error(call(sim, "PATCH", path, {"order_amount": 30000}), 403, "NOT_ALLOWED")
    lines = sample_cart()["order_lines"][:1]
    assert_error(
        call(sim, "PATCH", path, {"order_amount": 20000, "order_lines": lines}), 400, "BAD_VALUE"
    )
    assert (
        call(sim, "PATCH", path, {"order_amount": 25000, "order_lines": lines}).status_code == 204
    )
    read = order(sim, order_id)
    assert (read["order_amount"], read["original_order_amount"]) == (25000, 27900)
    assert len(read["order_lines"]) == 1
    assert_error(
        call(sim, "POST", om(order_id, "/captures"), {"captured_amount": 25001}),
        403,
        "CAPTURE_NOT_ALLOWED",
    )
    call(sim, "POST", om(order_id, "/captures"), {"captured_amount": 100})
    assert_error(call(sim, "PATCH", path, {"order_amount": 20000}), 403, "NOT_ALLOWED")


def test_merchant_references_and_shipping_info(sim):
    order_id = place(sim)["order_id"]
    refs = om(order_id, "/merchant-references")
    assert call(sim, "PATCH", refs, {"merchant_reference2": "SO042"}).status_code == 204
    assert order(sim, order_id)["merchant_reference2"] == "SO042"
    assert_error(call(sim, "PATCH", refs, {"merchant_reference3": "x"}), 400, "BAD_VALUE")
    capture_id = call(sim, "POST", om(order_id, "/captures"), {"captured_amount": 100}).headers[
        "Capture-Id"
    ]
    info = {"shipping_info": [{"shipping_company": "DHL", "tracking_number": "123"}]}
    shipping = om(order_id, f"/captures/{capture_id}/shipping-info")
    assert call(sim, "POST", shipping, info).status_code == 204
    capture = call(sim, "GET", om(order_id, f"/captures/{capture_id}")).json()
    assert capture["shipping_info"] == info["shipping_info"]
    assert_error(call(sim, "POST", shipping, {"shipping_info": []}), 400, "BAD_VALUE")
    unknown = om(order_id, "/captures/nope/shipping-info")
    assert_error(call(sim, "POST", unknown, info), 404, "NOT_FOUND")


def test_idempotency_key_replays_the_first_answer_without_repeating_it(sim):
    order_id = place(sim)["order_id"]
    body = {"captured_amount": 5000}
    first = call(sim, "POST", om(order_id, "/captures"), body, key="cap-1")
    again = call(sim, "POST", om(order_id, "/captures"), body, key="cap-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.headers["Capture-Id"] == again.headers["Capture-Id"]
    assert order(sim, order_id)["captured_amount"] == 5000
    conflict = call(sim, "POST", om(order_id, "/captures"), {"captured_amount": 6000}, key="cap-1")
    assert conflict.status_code == 409
    assert order(sim, order_id)["captured_amount"] == 5000
    other = call(sim, "POST", om(order_id, "/captures"), body, key="cap-2")
    assert other.headers["Capture-Id"] != first.headers["Capture-Id"]
    assert order(sim, order_id)["captured_amount"] == 10000


def test_magic_emails_choose_the_fraud_outcome(sim):
    pending = place(sim, sample_cart(billing_address={"email": "ann+pending@example.com"}))
    rejected = place(sim, sample_cart(billing_address={"email": "bob+rejected@example.com"}))
    assert pending["fraud_status"] == "PENDING"
    assert rejected["fraud_status"] == "REJECTED"
    assert order(sim, rejected["order_id"])["status"] == "CANCELLED"
    answer = call(sim, "POST", om(pending["order_id"], "/captures"), {"captured_amount": 100})
    assert_error(answer, 403, "CAPTURE_NOT_ALLOWED")


def test_configured_fraud_status_applies_without_magic(sim):
    requests.post(f"{sim.url}/_sim/config", json={"fraud_status": "PENDING"}, timeout=5)
    assert place(sim)["fraud_status"] == "PENDING"


def test_resolving_a_pending_order_notifies_the_merchant_unsigned(sim):
    with Receiver() as receiver:
        cart = sample_cart(
            billing_address={"email": "ann+pending@example.com"},
            merchant_urls={"notification": f"{receiver.url}/notify"},
        )
        accepted = place(sim, cart, auto_capture=True)["order_id"]
        rejected = place(sim, cart)["order_id"]
        assert order(sim, accepted)["captured_amount"] == 0
        answer = requests.post(
            f"{sim.url}/_sim/orders/{accepted}/fraud", json={"decision": "ACCEPTED"}, timeout=5
        )
        assert answer.json()["fraud_status"] == "ACCEPTED"
        sim.resolve_fraud(rejected, "REJECTED")
        assert receiver.wait_for(2)
        assert sim.wait_idle()
    assert receiver.bodies() == [
        {"order_id": accepted, "event_type": "FRAUD_RISK_ACCEPTED"},
        {"order_id": rejected, "event_type": "FRAUD_RISK_REJECTED"},
    ]
    assert all("Payload-Signature" not in r["headers"] for r in receiver.requests)
    assert order(sim, accepted)["status"] == "CAPTURED"
    assert order(sim, rejected)["status"] == "CANCELLED"
    again = requests.post(
        f"{sim.url}/_sim/orders/{rejected}/fraud", json={"decision": "ACCEPTED"}, timeout=5
    )
    assert again.status_code == 400


def test_reset_clears_state(sim):
    place(sim)
    assert requests.post(f"{sim.url}/_sim/reset", timeout=5).status_code == 204
    assert sim.state.orders == {}
    assert requests.get(f"{sim.url}/_sim/state", timeout=5).json()["sessions"] == {}
