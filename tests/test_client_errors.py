"""Klarna error answers and transport failures become the right KlarnaError."""

import pytest
import requests
import responses
from test_client_common import API, KEY, ORDER_ID, ORDERS, PASSWORD, make_client

from klarna import errors
from klarna.errors import (
    KlarnaAuthError,
    KlarnaConflict,
    KlarnaError,
    KlarnaNotFound,
    KlarnaProtocolError,
    KlarnaRateLimited,
    KlarnaUnavailable,
    KlarnaValidationError,
)

CORRELATION = "5f9c8a4e-0e1b-4b1f-9c3a-6e7d8f9a0b1c"

# (status, Klarna error_code, expected class, retryable)
MAPPING = [
    (400, "BAD_VALUE", KlarnaValidationError, False),
    (400, "PAYMENT_METHOD_FAILED", KlarnaValidationError, False),
    (400, "REFUND_NOT_ALLOWED", KlarnaConflict, False),
    (401, "UNAUTHORIZED", KlarnaAuthError, False),
    (403, "FORBIDDEN", KlarnaAuthError, False),
    (403, "CAPTURE_NOT_ALLOWED", KlarnaConflict, False),
    (403, "CANCEL_NOT_ALLOWED", KlarnaConflict, False),
    (403, "READ_ONLY_ORDER", KlarnaConflict, False),
    (403, "NOT_ALLOWED", KlarnaConflict, False),  # e.g. release or extend refused
    (404, "NOT_FOUND", KlarnaNotFound, False),
    (409, "CONFLICT", KlarnaConflict, False),
    (418, "TEAPOT", KlarnaError, False),
    (429, "TOO_MANY_REQUESTS", KlarnaRateLimited, True),
    (500, "INTERNAL_SERVER_ERROR", KlarnaUnavailable, True),
    (503, "TEMPORARILY_UNAVAILABLE", KlarnaUnavailable, True),
]


@pytest.mark.parametrize(("status", "code", "cls", "retryable"), MAPPING)
@responses.activate
def test_klarna_error_answers_map_to_classes(status, code, cls, retryable):
    responses.post(
        f"{ORDERS}/captures",
        status=status,
        json={
            "error_code": code,
            "error_messages": ["First message", "Second message"],
            "correlation_id": CORRELATION,
        },
    )
    with pytest.raises(KlarnaError) as caught:
        make_client(max_retries=0).capture(ORDER_ID, 100, idempotency_key=KEY)
    error = caught.value
    assert type(error) is cls
    assert error.retryable is retryable
    assert (error.status, error.error_code, error.correlation_id) == (status, code, CORRELATION)
    assert error.error_messages == ("First message", "Second message")
    assert f"({code}): " in str(error)
    assert str(error).endswith(f"[correlation id {CORRELATION}]")


@responses.activate
def test_validation_message_reads_well_for_an_admin():
    responses.post(
        f"{API}/payments/v1/sessions",
        status=400,
        json={
            "error_code": "BAD_VALUE",
            "error_messages": ["Bad value: order_lines[0].total_amount"],
            "correlation_id": CORRELATION,
        },
    )
    with pytest.raises(KlarnaValidationError) as caught:
        make_client().create_session({"order_amount": 1})
    assert str(caught.value) == (
        "Klarna rejected the request (BAD_VALUE): Bad value: order_lines[0].total_amount "
        f"[correlation id {CORRELATION}]"
    )


@responses.activate
def test_correlation_id_header_is_preferred_to_the_body():
    responses.get(
        ORDERS,
        status=404,
        json={"error_code": "NOT_FOUND", "correlation_id": "from-body"},
        headers={"Klarna-Correlation-Id": "from-header"},
    )
    with pytest.raises(KlarnaNotFound) as caught:
        make_client().get_order(ORDER_ID)
    assert caught.value.correlation_id == "from-header"


@responses.activate
def test_an_html_gateway_page_still_gives_a_clean_unavailable_error():
    responses.get(ORDERS, status=502, body="<html><h1>502 Bad Gateway</h1></html>")
    with pytest.raises(KlarnaUnavailable) as caught:
        make_client(max_retries=0).get_order(ORDER_ID)
    error = caught.value
    assert (error.status, error.error_code, error.error_messages) == (502, None, ())
    assert str(error) == "Klarna is temporarily unavailable (HTTP 502)"


@responses.activate
def test_401_message_points_to_the_credentials_and_hides_them():
    responses.get(ORDERS, status=401, body="")
    with pytest.raises(KlarnaAuthError) as caught:
        make_client().get_order(ORDER_ID)
    assert "check the API username and password" in str(caught.value)
    assert PASSWORD not in str(caught.value)
    assert caught.value.locked_out is False


@responses.activate
def test_429_keeps_retry_after_seconds():
    responses.get(ORDERS, status=429, headers={"Retry-After": "12"}, json={})
    with pytest.raises(KlarnaRateLimited) as caught:
        make_client(max_retries=0).get_order(ORDER_ID)
    assert caught.value.retry_after == 12.0
    assert "retry after 12 s" in str(caught.value)


@responses.activate
def test_a_redirect_is_a_protocol_error_and_not_followed():
    responses.get(ORDERS, status=302, headers={"Location": "https://elsewhere.example/"})
    with pytest.raises(KlarnaProtocolError) as caught:
        make_client().get_order(ORDER_ID)
    assert caught.value.status == 302
    assert len(responses.calls) == 1


@pytest.mark.parametrize(
    ("exception", "fragment"),
    [
        (requests.exceptions.ConnectTimeout("connect timeout"), "no connection within 5 s"),
        (requests.exceptions.ReadTimeout("read timeout"), "no answer within 20 s"),
        (requests.exceptions.ConnectionError("refused"), "the connection failed"),
        (requests.exceptions.ChunkedEncodingError("cut"), "the connection failed"),
    ],
)
@responses.activate
def test_transport_failures_are_unavailable(exception, fragment):
    token = "auth-token-in-the-path"
    responses.delete(f"{API}/payments/v1/authorizations/{token}", body=exception)
    with pytest.raises(KlarnaUnavailable, match=fragment) as caught:
        make_client().cancel_authorization(token)
    error = caught.value
    assert error.retryable
    assert error.status is None
    assert error.__cause__ is None and error.__suppress_context__, "the URL must not leak"
    assert token not in str(error)


@responses.activate
def test_other_request_failures_are_plain_non_retryable_errors():
    responses.get(ORDERS, body=requests.exceptions.InvalidHeader("bad header"))
    with pytest.raises(KlarnaError, match="InvalidHeader") as caught:
        make_client().get_order(ORDER_ID)
    assert type(caught.value) is KlarnaError
    assert not caught.value.retryable
    assert len(responses.calls) == 1


@responses.activate
def test_not_found_on_an_authorization_does_not_echo_the_token():
    token = "secret-authorization-token"
    responses.delete(
        f"{API}/payments/v1/authorizations/{token}",
        status=404,
        json={"error_code": "NOT_FOUND", "error_messages": ["Authorization not found"]},
    )
    with pytest.raises(KlarnaNotFound) as caught:
        make_client().cancel_authorization(token)
    assert token not in str(caught.value)


def test_hierarchy_lets_callers_catch_one_class():
    for cls in (
        errors.KlarnaConfigError,
        errors.KlarnaInputError,
        KlarnaAuthError,
        KlarnaValidationError,
        KlarnaNotFound,
        KlarnaConflict,
        KlarnaRateLimited,
        KlarnaUnavailable,
        KlarnaProtocolError,
    ):
        assert issubclass(cls, KlarnaError)
    assert issubclass(errors.KlarnaConfigError, ValueError)
    assert issubclass(errors.KlarnaInputError, ValueError)
    assert issubclass(KlarnaRateLimited, KlarnaUnavailable)


@pytest.mark.parametrize("body", [None, [], {"error_code": 5, "error_messages": "x"}])
def test_error_bodies_of_the_wrong_shape_are_ignored(body):
    error = errors.error_from_answer(400, body)
    assert type(error) is KlarnaValidationError
    assert (error.error_code, error.error_messages, error.correlation_id) == (None, (), None)
    assert str(error) == "Klarna rejected the request (HTTP 400)"
