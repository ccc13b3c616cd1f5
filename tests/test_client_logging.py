"""Every exchange is logged, and no secret or personal value ever reaches the log."""

import json
import logging

import pytest
import requests
import responses
from test_client_common import API, KEY, ORDER_ANSWER, ORDER_ID, ORDERS, PASSWORD, make_client

from klarna.masking import MASK, mask_headers, mask_path, mask_payload

AUTH_TOKEN = "tok-AUTHZ-7d2f1c9e"
CLIENT_TOKEN = "eyJhbGciOiJSUzI1NiJ9.CLIENT-SECRET"
CUSTOMER_TOKEN = "tok-CUSTOMER-99aa"
CALLBACK_SECRET = "cb-ONE-TIME-5ecret"
ADDRESS = {
    "given_name": "Ingridette",
    "family_name": "Vasquezsson",
    "email": "ingridette.v@example.com",
    "title": "Mx",
    "street_address": "Hemligagatan 13",
    "street_address2": "Lgh 1104",
    "postal_code": "99887",
    "city": "Hemligstad",
    "region": "Uppsalalan",
    "phone": "+46701234567",
    "country": "SE",
}
CUSTOMER = {"date_of_birth": "1970-01-02", "national_identification_number": "197001021234"}
SHIPPING_INFO = [{"shipping_company": "DHL", "tracking_number": "TRK-55667788"}]
PAYLOAD = {
    "purchase_country": "SE",
    "purchase_currency": "SEK",
    "locale": "sv-SE",
    "order_amount": 10000,
    "order_tax_amount": 2000,
    "order_lines": [
        {"type": "physical", "name": "Desk lamp", "quantity": 2, "total_amount": 10000}
    ],
    "billing_address": ADDRESS,
    "shipping_address": ADDRESS,
    "customer": CUSTOMER,
    "merchant_reference2": "ingridette.v@example.com",
    "merchant_urls": {
        "authorization": f"https://shop.example/klarna/authorize/{CALLBACK_SECRET}",
        "confirmation": f"https://shop.example/klarna/confirm/{CALLBACK_SECRET}",
    },
    "password": PASSWORD,
    "authorization_token": AUTH_TOKEN,
}
SECRETS = [
    PASSWORD,
    AUTH_TOKEN,
    CLIENT_TOKEN,
    CUSTOMER_TOKEN,
    CALLBACK_SECRET,
    "TRK-55667788",
    "https://pay.klarna.example/redirect-SECRET",
    *[v for k, v in ADDRESS.items() if k != "country"],
    *CUSTOMER.values(),
]
# A Klarna answer that echoes personal data and tokens, as read calls do.
ECHO = {
    **PAYLOAD,
    "status": "complete",
    "session_id": "sess-1",
    "client_token": CLIENT_TOKEN,
    "token_id": CUSTOMER_TOKEN,
    "redirect_url": "https://pay.klarna.example/redirect-SECRET",
    "order_id": ORDER_ID,
    "fraud_status": "ACCEPTED",
}
ORDER_ECHO = {**ORDER_ANSWER, **{k: ECHO[k] for k in ("billing_address", "shipping_address")}}

# (label, method, url, status, answer, headers, call)
ENDPOINTS = [
    ("create_session", "POST", f"{API}/payments/v1/sessions", 200, ECHO, {},
     lambda c: c.create_session(PAYLOAD)),
    ("update_session", "POST", f"{API}/payments/v1/sessions/sess-1", 204, None, {},
     lambda c: c.update_session("sess-1", PAYLOAD)),
    ("read_session", "GET", f"{API}/payments/v1/sessions/sess-1", 200, ECHO, {},
     lambda c: c.read_session("sess-1")),
    ("create_order", "POST", f"{API}/payments/v1/authorizations/{AUTH_TOKEN}/order", 200, ECHO,
     {}, lambda c: c.create_order(AUTH_TOKEN, PAYLOAD, idempotency_key=KEY)),
    ("cancel_authorization", "DELETE", f"{API}/payments/v1/authorizations/{AUTH_TOKEN}", 204,
     None, {}, lambda c: c.cancel_authorization(AUTH_TOKEN)),
    ("create_hpp_session", "POST", f"{API}/hpp/v1/sessions", 201, ECHO, {},
     lambda c: c.create_hpp_session(PAYLOAD)),
    ("get_order", "GET", ORDERS, 200, ORDER_ECHO, {}, lambda c: c.get_order(ORDER_ID)),
    ("capture", "POST", f"{ORDERS}/captures", 201, None, {"Capture-Id": "cap-1"},
     lambda c: c.capture(ORDER_ID, 100, idempotency_key=KEY, order_lines=PAYLOAD["order_lines"],
                         shipping_info=SHIPPING_INFO)),
    ("refund", "POST", f"{ORDERS}/refunds", 201, None, {"Refund-Id": "ref-1"},
     lambda c: c.refund(ORDER_ID, 100, idempotency_key=KEY, description="Refund")),
    ("cancel_order", "POST", f"{ORDERS}/cancel", 204, None, {},
     lambda c: c.cancel_order(ORDER_ID, idempotency_key=KEY)),
    ("release", "POST", f"{ORDERS}/release-remaining-authorization", 204, None, {},
     lambda c: c.release_remaining_authorization(ORDER_ID, idempotency_key=KEY)),
    ("extend", "POST", f"{ORDERS}/extend-authorization-time", 204, None, {},
     lambda c: c.extend_authorization_time(ORDER_ID, idempotency_key=KEY)),
]  # fmt: skip
IDS = [endpoint[0] for endpoint in ENDPOINTS]


def _assert_clean(caplog):
    text = caplog.text + "".join(str(record.args) for record in caplog.records)
    leaked = [secret for secret in SECRETS if secret in text]
    assert not leaked, f"leaked into logs: {leaked}"


@pytest.mark.parametrize(("label", "method", "url", "status", "answer", "headers", "call"),
                         ENDPOINTS, ids=IDS)  # fmt: skip
@responses.activate
def test_debug_logs_of_every_endpoint_hold_no_secret(
    caplog, label, method, url, status, answer, headers, call
):
    caplog.set_level(logging.DEBUG)
    responses.add(method, url, status=status, json=answer, headers=headers)
    call(make_client())
    _assert_clean(caplog)
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(info) == 1
    assert info[0].startswith(f"Klarna {method} ")
    assert f"-> {status} in " in info[0]
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any('"Authorization": "***"' in message for message in debug)


@pytest.mark.parametrize(("label", "method", "url", "status", "answer", "headers", "call"),
                         ENDPOINTS, ids=IDS)  # fmt: skip
@responses.activate
def test_error_and_retry_logs_of_every_endpoint_hold_no_secret(
    caplog, label, method, url, status, answer, headers, call
):
    caplog.set_level(logging.DEBUG)
    responses.add(method, url, status=503, json={**ECHO, "error_code": "TEMPORARILY_UNAVAILABLE"})
    responses.add(method, url, body=requests.exceptions.ReadTimeout(f"timeout for {url}"))
    responses.add(method, url, status=status, json=answer, headers=headers)
    try:
        call(make_client())
    except Exception as error:  # unkeyed calls are not retried and surface the 503
        assert not any(secret in str(error) for secret in SECRETS)
    _assert_clean(caplog)


@responses.activate
def test_info_line_has_method_masked_path_status_duration_and_correlation_id(caplog):
    caplog.set_level(logging.INFO)
    responses.post(
        f"{API}/payments/v1/authorizations/{AUTH_TOKEN}/order",
        json={"order_id": ORDER_ID, "fraud_status": "ACCEPTED"},
        headers={"Klarna-Correlation-Id": "corr-42"},
    )
    make_client().create_order(AUTH_TOKEN, PAYLOAD)
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    message = record.getMessage()
    assert message.startswith("Klarna POST /payments/v1/authorizations/***/order -> 200 in ")
    assert " ms (correlation id corr-42, attempt 1)" in message
    assert "order_lines" not in caplog.text, "bodies are DEBUG only"


@responses.activate
def test_debug_body_keeps_amounts_and_structure(caplog):
    caplog.set_level(logging.DEBUG)
    responses.post(f"{ORDERS}/captures", status=201, headers={"Capture-Id": "cap-1"})
    make_client().capture(ORDER_ID, 4321, idempotency_key=KEY, shipping_info=SHIPPING_INFO)
    debug = next(r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)
    assert '"captured_amount": 4321' in debug
    assert '"shipping_company": "***"' in debug
    assert f'"Klarna-Idempotency-Key": "{KEY}"' in debug


def test_mask_payload_masks_personal_trees_and_keeps_the_rest():
    masked = mask_payload(PAYLOAD)
    assert masked["order_amount"] == 10000
    assert masked["order_lines"] == PAYLOAD["order_lines"]
    assert masked["billing_address"].keys() == ADDRESS.keys()
    assert set(masked["billing_address"].values()) == {MASK}
    assert masked["merchant_urls"] == {"authorization": MASK, "confirmation": MASK}
    assert masked["merchant_reference2"] == MASK
    assert (masked["password"], masked["authorization_token"]) == (MASK, MASK)
    assert PAYLOAD["billing_address"]["email"] == "ingridette.v@example.com", "input untouched"
    assert not any(secret in json.dumps(masked) for secret in SECRETS)


def test_mask_payload_masks_emails_inside_free_text_and_keeps_nulls():
    masked = mask_payload({"description": "Refund for a@b.se, thanks", "email": None})
    assert masked == {"description": f"Refund for {MASK}, thanks", "email": None}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/payments/v1/authorizations/abc-123/order", "/payments/v1/authorizations/***/order"),
        ("/payments/v1/authorizations/abc-123", "/payments/v1/authorizations/***"),
        ("/customer-token/v1/tokens/tok-1/order", "/customer-token/v1/tokens/***/order"),
        ("/ordermanagement/v1/orders/o-1/captures", "/ordermanagement/v1/orders/o-1/captures"),
    ],
)
def test_mask_path_hides_tokens_and_keeps_ids(path, expected):
    assert mask_path(path) == expected


def test_mask_headers_hides_credentials_only():
    headers = {"Authorization": "Basic c2VjcmV0", "User-Agent": "payment_klarna", "Cookie": "s=1"}
    assert mask_headers(headers) == {
        "Authorization": MASK,
        "User-Agent": "payment_klarna",
        "Cookie": MASK,
    }


def test_error_origin_names_type_sqlstate_and_place_never_the_text():
    from klarna.masking import error_origin

    class DatabaseError(Exception):
        pgcode = "23505"

    try:
        raise DatabaseError("Key (email)=(jane@example.com) already exists")
    except DatabaseError as error:
        origin = error_origin(error)
    assert origin.startswith("DatabaseError (SQLSTATE 23505) at test_client_logging.py:")
    assert "jane" not in origin
    assert error_origin(KeyError("secret")) == "KeyError"
