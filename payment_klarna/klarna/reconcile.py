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
"""

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
