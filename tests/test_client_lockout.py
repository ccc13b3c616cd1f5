"""Lockout guard: stop calling Klarna after repeated 401s, before Klarna locks the account."""

import threading
import uuid

import pytest
import responses
from test_client_common import (
    API,
    ORDER_ANSWER,
    ORDER_ID,
    ORDERS,
    PASSWORD,
    USERNAME,
    FakeClock,
    make_client,
)

from klarna.client import KlarnaClient
from klarna.config import KlarnaConfig
from klarna.errors import KlarnaAuthError, KlarnaError
from klarna.lockout import LockoutGuard, credential_fingerprint

UNAUTHORIZED = {"error_code": "UNAUTHORIZED", "error_messages": ["Invalid credentials"]}


def _fail_logins(client, times):
    for _ in range(times):
        with pytest.raises(KlarnaAuthError):
            client.get_order(ORDER_ID)


@responses.activate
def test_three_401s_stop_further_calls_without_http():
    responses.get(ORDERS, status=401, json=UNAUTHORIZED)
    client = make_client()
    _fail_logins(client, 3)
    assert len(responses.calls) == 3
    with pytest.raises(KlarnaAuthError) as caught:
        client.get_order(ORDER_ID)
    error = caught.value
    assert error.locked_out
    assert "check your API credentials" in str(error)
    assert PASSWORD not in str(error)
    assert len(responses.calls) == 3


@responses.activate
def test_the_failure_that_reaches_the_threshold_already_says_locked_out():
    responses.get(ORDERS, status=401, json=UNAUTHORIZED)
    client = make_client()
    _fail_logins(client, 2)
    with pytest.raises(KlarnaAuthError) as caught:
        client.get_order(ORDER_ID)
    assert caught.value.locked_out
    assert caught.value.status == 401


@responses.activate
def test_refusal_covers_every_endpoint_of_the_account():
    responses.get(ORDERS, status=401, json=UNAUTHORIZED)
    client = make_client()
    _fail_logins(client, 3)
    with pytest.raises(KlarnaAuthError):
        client.create_session({"order_amount": 1})
    with pytest.raises(KlarnaAuthError):
        client.cancel_order(ORDER_ID, idempotency_key="k-1")
    assert len(responses.calls) == 3


@responses.activate
def test_a_success_resets_the_count():
    responses.get(ORDERS, status=401, json=UNAUTHORIZED)
    responses.get(ORDERS, status=401, json=UNAUTHORIZED)
    responses.get(ORDERS, json=ORDER_ANSWER)
    responses.get(ORDERS, status=401, json=UNAUTHORIZED)
    responses.get(ORDERS, status=401, json=UNAUTHORIZED)
    responses.get(ORDERS, json=ORDER_ANSWER)
    client = make_client()
    _fail_logins(client, 2)
    client.get_order(ORDER_ID)
    _fail_logins(client, 2)
    assert client.get_order(ORDER_ID).order_id == ORDER_ID
    assert len(responses.calls) == 6


@pytest.mark.parametrize(
    ("status", "resets"), [(400, True), (403, True), (404, True), (429, False), (503, False)]
)
@responses.activate
def test_only_answers_past_authentication_reset_the_count(status, resets):
    responses.get(ORDERS, status=401, json=UNAUTHORIZED)
    responses.get(ORDERS, status=401, json=UNAUTHORIZED)
    responses.get(ORDERS, status=status, json={"error_code": "X"})
    responses.get(ORDERS, status=401, json=UNAUTHORIZED)
    client = make_client(max_retries=0)
    _fail_logins(client, 2)
    with pytest.raises(KlarnaError):
        client.get_order(ORDER_ID)
    with pytest.raises(KlarnaAuthError) as caught:
        client.get_order(ORDER_ID)
    assert caught.value.locked_out is not resets
    assert len(responses.calls) == 4


@responses.activate
def test_a_new_password_lifts_the_lockout():
    clock = FakeClock()
    guard = LockoutGuard(clock=clock)
    responses.get(ORDERS, status=401, json=UNAUTHORIZED)
    _fail_logins(make_client(clock=clock, guard=guard), 3)
    responses.replace(responses.GET, ORDERS, json=ORDER_ANSWER)
    client = make_client(clock=clock, guard=guard, password="N3w-Pa55word!")
    assert client.get_order(ORDER_ID).order_id == ORDER_ID
    assert len(responses.calls) == 4


@responses.activate
def test_the_old_password_stays_refused_while_the_window_lasts():
    clock = FakeClock()
    guard = LockoutGuard(clock=clock)
    responses.get(ORDERS, status=401, json=UNAUTHORIZED)
    _fail_logins(make_client(clock=clock, guard=guard), 3)
    clock.now += 599
    with pytest.raises(KlarnaAuthError) as caught:
        make_client(clock=clock, guard=guard).get_order(ORDER_ID)
    assert caught.value.locked_out
    assert len(responses.calls) == 3


@responses.activate
def test_calls_resume_when_the_window_has_passed():
    clock = FakeClock()
    guard = LockoutGuard(clock=clock)
    responses.get(ORDERS, status=401, json=UNAUTHORIZED)
    client = make_client(clock=clock, guard=guard)
    _fail_logins(client, 3)
    clock.now += 600
    responses.replace(responses.GET, ORDERS, json=ORDER_ANSWER)
    assert client.get_order(ORDER_ID).order_id == ORDER_ID
    assert len(responses.calls) == 4


@responses.activate
def test_failures_spread_wider_than_the_window_do_not_lock():
    clock = FakeClock()
    responses.get(ORDERS, status=401, json=UNAUTHORIZED)
    client = make_client(clock=clock)
    for _ in range(5):
        _fail_logins(client, 1)
        clock.now += 301
    assert len(responses.calls) == 5


@responses.activate
def test_other_accounts_are_not_affected():
    clock = FakeClock()
    guard = LockoutGuard(clock=clock)
    responses.get(ORDERS, status=401, json=UNAUTHORIZED)
    _fail_logins(make_client(clock=clock, guard=guard), 3)
    responses.replace(responses.GET, ORDERS, json=ORDER_ANSWER)
    responses.get(f"https://api.klarna.com/ordermanagement/v1/orders/{ORDER_ID}", json=ORDER_ANSWER)
    make_client(clock=clock, guard=guard, username="PK99999_other").get_order(ORDER_ID)
    make_client(clock=clock, guard=guard, test_mode=False).get_order(ORDER_ID)
    assert len(responses.calls) == 5


@responses.activate
def test_threshold_is_configurable():
    responses.get(ORDERS, status=401, json=UNAUTHORIZED)
    client = make_client(lockout_threshold=1, lockout_window=60.0)
    with pytest.raises(KlarnaAuthError) as caught:
        client.get_order(ORDER_ID)
    assert caught.value.locked_out
    assert "within 1 minutes" in str(caught.value)
    with pytest.raises(KlarnaAuthError):
        client.get_order(ORDER_ID)
    assert len(responses.calls) == 1


@responses.activate
def test_403_does_not_count_towards_the_lockout():
    responses.get(ORDERS, status=403, json={"error_code": "FORBIDDEN"})
    client = make_client()
    _fail_logins(client, 5)
    assert len(responses.calls) == 5


@responses.activate
def test_clients_share_the_process_guard_by_default():
    username = f"PK_{uuid.uuid4().hex}"  # unique, so other tests never see this account
    responses.get(ORDERS, status=401, json=UNAUTHORIZED)
    config = KlarnaConfig(username, PASSWORD)
    for _ in range(3):
        with pytest.raises(KlarnaAuthError):
            KlarnaClient(config, sleep=lambda s: None).get_order(ORDER_ID)
    with pytest.raises(KlarnaAuthError) as caught:
        KlarnaClient(config, sleep=lambda s: None).get_order(ORDER_ID)
    assert caught.value.locked_out
    assert len(responses.calls) == 3


def test_fingerprint_identifies_a_password_without_revealing_it():
    fingerprint = credential_fingerprint(PASSWORD)
    assert fingerprint == credential_fingerprint(PASSWORD)
    assert fingerprint != credential_fingerprint(PASSWORD + "x")
    assert PASSWORD not in fingerprint


def test_guard_counts_every_failure_under_concurrency():
    guard = LockoutGuard(clock=FakeClock())
    account = (API, USERNAME)
    fingerprint = credential_fingerprint(PASSWORD)
    threads, per_thread = 16, 200
    start = threading.Barrier(threads)

    def hammer():
        start.wait()
        for _ in range(per_thread):
            guard.record_failure(account, fingerprint, 10**9, 600.0)
            guard.check(account, fingerprint, 10**9, 600.0)

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    total = threads * per_thread
    assert guard.check(account, fingerprint, total, 600.0)
    assert not guard.check(account, fingerprint, total + 1, 600.0)


@responses.activate
def test_threaded_clients_stop_once_the_account_is_locked():
    responses.get(ORDERS, status=401, json=UNAUTHORIZED)
    guard = LockoutGuard()
    outcomes = []
    lock = threading.Lock()

    def call():
        try:
            make_client(guard=guard).get_order(ORDER_ID)
        except KlarnaAuthError as error:
            with lock:
                outcomes.append(error.locked_out)

    workers = [threading.Thread(target=call) for _ in range(12)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(outcomes) == 12
    with pytest.raises(KlarnaAuthError) as caught:
        make_client(guard=guard).get_order(ORDER_ID)
    assert caught.value.locked_out
    calls = len(responses.calls)
    assert 3 <= calls <= 12
    assert outcomes.count(False) == 2
