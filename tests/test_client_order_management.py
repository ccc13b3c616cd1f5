"""Order Management: reading orders, captures, refunds and the other order changes."""

import pytest
import responses
from test_client_common import (
    KEY,
    ORDER_ANSWER,
    ORDER_ID,
    ORDER_LINES,
    ORDERS,
    make_client,
    sent_json,
)

from klarna.errors import KlarnaInputError, KlarnaProtocolError
from klarna.results import Capture, Refund

SHIPPING_INFO = [
    {
        "shipping_company": "DHL",
        "shipping_method": "Home",
        "tracking_number": "TRK-1",
        "tracking_uri": "https://dhl.example/TRK-1",
    }
]


@responses.activate
def test_get_order_returns_typed_amounts_captures_and_refunds():
    responses.get(ORDERS, json=ORDER_ANSWER)
    order = make_client().get_order(ORDER_ID)
    assert (order.order_id, order.status, order.fraud_status) == (
        ORDER_ID,
        "PART_CAPTURED",
        "ACCEPTED",
    )
    assert (
        order.order_amount,
        order.captured_amount,
        order.refunded_amount,
        order.remaining_authorized_amount,
    ) == (10000, 4000, 1000, 6000)
    assert (order.purchase_currency, order.expires_at) == ("SEK", "2025-03-01T10:00:00.000Z")
    assert order.captures == (
        Capture("cap-1", 4000, "2025-02-01T10:00:00.000Z", 1000, "S00042-C1", "First parcel"),
    )
    assert order.refunds == (
        Refund("ref-1", 1000, "2025-02-02T10:00:00.000Z", "RS00042", "Broken lamp"),
    )
    assert order.raw == ORDER_ANSWER


@responses.activate
def test_get_order_without_captures_or_refunds():
    answer = {k: v for k, v in ORDER_ANSWER.items() if k not in ("captures", "refunds")}
    responses.get(ORDERS, json=answer)
    order = make_client().get_order(ORDER_ID)
    assert (order.captures, order.refunds) == ((), ())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("order_amount", 100.5),
        ("captured_amount", "4000"),
        ("refunded_amount", None),
        ("remaining_authorized_amount", True),
        ("order_amount", -5),
        ("status", None),
        ("purchase_currency", 752),
        ("captures", {"capture_id": "cap-1"}),
    ],
)
@responses.activate
def test_get_order_rejects_malformed_answers(field, value):
    responses.get(ORDERS, json={**ORDER_ANSWER, field: value})
    with pytest.raises(KlarnaProtocolError, match=field):
        make_client().get_order(ORDER_ID)


@responses.activate
def test_get_order_rejects_a_capture_with_a_float_amount():
    capture = {**ORDER_ANSWER["captures"][0], "captured_amount": 4000.0}
    responses.get(ORDERS, json={**ORDER_ANSWER, "captures": [capture]})
    with pytest.raises(KlarnaProtocolError, match="captured_amount"):
        make_client().get_order(ORDER_ID)


@responses.activate
def test_full_capture_sends_amount_and_key_and_returns_capture_id():
    responses.post(f"{ORDERS}/captures", status=201, headers={"Capture-Id": "cap-77"})
    assert make_client().capture(ORDER_ID, 10000, idempotency_key=KEY) == "cap-77"
    call = responses.calls[0]
    assert call.request.headers["Klarna-Idempotency-Key"] == KEY
    assert sent_json(call) == {"captured_amount": 10000}


@responses.activate
def test_partial_capture_sends_lines_shipping_info_description_and_reference():
    responses.post(f"{ORDERS}/captures", status=201, headers={"Capture-Id": "cap-78"})
    capture_id = make_client().capture(
        ORDER_ID,
        4000,
        idempotency_key=KEY,
        order_lines=ORDER_LINES,
        shipping_info=SHIPPING_INFO,
        description="First parcel",
        reference="S00042-C1",
    )
    assert capture_id == "cap-78"
    assert sent_json(responses.calls[0]) == {
        "captured_amount": 4000,
        "order_lines": ORDER_LINES,
        "shipping_info": SHIPPING_INFO,
        "description": "First parcel",
        "reference": "S00042-C1",
    }


@responses.activate
def test_capture_answer_without_capture_id_is_a_protocol_error():
    responses.post(f"{ORDERS}/captures", status=201)
    with pytest.raises(KlarnaProtocolError, match="Capture-Id"):
        make_client().capture(ORDER_ID, 4000, idempotency_key=KEY)


@responses.activate
def test_refund_sends_lines_and_description_and_returns_refund_id():
    responses.post(f"{ORDERS}/refunds", status=201, headers={"Refund-Id": "ref-9"})
    refund_id = make_client().refund(
        ORDER_ID,
        1000,
        idempotency_key=KEY,
        order_lines=ORDER_LINES,
        description="Broken lamp",
        reference="RS00042",
    )
    assert refund_id == "ref-9"
    call = responses.calls[0]
    assert call.request.headers["Klarna-Idempotency-Key"] == KEY
    assert sent_json(call) == {
        "refunded_amount": 1000,
        "order_lines": ORDER_LINES,
        "description": "Broken lamp",
        "reference": "RS00042",
    }


@responses.activate
def test_refund_answer_without_refund_id_is_a_protocol_error():
    responses.post(f"{ORDERS}/refunds", status=201, headers={"Refund-Id": "  "})
    with pytest.raises(KlarnaProtocolError, match="Refund-Id"):
        make_client().refund(ORDER_ID, 1000, idempotency_key=KEY)


@pytest.mark.parametrize(
    ("method", "action"),
    [
        ("cancel_order", "cancel"),
        ("release_remaining_authorization", "release-remaining-authorization"),
        ("extend_authorization_time", "extend-authorization-time"),
    ],
)
@responses.activate
def test_bodiless_order_actions_post_with_the_key(method, action):
    responses.post(f"{ORDERS}/{action}", status=204)
    assert getattr(make_client(), method)(ORDER_ID, idempotency_key=KEY) is None
    call = responses.calls[0]
    assert call.request.headers["Klarna-Idempotency-Key"] == KEY
    assert call.request.body is None


def _amount_calls(client, amount):
    return [
        lambda: client.capture(ORDER_ID, amount, idempotency_key=KEY),
        lambda: client.refund(ORDER_ID, amount, idempotency_key=KEY),
    ]


@pytest.mark.parametrize("amount", [0, -100, 10.0, 99.99, "1000", True, None])
@responses.activate
def test_amounts_must_be_positive_integers_and_nothing_is_sent(amount):
    for call in _amount_calls(make_client(), amount):
        with pytest.raises(KlarnaInputError, match="amount"):
            call()
    assert len(responses.calls) == 0


MUTATIONS = {
    "capture": lambda c, **kw: c.capture(ORDER_ID, 100, **kw),
    "refund": lambda c, **kw: c.refund(ORDER_ID, 100, **kw),
    "cancel_order": lambda c, **kw: c.cancel_order(ORDER_ID, **kw),
    "release": lambda c, **kw: c.release_remaining_authorization(ORDER_ID, **kw),
    "extend": lambda c, **kw: c.extend_authorization_time(ORDER_ID, **kw),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_every_order_change_requires_an_idempotency_key(name):
    with pytest.raises(TypeError, match="idempotency_key"):
        MUTATIONS[name](make_client())


@pytest.mark.parametrize("name", MUTATIONS)
@pytest.mark.parametrize("key", [None, "", "has space", "line\nbreak", 42])
@responses.activate
def test_malformed_idempotency_keys_are_refused_before_any_call(name, key):
    with pytest.raises(KlarnaInputError, match="idempotency_key"):
        MUTATIONS[name](make_client(), idempotency_key=key)
    assert len(responses.calls) == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.capture(ORDER_ID, 100, idempotency_key=KEY, order_lines={"a": 1}),
        lambda c: c.capture(ORDER_ID, 100, idempotency_key=KEY, shipping_info=[]),
        lambda c: c.capture(ORDER_ID, 100, idempotency_key=KEY, description=""),
        lambda c: c.refund(ORDER_ID, 100, idempotency_key=KEY, order_lines=["line"]),
        lambda c: c.capture(ORDER_ID, 100, idempotency_key=KEY, order_lines=[]),
        lambda c: c.capture(ORDER_ID, 100, idempotency_key=KEY, shipping_info={"x": 1}),
        lambda c: c.capture(ORDER_ID, 100, idempotency_key=KEY, reference=7),
        lambda c: c.refund(ORDER_ID, 100, idempotency_key=KEY, reference="  "),
        lambda c: c.get_order(""),
        lambda c: c.cancel_order(None, idempotency_key=KEY),
    ],
)
@responses.activate
def test_malformed_arguments_are_refused_before_any_call(call):
    with pytest.raises(KlarnaInputError):
        call(make_client())
    assert len(responses.calls) == 0
