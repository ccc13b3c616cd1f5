"""Idempotency keys: derived from the operation, stable, collision-free, resent on retry."""

import uuid

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st
from test_client_common import ORDER_ID, ORDERS, make_client

from klarna.errors import KlarnaInputError
from klarna.idempotency import NAMESPACE, operation_key

references = st.text(min_size=1).filter(str.strip)
operations = st.sampled_from(
    ["capture", "refund", "cancel", "release", "extend", "update_authorization", "place_order"]
)
amounts = st.integers(min_value=0, max_value=10**12)
sequences = st.integers(min_value=0, max_value=1000)
operation_args = st.tuples(references, operations, amounts, sequences)


def test_keys_are_pinned_across_releases():
    # Keys already sent to Klarna must be reproduced after an upgrade or a crash.
    assert operation_key("S00042", "capture", 4000) == "7e2ae900-10b5-5690-bc29-b64f425fc0cd"
    assert operation_key("S00042", "refund", 1000, 1) == "90fa3c69-e592-56ff-b486-edb37283d999"
    assert str(NAMESPACE) == "40459780-6406-4fb8-be26-6cf915a4a2e7"


@given(operation_args)
def test_same_operation_gives_the_same_uuid5_key(args):
    key = operation_key(*args)
    assert key == operation_key(*args)
    parsed = uuid.UUID(key)
    assert parsed.version == 5
    assert str(parsed) == key


@given(operation_args, operation_args)
def test_different_operations_never_share_a_key(first, second):
    if first != second:
        assert operation_key(*first) != operation_key(*second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("S1", "capture", 100), ("S1", "refund", 100)),
        (("S1", "capture", 100), ("S1", "capture", 101)),
        (("S1", "capture", 100), ("S2", "capture", 100)),
        (("S1", "capture", 100, 0), ("S1", "capture", 100, 1)),
        # Naive concatenation would make these two equal.
        (("S1:capture", "x", 1), ("S1", "capture:x", 1)),
        (("S1", "capture1", 0), ("S1", "capture", 10)),
    ],
)
def test_near_miss_operations_get_distinct_keys(first, second):
    assert operation_key(*first) != operation_key(*second)


@pytest.mark.parametrize(
    "args",
    [
        ("", "capture", 100),
        ("  ", "capture", 100),
        (None, "capture", 100),
        ("S1", "", 100),
        ("S1", "capture", -1),
        ("S1", "capture", 1.5),
        ("S1", "capture", True),
        ("S1", "capture", "100"),
        ("S1", "capture", 100, -1),
        ("S1", "capture", 100, False),
    ],
)
def test_bad_arguments_are_refused(args):
    with pytest.raises(KlarnaInputError):
        operation_key(*args)


RETRIED = [
    ("POST", "captures", lambda c, k: c.capture(ORDER_ID, 100, idempotency_key=k)),
    ("POST", "refunds", lambda c, k: c.refund(ORDER_ID, 100, idempotency_key=k)),
    ("POST", "cancel", lambda c, k: c.cancel_order(ORDER_ID, idempotency_key=k)),
    (
        "POST",
        "release-remaining-authorization",
        lambda c, k: c.release_remaining_authorization(ORDER_ID, idempotency_key=k),
    ),
    (
        "POST",
        "extend-authorization-time",
        lambda c, k: c.extend_authorization_time(ORDER_ID, idempotency_key=k),
    ),
]


@pytest.mark.parametrize(("method", "action", "call"), RETRIED, ids=[r[1] for r in RETRIED])
@responses.activate
def test_every_order_change_resends_its_key_on_retry(method, action, call):
    key = operation_key("S00042", action, 100)
    url = f"{ORDERS}/{action}"
    responses.add(method, url, status=503, json={"error_code": "TEMPORARILY_UNAVAILABLE"})
    responses.add(method, url, status=500, json={})
    responses.add(method, url, status=201, headers={"Capture-Id": "cap-2", "Refund-Id": "ref-2"})
    call(make_client(), key)
    assert len(responses.calls) == 3
    assert [c.request.headers["Klarna-Idempotency-Key"] for c in responses.calls] == [key] * 3
