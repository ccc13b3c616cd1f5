"""Klarna's books against Odoo's operation log: what Klarna holds that Odoo has not recorded.

Decisions:

* Odoo sends its operation's reference with every capture and refund, so Klarna's order
  tells for certain which of Odoo's calls it applied, at any age. A reference Klarna holds
  is done, whatever answer Odoo got (none after a timeout or a crash, a refusal of a late
  retry). The idempotency key protects a retry for the ~24 h Klarna keeps it; the reference
  never expires, so it is read first and the call is not repeated.
* An operation Klarna does not hold may still be running for a short while after its answer
  was lost (``grace``); after that it never happened.
* A capture or refund Klarna holds under no reference of Odoo's was made elsewhere (the
  merchant portal). Odoo records it by reconciliation, never as the outcome of a new call.
* A cancel, a release or an extension carries no reference: once it cannot be running any
  more, the order's status, remaining authorization or expiry tells whether it happened.
"""

from datetime import datetime, timezone
from typing import NamedTuple

from .results import Capture

HELD = "held"  # Klarna applied it
RUNNING = "running"  # not in Klarna's order yet, but the call may still be under way
NEVER_APPLIED = "never_applied"


class Item(NamedTuple):
    """A capture or refund in Klarna's order, whichever it is."""

    kind: str
    klarna_id: str
    reference: str | None
    amount: int


def items(order):
    """The order's captures and refunds as :class:`Item`, captures first."""
    return [_item(entry) for entry in (*order.captures, *order.refunds)]


def _item(entry):
    if isinstance(entry, Capture):
        return Item("capture", entry.capture_id, entry.reference, entry.captured_amount)
    return Item("refund", entry.refund_id, entry.reference, entry.refunded_amount)


def held_references(order):
    """``{reference: Klarna id}`` of the captures and refunds that carry a reference."""
    return {item.reference: item.klarna_id for item in items(order) if item.reference}


def fate(reference, held, age, grace):
    """What became of a capture or refund Odoo sent under ``reference``.

    :param dict held: :func:`held_references` of the order as just read
    :param age: time since the intent was recorded (any type comparable with ``grace``)
    :return: :data:`HELD`, :data:`RUNNING` or :data:`NEVER_APPLIED`
    """
    if reference in held:
        return HELD
    return RUNNING if age < grace else NEVER_APPLIED


def unrecorded(order, recorded_ids, references):
    """Klarna's captures and refunds that Odoo has not recorded, split by who made them.

    :param recorded_ids: Klarna ids Odoo has recorded (on transactions or noted)
    :param references: the references of every operation Odoo sent for this order
    :return: ``(ours, elsewhere)``, lists of :class:`Item`: Odoo's own calls whose outcome
             it never recorded, and what was done outside Odoo
    """
    missing = [item for item in items(order) if item.klarna_id not in recorded_ids]
    ours = [item for item in missing if item.reference and item.reference in references]
    return ours, [item for item in missing if item not in ours]


def expiry(order):
    """Klarna's ``expires_at`` (ISO 8601) as a naive UTC datetime, as Odoo stores them;
    None when the order does not say."""
    if not order.expires_at:
        return None
    moment = datetime.fromisoformat(order.expires_at.replace("Z", "+00:00"))
    if moment.tzinfo:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def outcome(operation, order, held, now, *, grace, notice, held_only=False):
    """What the order, as just read, shows of an operation Odoo has no answer for.

    :param operation: the operation's ``kind``, ``reference`` and ``create_date`` (naive UTC)
    :param dict held: :func:`held_references` of ``order``
    :param grace: how long a call may still be under way (see :func:`fate`)
    :param notice: an extension shows as an expiry beyond ``notice`` from the attempt
    :param bool held_only: decide only operations Klarna holds (before a new call)
    :return: None to leave the operation open; else its outcome: the Klarna id of a held
             capture or refund, True for another operation that happened, False for one
             that never did
    """
    age = now - operation.create_date
    if operation.kind in ("capture", "refund"):
        verdict = fate(operation.reference, held, age, grace)
        if verdict == RUNNING or (held_only and verdict != HELD):
            return None
        return held.get(operation.reference, False)
    if held_only or age <= grace:
        return None
    if operation.kind == "cancel":
        return order.status == "CANCELLED"
    if operation.kind == "release":
        return order.remaining_authorized_amount == 0
    moment = expiry(order)  # extend
    return bool(moment and moment > operation.create_date + notice)
