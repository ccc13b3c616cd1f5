"""What Klarna's states mean for a payment transaction, and which changes may be applied.

Each table turns one Klarna state into an :class:`Outcome`; the Odoo layer applies
it with the matching ``_set_*`` method, but only when :func:`is_forward` allows it.
An unknown Klarna value raises :class:`UnknownStatusError`: guessing a state for
money is worse than stopping and telling someone.

Refunds are not an outcome. In Odoo a refund is a child transaction and the
captured transaction stays ``done``; Klarna's own cancel-or-refund on a closed
Pay Now order is settled on Klarna's side (a RETURN in the settlement report), so
Odoo must not send a refund for it either.
"""

from enum import Enum


class Outcome(Enum):
    """A transaction state to apply; values are Odoo's state names, so ``Outcome(tx.state)``
    converts back (a ``draft`` transaction has no outcome yet: pass None)."""

    PENDING = "pending"
    AUTHORIZED = "authorized"
    DONE = "done"
    CANCELED = "cancel"
    ERROR = "error"


class UnknownStatusError(ValueError):
    """A Klarna status this module does not know; nothing must be changed on it."""

    def __init__(self, kind, value):
        super().__init__(f"unknown Klarna {kind}: {str(value)[:40]!r}")
        self.kind = kind


# Ordering: pending < authorized < the three final outcomes, which share a rank.
# A state never moves to a lower or equal rank, so an event that arrives late (a
# PENDING after AUTHORIZED, an AUTHORIZED order snapshot after the capture) is
# ignored. Between final outcomes nothing moves either: a cancellation after
# ``done`` is not a cancellation (the money moved; Klarna closing such an order
# refunds it on Klarna's side): such pairs are conflicts (:func:`is_conflict`) for a
# person to look at, not transitions. The exception is :func:`klarna_wins`.
RANK = {
    Outcome.PENDING: 1,
    Outcome.AUTHORIZED: 2,
    Outcome.DONE: 3,
    Outcome.CANCELED: 3,
    Outcome.ERROR: 3,
}
_FINAL_RANK = 3


def is_forward(current, new):
    """Whether ``new`` may be applied to a transaction whose outcome is ``current``
    (None while the transaction is still a draft)."""
    return RANK[new] > (0 if current is None else RANK[current])


def is_conflict(current, new):
    """Whether ``new`` contradicts a final ``current`` outcome (log it for review)."""
    return (
        current is not None
        and current is not new
        and RANK[current] == _FINAL_RANK
        and RANK[new] == _FINAL_RANK
    )


# Klarna holds or has moved the customer's money on a payment that Odoo considers dead
# (canceled by a person or a timeout, or failed): Odoo must record that money, so
# Klarna's status overrides Odoo's. The other way round (a cancellation after
# ``done``) cannot undo posted accounting and stays a conflict for review.
_KLARNA_WINS = frozenset(
    {
        (Outcome.CANCELED, Outcome.AUTHORIZED),
        (Outcome.CANCELED, Outcome.DONE),
        (Outcome.ERROR, Outcome.AUTHORIZED),
        (Outcome.ERROR, Outcome.DONE),
    }
)


def klarna_wins(current, new):
    """Whether Klarna's ``new`` outcome overrides Odoo's final ``current`` one."""
    return (current, new) in _KLARNA_WINS


FRAUD_STATUSES = frozenset({"ACCEPTED", "PENDING", "REJECTED"})


def outcome_for_placement(fraud_status, auto_capture, *, guaranteed=True):
    """The outcome of ``POST /payments/v1/authorizations/{token}/order``.

    ``auto_capture`` says whether the order was captured as it was placed.
    ``guaranteed`` is False for Pay Now standalone (non-guaranteed): there an
    accepted order only means the bank transfer is awaited, and the payment status
    webhook (:func:`outcome_for_payment_status`) decides.
    """
    _check_bool("auto_capture", auto_capture)
    _check_bool("guaranteed", guaranteed)
    if fraud_status == "ACCEPTED":
        if not guaranteed:
            return Outcome.PENDING
        return Outcome.DONE if auto_capture else Outcome.AUTHORIZED
    if fraud_status == "PENDING":
        return Outcome.PENDING
    if fraud_status == "REJECTED":
        return Outcome.ERROR
    raise UnknownStatusError("fraud_status", fraud_status)


ORDER_STATUSES = frozenset(
    {"AUTHORIZED", "PART_CAPTURED", "CAPTURED", "CANCELLED", "EXPIRED", "CLOSED"}
)
# Orders whose authorization can still be captured, voided or extended.
OPEN_ORDER_STATUSES = frozenset({"AUTHORIZED", "PART_CAPTURED"})


def outcome_for_order(status, fraud_status, captured_amount):
    """The outcome of an Order Management order (``GET /ordermanagement/v1/orders/{id}``).

    A pending fraud decision wins over the status, a rejection is an error.
    ``PART_CAPTURED`` stays authorized: the remainder can still be captured, and Odoo
    models each partial capture as a child transaction, turning the source ``done``
    once fully captured. An order that ended (cancelled, expired, closed) is ``done``
    if anything was captured, since that money moved and refunds are separate, and
    canceled otherwise. ``captured_amount`` is in minor units.
    """
    if type(captured_amount) is not int or captured_amount < 0:
        raise ValueError("captured_amount must be a non-negative integer (minor units)")
    _check_known("order status", status, ORDER_STATUSES)
    _check_known("fraud_status", fraud_status, FRAUD_STATUSES)
    if fraud_status == "PENDING":
        return Outcome.PENDING
    if fraud_status == "REJECTED":
        return Outcome.ERROR
    if status in OPEN_ORDER_STATUSES:
        return Outcome.AUTHORIZED
    if status == "CAPTURED" or captured_amount > 0:
        return Outcome.DONE
    return Outcome.CANCELED


PAYMENT_STATUSES = frozenset({"UNPAID", "PAID", "CLOSED"})


def outcome_for_payment_status(payment_status, *, captured):
    """The outcome of a ``non_guaranteed_payment.updated`` webhook (Pay Now standalone).

    ``UNPAID``: the transfer is awaited. ``PAID``: Klarna holds the money, but only a
    captured order is settled, so an uncaptured one becomes authorized (capture it)
    and a captured one done. ``CLOSED`` (no payment in time; only ever follows
    ``UNPAID``): canceled. Klarna itself cancels the order, or reverses the capture
    in the settlement if it was captured; Odoo sends nothing.
    """
    _check_bool("captured", captured)
    if payment_status == "UNPAID":
        return Outcome.PENDING
    if payment_status == "PAID":
        return Outcome.DONE if captured else Outcome.AUTHORIZED
    if payment_status == "CLOSED":
        return Outcome.CANCELED
    raise UnknownStatusError("payment_status", payment_status)


def _check_known(kind, value, known):
    if not isinstance(value, str) or value not in known:
        raise UnknownStatusError(kind, value)


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool")
