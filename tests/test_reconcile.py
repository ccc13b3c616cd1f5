import dataclasses
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from klarna import reconcile
from klarna.results import Capture, KlarnaOrder, Refund

GRACE = timedelta(minutes=10)


def order(captures=(), refunds=()):
    return KlarnaOrder(
        order_id="order-1",
        status="PART_CAPTURED",
        fraud_status="ACCEPTED",
        order_amount=10000,
        captured_amount=sum(c.captured_amount for c in captures),
        refunded_amount=sum(r.refunded_amount for r in refunds),
        remaining_authorized_amount=0,
        purchase_currency="EUR",
        expires_at=None,
        captures=tuple(captures),
        refunds=tuple(refunds),
        raw={},
    )


def capture(capture_id, amount, reference=None):
    return Capture(capture_id, amount, None, None, reference, None)


def refund(refund_id, amount, reference=None):
    return Refund(refund_id, amount, None, reference, None)


KLARNA = order(
    [capture("c-1", 4000, "TX-capture-1"), capture("c-portal", 1000)],
    [refund("r-1", 500, "TX-refund-1"), refund("r-portal", 200)],
)


def test_items_name_captures_and_refunds_alike_captures_first():
    assert reconcile.items(KLARNA) == [
        reconcile.Item("capture", "c-1", "TX-capture-1", 4000),
        reconcile.Item("capture", "c-portal", None, 1000),
        reconcile.Item("refund", "r-1", "TX-refund-1", 500),
        reconcile.Item("refund", "r-portal", None, 200),
    ]


def test_held_references_skip_entries_without_reference():
    assert reconcile.held_references(KLARNA) == {"TX-capture-1": "c-1", "TX-refund-1": "r-1"}


def test_a_held_reference_is_done_at_any_age():
    held = reconcile.held_references(KLARNA)
    for age in (timedelta(0), GRACE, timedelta(days=30)):
        assert reconcile.fate("TX-capture-1", held, age, GRACE) == reconcile.HELD


def test_an_absent_reference_is_running_then_never_applied():
    held = reconcile.held_references(KLARNA)
    assert reconcile.fate("TX-capture-2", held, GRACE - timedelta(seconds=1), GRACE) == (
        reconcile.RUNNING
    )
    assert reconcile.fate("TX-capture-2", held, GRACE, GRACE) == reconcile.NEVER_APPLIED


def test_unrecorded_splits_odoo_calls_from_what_was_done_elsewhere():
    ours, elsewhere = reconcile.unrecorded(KLARNA, {"r-1"}, {"TX-capture-1", "TX-refund-1"})
    assert [item.klarna_id for item in ours] == ["c-1"]
    assert [item.klarna_id for item in elsewhere] == ["c-portal", "r-portal"]


def test_a_reference_odoo_never_sent_is_elsewhere_and_recorded_ids_are_nothing():
    ours, elsewhere = reconcile.unrecorded(KLARNA, {"c-1", "c-portal", "r-1", "r-portal"}, set())
    assert (ours, elsewhere) == ([], [])
    ours, elsewhere = reconcile.unrecorded(KLARNA, set(), {"OTHER-capture-1"})
    assert ours == []
    assert len(elsewhere) == 4


NOW = datetime(2026, 11, 30, 12, 0)
NOTICE = timedelta(days=7)


def operation(kind, age, reference="TX-capture-1"):
    return SimpleNamespace(kind=kind, reference=reference, create_date=NOW - age)


def outcome(op, klarna_order=KLARNA, held_only=False):
    held = reconcile.held_references(klarna_order)
    return reconcile.outcome(
        op, klarna_order, held, NOW, grace=GRACE, notice=NOTICE, held_only=held_only
    )


@pytest.mark.parametrize("held_only", [False, True])
@pytest.mark.parametrize("age", [timedelta(0), GRACE * 100])
def test_a_held_capture_or_refund_is_done_with_its_klarna_id_at_any_age(age, held_only):
    assert outcome(operation("capture", age), held_only=held_only) == "c-1"
    assert outcome(operation("refund", age, "TX-refund-1"), held_only=held_only) == "r-1"


@pytest.mark.parametrize("kind", ["capture", "refund"])
def test_an_unheld_capture_or_refund_waits_for_the_grace_then_never_happened(kind):
    assert outcome(operation(kind, GRACE / 2, "TX-other")) is None
    assert outcome(operation(kind, GRACE * 2, "TX-other")) is False
    assert outcome(operation(kind, GRACE * 2, "TX-other"), held_only=True) is None


def status_order(**changes):
    return dataclasses.replace(KLARNA, **changes)


@pytest.mark.parametrize(
    ("kind", "changes", "expected"),
    [
        ("cancel", {"status": "CANCELLED"}, True),
        ("cancel", {"status": "AUTHORIZED"}, False),
        ("release", {"remaining_authorized_amount": 0}, True),
        ("release", {"remaining_authorized_amount": 1}, False),
        ("extend", {"expires_at": "2027-01-30T12:00:00Z"}, True),
        ("extend", {"expires_at": "2026-12-01T12:00:00+01:00"}, False),
        ("extend", {"expires_at": None}, False),
    ],
)
def test_other_operations_are_read_from_the_order_once_past_the_grace(kind, changes, expected):
    klarna_order = status_order(**changes)
    assert outcome(operation(kind, GRACE * 2, None), klarna_order) is expected
    assert outcome(operation(kind, GRACE, None), klarna_order) is None
    assert outcome(operation(kind, GRACE * 2, None), klarna_order, held_only=True) is None


def test_expiry_is_naive_utc():
    assert reconcile.expiry(status_order(expires_at="2026-12-01T13:30:00+01:00")) == datetime(
        2026, 12, 1, 12, 30
    )
    assert reconcile.expiry(status_order(expires_at="2026-12-01T12:30:00Z")) == datetime(
        2026, 12, 1, 12, 30
    )
    assert reconcile.expiry(status_order(expires_at=None)) is None
