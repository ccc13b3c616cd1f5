"""Strict where money or identity depends on a field, tolerant of cosmetic ones.

Klarna's answers sometimes carry empty or odd display fields (asset URLs, names,
redirect URLs, descriptions). They must never fail a payment; ids, tokens, amounts
and statuses still must be exactly what the client expects.
"""

import pytest
import responses
from test_client_common import API, ORDER_ID, ORDER_PAYLOAD, make_client

from klarna.errors import KlarnaInputError, KlarnaProtocolError
from klarna.results import PaymentMethodCategory

TOKEN = "b4bd3423-24e3-4e2d-a1ce-2ae5e6a0b5a8"
SESSION = {"session_id": "sess-1", "client_token": "client-token-1"}
ORDER = {
    "order_id": ORDER_ID,
    "status": "AUTHORIZED",
    "order_amount": 1000,
    "captured_amount": 0,
    "refunded_amount": 0,
    "remaining_authorized_amount": 1000,
    "purchase_currency": "EUR",
}


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        (
            {"identifier": "pay_later", "asset_urls": {"descriptive": "", "standard": ""}},
            PaymentMethodCategory("pay_later", None, None, None),
        ),
        (
            {"identifier": "pay_now", "asset_urls": ""},
            PaymentMethodCategory("pay_now", None, None, None),
        ),
        (
            {"identifier": "pay_now", "asset_urls": "x"},
            PaymentMethodCategory("pay_now", None, None, None),
        ),
        (
            {
                "identifier": "pay_now",
                "name": 7,
                "asset_urls": {"standard": ["u"], "descriptive": "https://d"},
            },
            PaymentMethodCategory("pay_now", None, "https://d", None),
        ),
        (
            {"identifier": "pay_now", "name": "  "},
            PaymentMethodCategory("pay_now", None, None, None),
        ),
    ],
)
@responses.activate
def test_cosmetic_session_fields_never_fail_the_payment(category, expected):
    responses.post(
        f"{API}/payments/v1/sessions", json={**SESSION, "payment_method_categories": [category]}
    )
    session = make_client().create_session(ORDER_PAYLOAD)
    assert session.payment_method_categories == (expected,)
    assert (session.session_id, session.client_token) == ("sess-1", "client-token-1")


@pytest.mark.parametrize(
    "answer",
    [
        {**SESSION, "session_id": ""},
        {**SESSION, "client_token": ""},
        {**SESSION, "payment_method_categories": [{"identifier": ""}]},
        {**SESSION, "payment_method_categories": [{"identifier": 3}]},
    ],
)
@responses.activate
def test_identity_fields_of_a_session_stay_strict(answer):
    responses.post(f"{API}/payments/v1/sessions", json=answer)
    with pytest.raises(KlarnaProtocolError):
        make_client().create_session(ORDER_PAYLOAD)


@pytest.mark.parametrize(
    "extra",
    [
        {"redirect_url": ""},
        {"redirect_url": 5},
        {"authorized_payment_method": ""},
        {"authorized_payment_method": "invoice"},
        {"authorized_payment_method": {"type": ""}},
        {"authorized_payment_method": {"type": None}},
    ],
)
@responses.activate
def test_cosmetic_order_placement_fields_are_dropped(extra):
    responses.post(
        f"{API}/payments/v1/authorizations/{TOKEN}/order",
        json={"order_id": ORDER_ID, "fraud_status": "ACCEPTED", **extra},
    )
    placed = make_client().create_order(TOKEN, ORDER_PAYLOAD)
    assert (placed.order_id, placed.fraud_status) == (ORDER_ID, "ACCEPTED")
    assert placed.redirect_url is None
    assert placed.authorized_payment_method is None


@pytest.mark.parametrize(
    "answer",
    [
        {"order_id": "", "fraud_status": "ACCEPTED"},
        {"order_id": ORDER_ID, "fraud_status": ""},
        {"order_id": ORDER_ID},
    ],
)
@responses.activate
def test_order_placement_ids_and_fraud_status_stay_strict(answer):
    responses.post(f"{API}/payments/v1/authorizations/{TOKEN}/order", json=answer)
    with pytest.raises(KlarnaProtocolError):
        make_client().create_order(TOKEN, ORDER_PAYLOAD)


@responses.activate
def test_cosmetic_order_fields_are_tolerated():
    capture = {
        "capture_id": "cap-1",
        "captured_amount": 400,
        "captured_at": "",
        "description": None,
        "reference": "",
    }
    refund = {"refund_id": "ref-1", "refunded_amount": 100, "refunded_at": 3, "description": ""}
    responses.get(
        f"{API}/ordermanagement/v1/orders/{ORDER_ID}",
        json={**ORDER, "captured_amount": 400, "captures": [capture], "refunds": [refund]},
    )
    order = make_client().get_order(ORDER_ID)
    assert (order.captures[0].capture_id, order.captures[0].captured_amount) == ("cap-1", 400)
    assert order.captures[0].captured_at is None
    assert order.captures[0].reference is None
    assert (order.refunds[0].refund_id, order.refunds[0].refunded_amount) == ("ref-1", 100)
    assert order.refunds[0].refunded_at is None
    assert order.refunds[0].description is None


@pytest.mark.parametrize(
    "answer",
    [
        {**ORDER, "order_amount": "1000"},
        {**ORDER, "captured_amount": None},
        {**ORDER, "status": ""},
        {**ORDER, "purchase_currency": ""},
        {**ORDER, "fraud_status": 1},
        {**ORDER, "captures": [{"capture_id": "", "captured_amount": 1}]},
        {**ORDER, "captures": [{"capture_id": "c", "captured_amount": 1.5}]},
        {**ORDER, "captures": [{"capture_id": "c", "captured_amount": 1, "reference": 9}]},
        {**ORDER, "refunds": [{"refund_id": "r", "refunded_amount": True}]},
    ],
)
@responses.activate
def test_money_and_identity_of_an_order_stay_strict(answer):
    responses.get(f"{API}/ordermanagement/v1/orders/{ORDER_ID}", json=answer)
    with pytest.raises(KlarnaProtocolError):
        make_client().get_order(ORDER_ID)


@responses.activate
def test_cosmetic_hosted_page_fields_are_tolerated():
    responses.post(
        f"{API}/hpp/v1/sessions",
        json={
            "session_id": "hpp-1",
            "redirect_url": "https://pay",
            "session_url": "",
            "expires_at": 0,
        },
    )
    hpp = make_client().create_hpp_session({"payment_session_url": "x"})
    assert (hpp.session_id, hpp.redirect_url, hpp.session_url) == ("hpp-1", "https://pay", None)
    assert hpp.expires_at is None


@pytest.mark.parametrize(
    "bad_id",
    ["..", ".", "a/b", "a?b", "a#b", "a\\b", "a%2Fb", "a b", "a\nb", "", "x" * 300, "../order"],
)
@responses.activate
def test_path_segments_never_leave_their_place(bad_id):
    """No dot segment, separator, query, fragment or pre-encoded byte ever reaches a URL."""
    client = make_client()
    calls = (
        lambda: client.read_session(bad_id),
        lambda: client.update_session(bad_id, ORDER_PAYLOAD),
        lambda: client.create_order(bad_id, ORDER_PAYLOAD),
        lambda: client.cancel_authorization(bad_id),
        lambda: client.get_order(bad_id),
        lambda: client.cancel_order(bad_id, idempotency_key="k"),
    )
    for call in calls:
        with pytest.raises(KlarnaInputError):
            call()
    assert not responses.calls


@responses.activate
def test_klarna_shaped_ids_pass():
    for good in (TOKEN, "payment-klarna-connection-check", "K123.abc_D-9", ORDER_ID):
        responses.get(f"{API}/payments/v1/sessions/{good}", json={"status": "complete"})
        assert make_client().read_session(good).session_id == good
