"""How much an order-management call may move, from Odoo's books and Klarna's order.

Decisions:

* Every amount is an integer in minor units (:mod:`.money` converts Odoo's floats once).
* A call may move at most what both sides still allow: Odoo's children say what Odoo
  recorded, the Klarna order what Klarna will accept. The smaller wins, so neither a stale
  Odoo nor a change made in Klarna's portal can make Odoo ask for money that is not there.
* Before a capture or refund the two books must agree on what was captured and refunded;
  a difference means something happened that Odoo has not recorded yet.
"""

from typing import NamedTuple


class Books(NamedTuple):
    """Odoo's books of one Klarna order, in minor units."""

    authorized: int
    captured: int
    voided: int
    refunded: int

    @property
    def remaining(self):
        """What may still be captured or voided."""
        return self.authorized - self.captured - self.voided


def capturable(books, order):
    """The most a capture may take now: Odoo's remainder, within Klarna's."""
    return min(books.remaining, order.remaining_authorized_amount)


def refundable(payment_refundable, order):
    """The most a refund may give back now: what the refunded payment still allows in Odoo
    (``payment_refundable``), within what Klarna holds captured and not yet refunded."""
    return min(payment_refundable, order.captured_amount - order.refunded_amount)


def allows(amount, allowed):
    """Whether ``amount`` may move: more than nothing, and no more than ``allowed``."""
    return 0 < amount <= allowed


def books_agree(books, order):
    """Whether Odoo and Klarna have the same captured and refunded totals."""
    return (order.captured_amount, order.refunded_amount) == (books.captured, books.refunded)
