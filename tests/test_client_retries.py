"""Retries: only where a repeat cannot do the work twice, with bounded backoff."""

import re

import pytest
import requests
import responses
from test_client_common import (
    API,
    KEY,
    ORDER_ANSWER,
    ORDER_ID,
    ORDER_PAYLOAD,
    ORDERS,
    FakeClock,
    make_client,
)

from klarna.errors import (
    KlarnaAuthError,
    KlarnaConflict,
    KlarnaNotFound,
    KlarnaRateLimited,
    KlarnaUnavailable,
    KlarnaValidationError,
)
from klarna.transport import BACKOFF_BASE, BACKOFF_CAP

UNAVAILABLE = {"error_code": "TEMPORARILY_UNAVAILABLE", "error_messages": ["Try again"]}


@responses.activate
def test_get_is_retried_until_it_succeeds_with_jittered_backoff():
    responses.get(ORDERS, status=503, json=UNAVAILABLE)
    responses.get(ORDERS, status=503, json=UNAVAILABLE)
    responses.get(ORDERS, json=ORDER_ANSWER)
    clock = FakeClock()
    assert make_client(clock=clock).get_order(ORDER_ID).order_id == ORDER_ID
    assert len(responses.calls) == 3
    assert len(clock.sleeps) == 2
    assert 0 <= clock.sleeps[0] <= BACKOFF_BASE
    assert 0 <= clock.sleeps[1] <= 2 * BACKOFF_BASE


@responses.activate
def test_retries_stop_after_max_retries():
    responses.get(ORDERS, status=500, json=UNAVAILABLE)
    clock = FakeClock()
    with pytest.raises(KlarnaUnavailable):
        make_client(clock=clock, max_retries=3).get_order(ORDER_ID)
    assert len(responses.calls) == 4
    assert len(clock.sleeps) == 3
    assert all(0 <= s <= BACKOFF_CAP for s in clock.sleeps)


@responses.activate
def test_max_retries_zero_means_a_single_attempt():
    responses.get(ORDERS, status=503, json=UNAVAILABLE)
    with pytest.raises(KlarnaUnavailable):
        make_client(max_retries=0).get_order(ORDER_ID)
    assert len(responses.calls) == 1


@responses.activate
def test_keyed_post_is_retried_with_the_same_key_on_every_attempt():
    responses.post(f"{ORDERS}/captures", status=503, json=UNAVAILABLE)
    responses.post(f"{ORDERS}/captures", body=requests.exceptions.ReadTimeout("slow"))
    responses.post(f"{ORDERS}/captures", status=201, headers={"Capture-Id": "cap-1"})
    assert make_client().capture(ORDER_ID, 4000, idempotency_key=KEY) == "cap-1"
    assert [c.request.headers["Klarna-Idempotency-Key"] for c in responses.calls] == [KEY] * 3
    assert len({c.request.body for c in responses.calls}) == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.create_session(ORDER_PAYLOAD),
        lambda c: c.update_session("sess-1", ORDER_PAYLOAD),
        lambda c: c.create_order("auth-1", ORDER_PAYLOAD),
        lambda c: c.create_hpp_session(ORDER_PAYLOAD),
        lambda c: c.cancel_authorization("auth-1"),
    ],
)
@responses.activate
def test_calls_without_idempotency_key_are_never_retried(call):
    for method in (responses.POST, responses.DELETE):
        responses.add(method, re.compile(f"{API}/.*"), status=503, json=UNAVAILABLE)
    clock = FakeClock()
    with pytest.raises(KlarnaUnavailable):
        call(make_client(clock=clock))
    assert len(responses.calls) == 1
    assert clock.sleeps == []


@responses.activate
def test_unkeyed_post_is_not_retried_after_a_read_timeout():
    responses.post(f"{API}/payments/v1/sessions", body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(KlarnaUnavailable):
        make_client().create_session(ORDER_PAYLOAD)
    assert len(responses.calls) == 1


@responses.activate
def test_create_order_with_a_key_is_retried():
    url = f"{API}/payments/v1/authorizations/auth-1/order"
    responses.post(url, body=requests.exceptions.ConnectionError("reset"))
    responses.post(url, json={"order_id": ORDER_ID, "fraud_status": "ACCEPTED"})
    placed = make_client().create_order("auth-1", ORDER_PAYLOAD, idempotency_key=KEY)
    assert placed.order_id == ORDER_ID
    assert [c.request.headers["Klarna-Idempotency-Key"] for c in responses.calls] == [KEY, KEY]


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, KlarnaValidationError),
        (401, KlarnaAuthError),
        (403, KlarnaAuthError),
        (404, KlarnaNotFound),
        (409, KlarnaConflict),
    ],
)
@responses.activate
def test_client_errors_are_never_retried(status, cls):
    responses.get(ORDERS, status=status, json={"error_code": "X", "error_messages": ["no"]})
    responses.post(f"{ORDERS}/captures", status=status, json={"error_code": "X"})
    clock = FakeClock()
    client = make_client(clock=clock)
    with pytest.raises(cls):
        client.get_order(ORDER_ID)
    with pytest.raises(cls):
        client.capture(ORDER_ID, 100, idempotency_key=KEY)
    assert len(responses.calls) == 2
    assert clock.sleeps == []


@responses.activate
def test_retry_after_seconds_is_honoured_on_429():
    responses.get(ORDERS, status=429, headers={"Retry-After": "7"}, json={})
    responses.get(ORDERS, json=ORDER_ANSWER)
    clock = FakeClock()
    make_client(clock=clock).get_order(ORDER_ID)
    assert clock.sleeps == [7.0]
    assert len(responses.calls) == 2


@responses.activate
def test_retry_after_in_date_form_falls_back_to_backoff():
    responses.get(
        ORDERS, status=429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, json={}
    )
    responses.get(ORDERS, json=ORDER_ANSWER)
    clock = FakeClock()
    make_client(clock=clock).get_order(ORDER_ID)
    assert len(clock.sleeps) == 1
    assert 0 <= clock.sleeps[0] <= BACKOFF_BASE


@responses.activate
def test_retry_after_beyond_the_budget_gives_up_at_once():
    responses.get(ORDERS, status=429, headers={"Retry-After": "120"}, json={})
    clock = FakeClock()
    with pytest.raises(KlarnaRateLimited) as caught:
        make_client(clock=clock, max_retry_time=30.0).get_order(ORDER_ID)
    assert caught.value.retry_after == 120.0
    assert clock.sleeps == []
    assert len(responses.calls) == 1


@responses.activate
def test_total_retry_time_is_bounded_by_the_config():
    clock = FakeClock()

    def slow_outage(request):
        clock.now += 4.0  # each attempt burns 4 s before failing
        return (503, {}, "{}")

    responses.add_callback(responses.GET, ORDERS, callback=slow_outage)
    with pytest.raises(KlarnaUnavailable):
        make_client(clock=clock, max_retries=10, max_retry_time=10.0).get_order(ORDER_ID)
    # 4 s, +<=0.5, 4 s, +<=1, 4 s: a fourth attempt would start past 10 s.
    assert len(responses.calls) == 3
    assert clock.now - 1000.0 <= 10.0 + 4.0


@responses.activate
def test_zero_retry_budget_disables_retries():
    responses.get(ORDERS, status=503, json=UNAVAILABLE)
    with pytest.raises(KlarnaUnavailable):
        make_client(max_retry_time=0.0).get_order(ORDER_ID)
    assert len(responses.calls) == 1


@responses.activate
def test_timeouts_on_get_are_retried():
    responses.get(ORDERS, body=requests.exceptions.ConnectTimeout("no route"))
    responses.get(ORDERS, body=requests.exceptions.ReadTimeout("slow"))
    responses.get(ORDERS, json=ORDER_ANSWER)
    assert make_client().get_order(ORDER_ID).status == "PART_CAPTURED"
    assert len(responses.calls) == 3
