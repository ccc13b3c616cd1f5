from datetime import timedelta

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
