import json
from datetime import datetime, timezone

import pytest

from klarna import events
from klarna.events import (
    AuthorizationCallback,
    EventError,
    LegacyNotification,
    is_legacy_notification,
    minimise_payload,
    parse_authorization_callback,
    parse_event,
    parse_legacy_notification,
)
from klarna.status import Outcome

EVENT_ID = "a48e85ea-0c24-478f-9d8d-89a8a96d137a"
ORDER_ID = "f3392f8b-6116-4073-ab96-e330819e2c07"
SESSION_ID = "0b1d9815-165e-42e2-8867-35bc03789e00"
AUTH_TOKEN = "b4bd3423-24e3-4f8d-a5f3-a0d0e6f4b9b2"

# Every personal value is unique and contains "PII" so a leak is found by value.
DEBTOR = {
    "account_holder_name": "PII Jane Holder",
    "iban": "PII-DE89370400440532013000",
    "account_number": "PII-31926819",
    "bank_code": "PII-601613",
}
PAY_NOW_EVENT = {
    "event_id": EVENT_ID.upper(),
    "event_type": "non_guaranteed_payment.updated",
    "occurred_at": "2023-05-30T10:25:55.000Z",
    "payload": {
        "order_id": ORDER_ID,
        "created_at": "2023-05-30T10:20:00.000Z",
        "purchase_currency": "EUR",
        "order_amount": 10000,
        "payment_status": "PAID",
        "merchant_reference1": "S00042-1",
        "expected_payments": [{"payment_amount": 10000, "debtor": DEBTOR}],
        "payments": [
            {
                "payment_amount": 10000,
                "payment_received_at": "2023-05-30T10:25:00.000Z",
                "debtor": DEBTOR,
            }
        ],
    },
}


def encode(obj):
    return json.dumps(obj).encode()


def error_reason(parser, body, **kwargs):
    with pytest.raises(EventError) as info:
        parser(body, **kwargs)
    assert info.value.reason_code in events.REASON_CODES
    return info.value.reason_code


# The two event shapes


def test_pay_now_event_shape():
    event = parse_event(encode(PAY_NOW_EVENT))
    assert event.event_id == EVENT_ID
    assert event.event_type == "non_guaranteed_payment.updated"
    assert event.occurred_at == datetime(2023, 5, 30, 10, 25, 55, tzinfo=timezone.utc)
    assert event.payload == PAY_NOW_EVENT["payload"]
    assert event.order_id == ORDER_ID
    assert event.session_id is None
    assert event.payment_status == "PAID"
    assert event.merchant_reference1 == "S00042-1"
    assert event.merchant_reference2 is None
    assert event.klarna_reference is None
    assert event.raw == minimise_payload(PAY_NOW_EVENT)


def test_metadata_shape_with_fields_beside_it():
    body = {
        "metadata": {
            "event_id": EVENT_ID,
            "event_type": "payment.request.state-change.completed",
            "occurred_at": "2024-02-01T08:00:00+01:00",
            "merchant_reference2": "from-metadata",
        },
        "order_id": ORDER_ID,
        "session_id": SESSION_ID,
        "klarna_reference": "KLR-123",
    }
    event = parse_event(encode(body))
    assert event.event_id == EVENT_ID
    assert event.event_type == "payment.request.state-change.completed"
    assert event.occurred_at == datetime(2024, 2, 1, 7, 0, tzinfo=timezone.utc)
    assert event.payload == {
        "order_id": ORDER_ID,
        "session_id": SESSION_ID,
        "klarna_reference": "KLR-123",
    }
    assert (event.order_id, event.session_id) == (ORDER_ID, SESSION_ID)
    assert event.klarna_reference == "KLR-123"
    assert event.merchant_reference2 == "from-metadata"


def test_metadata_shape_with_a_payload_object():
    body = {
        "metadata": {"event_id": EVENT_ID, "event_type": "payment.dispute.opened"},
        "payload": {"order_id": ORDER_ID, "merchant_reference1": "in-payload"},
    }
    event = parse_event(encode(body))
    assert event.payload == body["payload"]
    assert event.order_id == ORDER_ID
    assert event.merchant_reference1 == "in-payload"
    assert event.occurred_at is None


def test_payload_value_wins_over_metadata():
    body = {
        "metadata": {"event_id": EVENT_ID, "event_type": "x.y", "merchant_reference1": "meta"},
        "payload": {"merchant_reference1": "payload"},
    }
    assert parse_event(encode(body)).merchant_reference1 == "payload"


def test_event_without_payload_has_an_empty_one():
    event = parse_event(encode({"event_id": EVENT_ID, "event_type": "x.y"}))
    assert event.payload == {}
    assert event.order_id is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-05-30T10:25:55Z", datetime(2023, 5, 30, 10, 25, 55, tzinfo=timezone.utc)),
        ("2023-05-30t10:25:55z", datetime(2023, 5, 30, 10, 25, 55, tzinfo=timezone.utc)),
        ("2023-05-30T10:25:55.1Z", datetime(2023, 5, 30, 10, 25, 55, 100000, tzinfo=timezone.utc)),
        (
            "2023-05-30T10:25:55.123456789Z",
            datetime(2023, 5, 30, 10, 25, 55, 123456, tzinfo=timezone.utc),
        ),
        ("2023-05-30T10:25:55-05:30", datetime(2023, 5, 30, 15, 55, 55, tzinfo=timezone.utc)),
    ],
)
def test_occurred_at_formats(text, expected):
    body = {"event_id": EVENT_ID, "event_type": "x.y", "occurred_at": text}
    occurred_at = parse_event(encode(body)).occurred_at
    assert occurred_at == expected
    assert occurred_at.tzinfo == timezone.utc


def test_webhook_event_repr_hides_the_payload():
    text = repr(parse_event(encode(PAY_NOW_EVENT)))
    assert "PII" not in text
    assert EVENT_ID in text


# Every rejection


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe{}", "not_utf8"),
        (b"{", "malformed_json"),
        (b"", "malformed_json"),
        (b'{"event_id": NaN}', "malformed_json"),
        (b'{"a": Infinity}', "malformed_json"),
        (b'{"event_id": "x", "event_id": "y"}', "malformed_json"),
        (b"[" * 100_000 + b"]" * 100_000, "too_deep"),
        (b"[]", "not_an_object"),
        (b'"text"', "not_an_object"),
        (b"null", "not_an_object"),
        (b'{"event_type": "x.y"}', "missing_event_id"),
        (b"{}", "missing_event_id"),
        (b'{"metadata": {"event_type": "x.y"}}', "missing_event_id"),
        (b'{"metadata": "x", "event_type": "x.y"}', "missing_event_id"),
        (encode({"event_id": "not-a-uuid", "event_type": "x.y"}), "invalid_event_id"),
        (encode({"event_id": 42, "event_type": "x.y"}), "invalid_event_id"),
        (encode({"event_id": "{" + EVENT_ID + "}", "event_type": "x.y"}), "invalid_event_id"),
        (encode({"event_id": "urn:uuid:" + EVENT_ID, "event_type": "x.y"}), "invalid_event_id"),
        (encode({"event_id": EVENT_ID.replace("-", ""), "event_type": "x.y"}), "invalid_event_id"),
        (encode({"event_id": EVENT_ID + "\n", "event_type": "x.y"}), "invalid_event_id"),
        (encode({"event_id": EVENT_ID}), "missing_event_type"),
        (encode({"metadata": {"event_id": EVENT_ID}}), "missing_event_type"),
        (encode({"event_id": EVENT_ID, "event_type": ""}), "invalid_event_type"),
        (encode({"event_id": EVENT_ID, "event_type": 7}), "invalid_event_type"),
        (encode({"event_id": EVENT_ID, "event_type": "a b"}), "invalid_event_type"),
        (
            encode({"event_id": EVENT_ID, "event_type": "x.y\nforged log line"}),
            "invalid_event_type",
        ),
        (encode({"event_id": EVENT_ID, "event_type": "x" * 129}), "invalid_event_type"),
        (encode({"event_id": EVENT_ID, "event_type": "x.y", "payload": []}), "invalid_payload"),
        (
            encode({"metadata": {"event_id": EVENT_ID, "event_type": "x"}, "payload": 1}),
            "invalid_payload",
        ),
    ],
)
def test_event_rejections(body, reason):
    assert error_reason(parse_event, body) == reason


@pytest.mark.parametrize(
    "value",
    [
        "2023-05-30T10:25:55",
        "2023-05-30",
        "2023-13-30T10:25:55Z",
        "2023-02-30T10:25:55Z",
        "2023-05-30T24:00:00Z",
        "2023-05-30T10:25:55+24:00",
        "2023-05-30T10:25:55.Z",
        " 2023-05-30T10:25:55Z",
        1685442355,
    ],
)
def test_invalid_occurred_at(value):
    body = encode({"event_id": EVENT_ID, "event_type": "x.y", "occurred_at": value})
    assert error_reason(parse_event, body) == "invalid_occurred_at"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("order_id", "../../orders"),
        ("order_id", "a/b"),
        ("order_id", ".."),
        ("order_id", 123),
        ("order_id", ""),
        ("order_id", "a" * 129),
        ("session_id", "a b"),
        ("payment_status", 1),
        ("payment_status", "PAID\n"),
        ("merchant_reference1", "x" * 256),
        ("merchant_reference2", "line\nbreak"),
        ("klarna_reference", ""),
    ],
)
def test_invalid_fields(field, value):
    body = encode({"event_id": EVENT_ID, "event_type": "x.y", "payload": {field: value}})
    assert error_reason(parse_event, body) == "invalid_field"


def test_body_size_limit():
    body = encode(PAY_NOW_EVENT)
    assert parse_event(body, max_bytes=len(body)).event_id == EVENT_ID
    assert error_reason(parse_event, body, max_bytes=len(body) - 1) == "body_too_large"
    padded = body[:-1] + b" " * events.DEFAULT_MAX_BYTES + b"}"
    assert error_reason(parse_event, padded) == "body_too_large"


def test_body_must_be_bytes():
    with pytest.raises(TypeError):
        parse_event(json.dumps(PAY_NOW_EVENT))


def test_error_messages_do_not_quote_values():
    secret = "PII-secret-value"
    cases = [
        {"event_id": secret, "event_type": "x.y"},
        {"event_id": EVENT_ID, "event_type": secret + " "},
        {"event_id": EVENT_ID, "event_type": "x.y", "occurred_at": secret},
        {"event_id": EVENT_ID, "event_type": "x.y", "payload": {"order_id": secret + "/"}},
    ]
    for case in cases:
        with pytest.raises(EventError) as info:
            parse_event(encode(case))
        assert secret not in str(info.value)


# Minimisation

PII_VALUES_BODY = {
    "event_id": EVENT_ID,
    "event_type": "order.updated",
    "occurred_at": "2023-05-30T10:25:55Z",
    "payload": {
        "order_id": ORDER_ID,
        "status": "CAPTURED",
        "order_amount": 5000,
        "purchase_currency": "SEK",
        "purchase_country": "SE",
        "authorization_token": "PII-auth-token",
        "client_token": "PII-client-token",
        "customer_token_id": "PII-customer-token-id",
        "token_id": "PII-token-id",
        "customer": {"id": "PII-customer-object-id", "date_of_birth": "PII-1970-01-01"},
        "customer_id": "PII-customer-id",
        "billing_address": {
            "given_name": "PII Given",
            "family_name": "PII Family",
            "email": "pii@example.com",
            "phone": "PII+46700000000",
            "street_address": "PII Street 1",
            "postal_code": "PII-12345",
            "city": "PII City",
            "country": "SE",
        },
        "shipping_address": {"id": "PII-shipping-id", "email": "pii-ship@example.com"},
        "consumer": {"national_identification_number": "PII-190001019876"},
        "email": "pii-top@example.com",
        "phone_number": "PII-phone",
        "ip_address": "PII-203.0.113.9",
        "device_id": "PII-device",
        "organization_registration_id": "PII-orgnr",
        "tax_id": "PII-tax-id",
        "merchant_data": "PII merchant free text",
        "attachment": {"body": "PII attachment"},
        "nickname": "PII-nick",
        "order_lines": [
            {
                "type": "physical",
                "reference": "SKU-1",
                "name": "PII product name",
                "quantity": 2,
                "tax_rate": 2500,
                "total_amount": 5000,
                "total_tax_amount": 1000,
            }
        ],
        "expected_payments": [{"payment_amount": 5000, "debtor": DEBTOR}],
        "payments": [{"payment_amount": 5000, "payment_received_at": "x", "debtor": DEBTOR}],
    },
}


def all_strings(obj):
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield key
            yield from all_strings(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from all_strings(item)
    elif isinstance(obj, str):
        yield obj


def test_minimisation_removes_every_personal_value():
    minimised = minimise_payload(PII_VALUES_BODY)
    assert [text for text in all_strings(minimised) if "PII" in text or "pii" in text] == []


def test_minimisation_keeps_ids_amounts_statuses_types_and_times():
    assert minimise_payload(PII_VALUES_BODY) == {
        "event_id": EVENT_ID,
        "event_type": "order.updated",
        "occurred_at": "2023-05-30T10:25:55Z",
        "payload": {
            "order_id": ORDER_ID,
            "status": "CAPTURED",
            "order_amount": 5000,
            "purchase_currency": "SEK",
            "purchase_country": "SE",
            "order_lines": [
                {
                    "type": "physical",
                    "reference": "SKU-1",
                    "quantity": 2,
                    "tax_rate": 2500,
                    "total_amount": 5000,
                    "total_tax_amount": 1000,
                }
            ],
            "expected_payments": [{"payment_amount": 5000}],
            "payments": [{"payment_amount": 5000, "payment_received_at": "x"}],
        },
    }


def test_pay_now_event_minimised_has_no_debtor_data():
    raw = parse_event(encode(PAY_NOW_EVENT)).raw
    assert [text for text in all_strings(raw) if "PII" in text] == []
    assert raw["payload"]["payment_status"] == "PAID"
    assert raw["payload"]["payments"] == [
        {"payment_amount": 10000, "payment_received_at": "2023-05-30T10:25:00.000Z"}
    ]


def test_minimisation_keeps_scalar_lists_under_id_keys_only():
    assert minimise_payload({"capture_ids": ["c1", "c2"], "emails": ["PII"], "tags": ["x"]}) == {
        "capture_ids": ["c1", "c2"]
    }


def test_minimisation_does_not_touch_its_input():
    before = json.dumps(PII_VALUES_BODY, sort_keys=True)
    minimise_payload(PII_VALUES_BODY)
    assert json.dumps(PII_VALUES_BODY, sort_keys=True) == before


def test_minimise_needs_an_object():
    with pytest.raises(TypeError):
        minimise_payload([PII_VALUES_BODY])


# Legacy Order Management notifications


@pytest.mark.parametrize(
    "event_type", ["FRAUD_RISK_ACCEPTED", "FRAUD_RISK_REJECTED", "FRAUD_RISK_STOPPED"]
)
def test_legacy_notification(event_type):
    body = encode({"order_id": ORDER_ID, "event_type": event_type})
    assert parse_legacy_notification(body) == LegacyNotification(ORDER_ID, event_type)


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"order_id": ORDER_ID, "event_type": "FRAUD_RISK_ACCEPTED"}, True),
        ({"order_id": ORDER_ID, "event_type": "FRAUD_RISK_STOPPED", "extra": 1}, True),
        ({"order_id": ORDER_ID, "event_type": "FRAUD_RISK_UNKNOWN"}, False),
        ({"order_id": ORDER_ID, "event_type": "fraud_risk_accepted"}, False),
        ({"order_id": ORDER_ID, "event_type": ["FRAUD_RISK_ACCEPTED"]}, False),
        ({"event_type": "FRAUD_RISK_ACCEPTED"}, False),
        ({"order_id": ORDER_ID, "event_type": "FRAUD_RISK_ACCEPTED", "event_id": EVENT_ID}, False),
        ({"order_id": ORDER_ID, "event_type": "FRAUD_RISK_ACCEPTED", "metadata": {}}, False),
        (PAY_NOW_EVENT, False),
        ([ORDER_ID, "FRAUD_RISK_ACCEPTED"], False),
        (None, False),
    ],
)
def test_is_legacy_notification(obj, expected):
    assert is_legacy_notification(obj) is expected


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (encode(PAY_NOW_EVENT), "not_legacy_notification"),
        (encode({"order_id": ORDER_ID, "event_type": "ORDER_CREATED"}), "not_legacy_notification"),
        (encode({"event_type": "FRAUD_RISK_ACCEPTED"}), "not_legacy_notification"),
        (encode({"order_id": "../captures", "event_type": "FRAUD_RISK_ACCEPTED"}), "invalid_field"),
        (encode({"order_id": 5, "event_type": "FRAUD_RISK_ACCEPTED"}), "invalid_field"),
        (encode({"order_id": None, "event_type": "FRAUD_RISK_ACCEPTED"}), "invalid_field"),
        (b"[]", "not_an_object"),
        (b"order_id=x", "malformed_json"),
        (b"{}" + b" " * 16 * 1024, "body_too_large"),
    ],
)
def test_legacy_notification_rejections(body, reason):
    assert error_reason(parse_legacy_notification, body) == reason


# Authorization callback


def test_authorization_callback():
    body = encode({"authorization_token": AUTH_TOKEN, "session_id": SESSION_ID, "new_field": 1})
    assert parse_authorization_callback(body) == AuthorizationCallback(AUTH_TOKEN, SESSION_ID)


def test_authorization_callback_token_must_be_a_klarna_token():
    """Only Klarna's UUID shape passes, even where every character is URL-unreserved."""
    token = "A" + "a._~-9" * 42 + "z"  # 254 URL-unreserved characters, not a UUID
    body = encode({"authorization_token": token, "session_id": SESSION_ID})
    with pytest.raises(EventError) as caught:
        parse_authorization_callback(body)
    assert caught.value.reason_code == "invalid_field"
    upper = AUTH_TOKEN.upper()
    body = encode({"authorization_token": upper, "session_id": SESSION_ID})
    assert parse_authorization_callback(body).authorization_token == upper


def test_authorization_callback_repr_hides_the_token():
    callback = parse_authorization_callback(
        encode({"authorization_token": AUTH_TOKEN, "session_id": SESSION_ID})
    )
    assert AUTH_TOKEN not in repr(callback)
    assert SESSION_ID in repr(callback)


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ({"session_id": SESSION_ID}, "missing_field"),
        ({"authorization_token": "", "session_id": SESSION_ID}, "missing_field"),
        ({"authorization_token": None, "session_id": SESSION_ID}, "missing_field"),
        ({"authorization_token": AUTH_TOKEN}, "missing_field"),
        ({"authorization_token": AUTH_TOKEN, "session_id": ""}, "missing_field"),
        ({"authorization_token": 12, "session_id": SESSION_ID}, "invalid_field"),
        ({"authorization_token": [AUTH_TOKEN], "session_id": SESSION_ID}, "invalid_field"),
        ({"authorization_token": "a/b", "session_id": SESSION_ID}, "invalid_field"),
        ({"authorization_token": "..", "session_id": SESSION_ID}, "invalid_field"),
        ({"authorization_token": " " + AUTH_TOKEN, "session_id": SESSION_ID}, "invalid_field"),
        ({"authorization_token": "a" * 257, "session_id": SESSION_ID}, "invalid_field"),
        ({"authorization_token": AUTH_TOKEN, "session_id": "a.b"}, "invalid_field"),
        ({"authorization_token": AUTH_TOKEN, "session_id": "a" * 129}, "invalid_field"),
        ({"authorization_token": AUTH_TOKEN, "session_id": 7}, "invalid_field"),
    ],
)
def test_authorization_callback_field_rejections(obj, reason):
    assert error_reason(parse_authorization_callback, encode(obj)) == reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "malformed_json"),
        (b"authorization_token=x&session_id=y", "malformed_json"),
        (b"\xc3\x28", "not_utf8"),
        (encode([AUTH_TOKEN, SESSION_ID]), "not_an_object"),
        (b"{}" + b" " * 16 * 1024, "body_too_large"),
    ],
)
def test_authorization_callback_body_rejections(body, reason):
    assert error_reason(parse_authorization_callback, body) == reason


def nested(depth, leaf=b"1"):
    """A body whose payload nests ``depth`` containers deep (arrays and objects mixed)."""
    opening = b"".join(b"[" if level % 2 else b'{"a":' for level in range(depth))
    closing = b"".join(b"]" if level % 2 else b"}" for level in reversed(range(depth)))
    envelope = encode({"event_id": EVENT_ID, "event_type": "x.y", "payload": {"deep": "here"}})
    return envelope.replace(b'"here"', opening + leaf + closing)


@pytest.mark.parametrize("depth", [events.MAX_DEPTH, 600, 5_000, 200_000])
def test_deep_nesting_is_refused_without_recursion_error(depth):
    # The C parser survives a few hundred levels that a recursive walk would not.
    assert error_reason(parse_event, nested(depth), max_bytes=1_000_000) == events.TOO_DEEP


def test_nesting_up_to_the_bound_is_accepted():
    # The envelope and the payload are two levels; the payload's ``deep`` value adds the rest.
    event = parse_event(nested(events.MAX_DEPTH - 2))
    assert event.event_id == EVENT_ID


@pytest.mark.parametrize(
    "parser", [parse_event, parse_legacy_notification, parse_authorization_callback]
)
def test_every_parser_bounds_nesting(parser):
    assert error_reason(parser, nested(600)) == events.TOO_DEEP


# What an event asks of the Odoo layer

Kind = events.EventKind


@pytest.mark.parametrize(
    ("event_type", "kind"),
    [
        ("non_guaranteed_payment.updated", Kind.PAYMENT_STATUS),
        ("FRAUD_RISK_ACCEPTED", Kind.FRAUD_NOTIFICATION),
        ("FRAUD_RISK_REJECTED", Kind.FRAUD_NOTIFICATION),
        ("FRAUD_RISK_STOPPED", Kind.FRAUD_NOTIFICATION),
        ("payment.request.state-change.completed", Kind.PAYMENT_REQUEST),
        ("payment.request.state-change.EXPIRED", Kind.PAYMENT_REQUEST),
        ("payment.dispute.created", Kind.DISPUTE),
        ("order.captured", Kind.ORDER_CHANGE),
        ("order.refund.created", Kind.ORDER_CHANGE),
        ("order.cancelled", Kind.ORDER_CHANGE),
    ],
)
def test_classify_every_kind(event_type, kind):
    assert events.classify(event_type) is kind


@pytest.mark.parametrize(
    "event_type",
    [
        "ORDER.CAPTURED",
        "Order_Captured",
        "order:capture",
        "order-refunded",
        "order.Canceled",
        "order_cancel_requested",
        "capture",
        "settlement.refund",
    ],
)
def test_order_change_words_in_any_case_between_any_separator(event_type):
    assert events.classify(event_type) is Kind.ORDER_CHANGE


@pytest.mark.parametrize(
    "event_type",
    [
        "merchant.settings.updated",
        "order.created",
        "order.recaptured",  # a word containing "capture" is not the word
        "order.captures.listed",
        "ordercaptured",
        # Exact types and prefixes are case-sensitive, as Klarna sends them.
        "NON_GUARANTEED_PAYMENT.UPDATED",
        "non_guaranteed_payment.created",
        "fraud_risk_accepted",
        "FRAUD_RISK_UNKNOWN",
        "payment.request.created",
        "PAYMENT.DISPUTE.created",
        "payment.disputes.created",
    ],
)
def test_classify_unknown_types(event_type):
    assert events.classify(event_type) is None


@pytest.mark.parametrize(
    ("event_type", "kind"),
    [
        # An order-change word inside a type with its own handler does not make it one.
        ("payment.request.state-change.canceled", Kind.PAYMENT_REQUEST),
        ("payment.request.state-change.cancelled", Kind.PAYMENT_REQUEST),
        ("payment.dispute.refund-requested", Kind.DISPUTE),
        ("payment.dispute.cancelled", Kind.DISPUTE),
    ],
)
def test_exact_types_and_prefixes_come_before_words(event_type, kind):
    assert events.classify(event_type) is kind


@pytest.mark.parametrize(
    ("event_type", "state", "outcome"),
    [
        ("payment.request.state-change.expired", "expired", Outcome.CANCELED),
        ("payment.request.state-change.canceled", "canceled", Outcome.CANCELED),
        ("payment.request.state-change.CANCELLED", "cancelled", Outcome.CANCELED),
        ("payment.request.state-change.declined", "declined", Outcome.ERROR),
        ("payment.request.state-change.completed", "completed", None),
        ("payment.request.state-change.IN_PROGRESS", "in_progress", None),
    ],
)
def test_payment_request_state_and_outcome(event_type, state, outcome):
    assert events.payment_request_state(event_type) == state
    assert events.outcome_for_payment_request(state) is outcome
