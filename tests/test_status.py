import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from klarna import status
from klarna.status import (
    RANK,
    Outcome,
    UnknownStatusError,
    is_conflict,
    is_forward,
    klarna_wins,
    outcome_for_order,
    outcome_for_payment_status,
    outcome_for_placement,
)

P, A, D, C, E = (Outcome.PENDING, Outcome.AUTHORIZED, Outcome.DONE, Outcome.CANCELED, Outcome.ERROR)
UNKNOWN = ["", "accepted", "Paid", " PAID", "UNKNOWN", None, 1, ["PAID"], {"PAID": 1}]


def test_outcomes_are_odoo_state_names():
    assert {o.value for o in Outcome} == {"pending", "authorized", "done", "cancel", "error"}
    assert Outcome("cancel") is C


# Placement: POST /payments/v1/authorizations/{token}/order

PLACEMENT = {
    # (fraud_status, auto_capture, guaranteed): outcome
    ("ACCEPTED", False, True): A,
    ("ACCEPTED", True, True): D,
    ("ACCEPTED", False, False): P,
    ("ACCEPTED", True, False): P,
    ("PENDING", False, True): P,
    ("PENDING", True, True): P,
    ("PENDING", False, False): P,
    ("PENDING", True, False): P,
    ("REJECTED", False, True): E,
    ("REJECTED", True, True): E,
    ("REJECTED", False, False): E,
    ("REJECTED", True, False): E,
}


def test_placement_table_covers_every_known_fraud_status():
    assert {key[0] for key in PLACEMENT} == status.FRAUD_STATUSES


@pytest.mark.parametrize(("key", "expected"), PLACEMENT.items())
def test_placement(key, expected):
    fraud_status, auto_capture, guaranteed = key
    assert outcome_for_placement(fraud_status, auto_capture, guaranteed=guaranteed) is expected


def test_placement_is_guaranteed_by_default():
    assert outcome_for_placement("ACCEPTED", True) is D


@pytest.mark.parametrize("value", UNKNOWN)
def test_placement_unknown_fraud_status(value):
    with pytest.raises(UnknownStatusError, match="fraud_status"):
        outcome_for_placement(value, False)


@pytest.mark.parametrize("flag", [None, 1, "true"])
def test_placement_flags_must_be_bools(flag):
    with pytest.raises(TypeError):
        outcome_for_placement("ACCEPTED", flag)
    with pytest.raises(TypeError):
        outcome_for_placement("ACCEPTED", False, guaranteed=flag)


# Order Management order

ORDER = {
    # (status, captured_amount > 0): outcome when fraud_status is ACCEPTED
    ("AUTHORIZED", False): A,
    ("AUTHORIZED", True): A,
    ("PART_CAPTURED", False): A,
    ("PART_CAPTURED", True): A,
    ("CAPTURED", False): D,
    ("CAPTURED", True): D,
    ("CANCELLED", False): C,
    ("CANCELLED", True): D,
    ("EXPIRED", False): C,
    ("EXPIRED", True): D,
    ("CLOSED", False): C,
    ("CLOSED", True): D,
}


def test_order_table_covers_every_known_status():
    assert {key[0] for key in ORDER} == status.ORDER_STATUSES


@pytest.mark.parametrize(("key", "expected"), ORDER.items())
def test_order_with_accepted_fraud_status(key, expected):
    order_status, captured = key
    assert outcome_for_order(order_status, "ACCEPTED", 2500 if captured else 0) is expected


@pytest.mark.parametrize("order_status", sorted(status.ORDER_STATUSES))
def test_order_fraud_decision_wins_over_status(order_status):
    assert outcome_for_order(order_status, "PENDING", 0) is P
    assert outcome_for_order(order_status, "REJECTED", 0) is E


@pytest.mark.parametrize("value", UNKNOWN)
def test_order_unknown_values(value):
    with pytest.raises(UnknownStatusError, match="order status"):
        outcome_for_order(value, "ACCEPTED", 0)
    with pytest.raises(UnknownStatusError, match="fraud_status"):
        outcome_for_order("AUTHORIZED", value, 0)


@pytest.mark.parametrize("amount", [-1, 1.0, "100", None, True])
def test_order_captured_amount_must_be_minor_units(amount):
    with pytest.raises(ValueError, match="captured_amount"):
        outcome_for_order("CLOSED", "ACCEPTED", amount)


# non_guaranteed_payment.updated (Pay Now standalone)

PAYMENT = {
    ("UNPAID", False): P,
    ("UNPAID", True): P,
    ("PAID", False): A,
    ("PAID", True): D,
    ("CLOSED", False): C,
    ("CLOSED", True): C,
}


def test_payment_table_covers_every_known_status():
    assert {key[0] for key in PAYMENT} == status.PAYMENT_STATUSES


@pytest.mark.parametrize(("key", "expected"), PAYMENT.items())
def test_payment_status(key, expected):
    payment_status, captured = key
    assert outcome_for_payment_status(payment_status, captured=captured) is expected


@pytest.mark.parametrize("value", UNKNOWN)
def test_payment_unknown_status(value):
    with pytest.raises(UnknownStatusError, match="payment_status"):
        outcome_for_payment_status(value, captured=False)


def test_payment_captured_must_be_a_bool():
    with pytest.raises(TypeError):
        outcome_for_payment_status("PAID", captured=None)


def test_unknown_status_message_is_bounded():
    with pytest.raises(UnknownStatusError) as info:
        outcome_for_order("X" * 1000, None, 0)
    assert len(str(info.value)) < 100
    assert isinstance(info.value, ValueError)


# The monotonic rule

FORWARD = {
    # current: the outcomes that may follow it
    None: {P, A, D, C, E},
    P: {A, D, C, E},
    A: {D, C, E},
    D: set(),
    C: set(),
    E: set(),
}
CONFLICTS = {(D, C), (D, E), (C, D), (C, E), (E, D), (E, C)}


@pytest.mark.parametrize(("current", "new"), list(itertools.product([None, *Outcome], Outcome)))
def test_forward_matrix(current, new):
    assert is_forward(current, new) is (new in FORWARD[current])


@pytest.mark.parametrize(("current", "new"), list(itertools.product([None, *Outcome], Outcome)))
def test_conflict_matrix(current, new):
    assert is_conflict(current, new) is ((current, new) in CONFLICTS)


@pytest.mark.parametrize(("current", "new"), list(itertools.product([None, *Outcome], Outcome)))
def test_klarna_wins_only_where_it_holds_money_odoo_calls_dead(current, new):
    expected = current in (C, E) and new in (A, D)
    assert klarna_wins(current, new) is expected
    if expected:  # never a forward move: it takes the override path
        assert not is_forward(current, new)


def test_examples_from_the_rule():
    assert not is_forward(D, outcome_for_payment_status("UNPAID", captured=True))
    assert not is_forward(A, outcome_for_order("AUTHORIZED", "ACCEPTED", 0))
    # A Pay Now order closed after it was wrongly marked done is flagged, not canceled.
    closed = outcome_for_payment_status("CLOSED", captured=True)
    assert not is_forward(D, closed)
    assert is_conflict(D, closed)


@given(st.lists(st.sampled_from(list(Outcome)), max_size=12))
def test_applying_only_forward_outcomes_never_goes_back(sequence):
    current = None
    for new in sequence:
        if is_forward(current, new):
            assert current is None or RANK[new] > RANK[current]
            current = new
    if sequence:
        assert RANK[current] == max(RANK[o] for o in sequence)
    finals = [o for o in sequence if o in (D, C, E)]
    if finals:
        assert current is finals[0]


@pytest.mark.parametrize("value", sorted(status.ORDER_STATUSES))
def test_open_order_statuses_are_the_authorized_ones(value):
    assert (outcome_for_order(value, "ACCEPTED", 0) is A) == (value in status.OPEN_ORDER_STATUSES)
