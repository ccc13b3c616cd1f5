"""Klarna Payments: sessions, order placement, authorization cancel, customer tokens."""

import pytest
import responses
from responses import matchers
from test_client_common import API, KEY, ORDER_ID, ORDER_PAYLOAD, make_client, sent_json

from klarna.errors import KlarnaInputError, KlarnaProtocolError
from klarna.results import PaymentMethodCategory

SESSION_ANSWER = {
    "session_id": "068df369-13a7-4d47-a564-62f8408bb760",
    "client_token": "eyJhbGciOiJSUzI1NiJ9.client",
    "payment_method_categories": [
        {
            "identifier": "pay_later",
            "name": "Pay later.",
            "asset_urls": {
                "descriptive": "https://x.klarnacdn.net/pay_later/descriptive.svg",
                "standard": "https://x.klarnacdn.net/pay_later/standard.svg",
            },
        },
        {"identifier": "pay_now"},
    ],
}
TOKEN = "b4bd3423-24e3-4e2d-a1ce-2ae5e6a0b5a8"


@responses.activate
def test_create_session_posts_the_payload_and_returns_typed_categories():
    responses.post(f"{API}/payments/v1/sessions", json=SESSION_ANSWER)
    session = make_client().create_session(ORDER_PAYLOAD)
    call = responses.calls[0]
    assert call.request.method == "POST"
    assert call.request.headers["Content-Type"] == "application/json"
    assert sent_json(call) == ORDER_PAYLOAD
    assert "Klarna-Idempotency-Key" not in call.request.headers
    assert session.session_id == SESSION_ANSWER["session_id"]
    assert session.client_token == SESSION_ANSWER["client_token"]
    assert session.payment_method_categories == (
        PaymentMethodCategory(
            "pay_later",
            "Pay later.",
            "https://x.klarnacdn.net/pay_later/descriptive.svg",
            "https://x.klarnacdn.net/pay_later/standard.svg",
        ),
        PaymentMethodCategory("pay_now", None, None, None),
    )
    assert SESSION_ANSWER["client_token"] not in repr(session)


@pytest.mark.parametrize(
    "answer",
    [
        {"client_token": "t"},
        {"session_id": "s"},
        {"session_id": "s", "client_token": 42},
        {"session_id": "s", "client_token": "t", "payment_method_categories": "pay_now"},
        {"session_id": "s", "client_token": "t", "payment_method_categories": [{"name": "x"}]},
        ["s", "t"],
    ],
)
@responses.activate
def test_create_session_rejects_an_incomplete_answer(answer):
    responses.post(f"{API}/payments/v1/sessions", json=answer)
    with pytest.raises(KlarnaProtocolError, match="unexpected answer"):
        make_client().create_session(ORDER_PAYLOAD)


@responses.activate
def test_a_2xx_answer_that_is_not_json_is_a_protocol_error():
    responses.post(f"{API}/payments/v1/sessions", body="<html>maintenance</html>", status=200)
    with pytest.raises(KlarnaProtocolError, match="not a JSON object") as caught:
        make_client().create_session(ORDER_PAYLOAD)
    assert caught.value.status == 200
    assert not caught.value.retryable


@responses.activate
def test_update_session_posts_to_the_session_and_accepts_204():
    responses.post(
        f"{API}/payments/v1/sessions/sess-1",
        status=204,
        match=[matchers.json_params_matcher(ORDER_PAYLOAD)],
    )
    assert make_client().update_session("sess-1", ORDER_PAYLOAD) is None
    assert len(responses.calls) == 1


@responses.activate
def test_read_session_returns_status_and_authorization_token():
    answer = {
        "status": "complete",
        "authorization_token": TOKEN,
        "expires_at": "2025-01-03T10:00:00Z",
        "order_amount": 10000,
        "purchase_currency": "SEK",
        "order_lines": [],
    }
    responses.get(f"{API}/payments/v1/sessions/sess-1", json=answer)
    status = make_client().read_session("sess-1")
    assert (status.session_id, status.status, status.authorization_token) == (
        "sess-1",
        "complete",
        TOKEN,
    )
    assert (status.order_amount, status.purchase_currency) == (10000, "SEK")
    assert status.expires_at == "2025-01-03T10:00:00Z"
    assert status.raw == answer
    assert TOKEN not in repr(status)


@responses.activate
def test_read_session_without_authorization_yet():
    responses.get(f"{API}/payments/v1/sessions/sess-1", json={"status": "incomplete"})
    status = make_client().read_session("sess-1")
    assert status.authorization_token is None
    assert status.order_amount is None


@pytest.mark.parametrize("amount", [100.0, "10000", True, -1])
@responses.activate
def test_read_session_rejects_amounts_that_are_not_integers(amount):
    responses.get(
        f"{API}/payments/v1/sessions/sess-1", json={"status": "complete", "order_amount": amount}
    )
    with pytest.raises(KlarnaProtocolError, match="order_amount"):
        make_client().read_session("sess-1")


@responses.activate
def test_create_order_places_the_order_with_auto_capture():
    responses.post(
        f"{API}/payments/v1/authorizations/{TOKEN}/order",
        json={
            "order_id": ORDER_ID,
            "fraud_status": "ACCEPTED",
            "redirect_url": "https://shop.example/confirm",
            "authorized_payment_method": {"type": "invoice", "number_of_days": 14},
        },
    )
    placed = make_client().create_order(TOKEN, ORDER_PAYLOAD, auto_capture=True)
    call = responses.calls[0]
    assert sent_json(call) == {**ORDER_PAYLOAD, "auto_capture": True}
    assert "Klarna-Idempotency-Key" not in call.request.headers
    assert ORDER_PAYLOAD.get("auto_capture") is None, "the caller's payload is not modified"
    assert placed.order_id == ORDER_ID
    assert placed.fraud_status == "ACCEPTED"
    assert placed.redirect_url == "https://shop.example/confirm"
    assert placed.authorized_payment_method == "invoice"


@responses.activate
def test_create_order_sends_the_idempotency_key_when_given():
    responses.post(
        f"{API}/payments/v1/authorizations/{TOKEN}/order",
        json={"order_id": ORDER_ID, "fraud_status": "PENDING"},
    )
    placed = make_client().create_order(TOKEN, ORDER_PAYLOAD, idempotency_key=KEY)
    assert responses.calls[0].request.headers["Klarna-Idempotency-Key"] == KEY
    assert sent_json(responses.calls[0]) == ORDER_PAYLOAD
    assert (placed.redirect_url, placed.authorized_payment_method) == (None, None)


@pytest.mark.parametrize(
    "answer",
    [
        {"fraud_status": "ACCEPTED"},
        {"order_id": ORDER_ID},
    ],
)
@responses.activate
def test_create_order_rejects_an_incomplete_answer(answer):
    responses.post(f"{API}/payments/v1/authorizations/{TOKEN}/order", json=answer)
    with pytest.raises(KlarnaProtocolError):
        make_client().create_order(TOKEN, ORDER_PAYLOAD)


@responses.activate
def test_create_order_refuses_contradicting_auto_capture_without_calling():
    payload = {**ORDER_PAYLOAD, "auto_capture": False}
    with pytest.raises(KlarnaInputError, match="auto_capture"):
        make_client().create_order(TOKEN, payload, auto_capture=True)
    with pytest.raises(KlarnaInputError, match="auto_capture"):
        make_client().create_order(TOKEN, ORDER_PAYLOAD, auto_capture="yes")
    assert len(responses.calls) == 0


@responses.activate
def test_cancel_authorization_deletes_it():
    responses.delete(f"{API}/payments/v1/authorizations/{TOKEN}", status=204)
    assert make_client().cancel_authorization(TOKEN) is None
    assert responses.calls[0].request.method == "DELETE"


@pytest.mark.parametrize("bad_id", ["", "  ", " sess", None, 42])
@responses.activate
def test_bad_ids_are_refused_before_any_call(bad_id):
    client = make_client()
    for call in (
        lambda: client.update_session(bad_id, ORDER_PAYLOAD),
        lambda: client.read_session(bad_id),
        lambda: client.create_order(bad_id, ORDER_PAYLOAD),
        lambda: client.cancel_authorization(bad_id),
    ):
        with pytest.raises(KlarnaInputError):
            call()
    assert len(responses.calls) == 0


@pytest.mark.parametrize("payload", [None, {}, [ORDER_PAYLOAD], "{}"])
@responses.activate
def test_payloads_must_be_non_empty_dicts(payload):
    client = make_client()
    with pytest.raises(KlarnaInputError, match="payload"):
        client.create_session(payload)
    with pytest.raises(KlarnaInputError, match="payload"):
        client.create_order(TOKEN, payload)
    assert len(responses.calls) == 0


@responses.activate
def test_create_order_refuses_a_malformed_idempotency_key():
    with pytest.raises(KlarnaInputError, match="idempotency_key"):
        make_client().create_order(TOKEN, ORDER_PAYLOAD, idempotency_key="two words")
    assert len(responses.calls) == 0
