"""The two-phase log of Order Management calls: the intent before the call, the outcome after.

A capture or refund must never happen twice and never be forgotten. The intent row, with the
idempotency key the call will carry, is committed before the HTTP call in a transaction of its
own; the outcome is committed the same way right after Klarna answers. A crash in between
leaves an ``intent`` row: a retry of the same operation finds it and sends the same key (Klarna
answers with the first outcome instead of acting twice), and the reconciliation cron resolves it
by reading the Klarna order. What Odoo did with the outcome (child transactions, states) lives
in the caller's transaction; reconciliation compares that with the Klarna order independently.

In tests (Odoo's runner or pytest-odoo) every test is one transaction in which commits are
forbidden, so the log is written in the caller's transaction there; the tests reproduce what a
crash leaves. Requests served to an HttpCase get the test transaction from
``registry.cursor()`` anyway.
"""

from contextlib import contextmanager

from odoo import api, fields, models

from ..klarna.idempotency import operation_key
from ..klarna.money import from_minor
from ..utils import in_test

# Operations whose outcome Klarna definitively gave; an open ``intent`` is not counted, so a
# retry after an unknown outcome derives the same key as the attempt it repeats.
ANSWERED = ("done", "failed")


@contextmanager
def journal_env(env):
    """An environment whose writes are committed at once, whatever happens to ``env``'s."""
    if in_test():
        yield env
        return
    with env.registry.cursor() as cr:
        # Never wait for a lock the caller's own transaction holds: fail before any call.
        cr.execute("SET LOCAL lock_timeout = '5s'")
        yield env(cr=cr)


class PaymentKlarnaOperation(models.Model):
    _name = "payment.klarna.operation"
    _description = "Klarna Order Management Operation"
    _order = "id desc"
    _rec_name = "reference"

    transaction_id = fields.Many2one(
        comodel_name="payment.transaction",
        required=True,
        readonly=True,
        index=True,
        ondelete="cascade",
    )
    klarna_order_id = fields.Char(related="transaction_id.klarna_order_id")
    kind = fields.Selection(
        string="Operation",
        selection=[
            ("capture", "Capture"),
            ("refund", "Refund"),
            ("cancel", "Cancel order"),
            ("release", "Release remaining authorization"),
            ("extend", "Extend authorization"),
        ],
        required=True,
        readonly=True,
    )
    origin = fields.Selection(
        selection=[("odoo", "Odoo"), ("klarna", "Outside Odoo")],
        required=True,
        readonly=True,
        default="odoo",
        help="Outside Odoo: done in Klarna's portal or elsewhere, found by reconciliation.",
    )
    reference = fields.Char(
        required=True, readonly=True, help="Sent to Klarna as the capture or refund reference."
    )
    sequence = fields.Integer(
        readonly=True, help="How many operations of this kind Klarna had answered before."
    )
    amount_minor = fields.Integer(string="Amount (minor units)", readonly=True)
    currency_id = fields.Many2one(related="transaction_id.currency_id")
    amount = fields.Monetary(compute="_compute_amount")
    idempotency_key = fields.Char(readonly=True, copy=False)
    state = fields.Selection(
        selection=[("intent", "Sent, outcome unknown"), ("done", "Done"), ("failed", "Failed")],
        required=True,
        readonly=True,
        default="intent",
        index=True,
    )
    klarna_reference = fields.Char(
        string="Klarna ID", readonly=True, help="The Capture-Id or Refund-Id Klarna returned."
    )
    correlation_id = fields.Char(string="Klarna Correlation ID", readonly=True)
    message = fields.Text(readonly=True)

    _sql_constraints = [
        (
            "idempotency_key_unique",
            "UNIQUE(idempotency_key)",
            "Klarna: an operation with this idempotency key is already recorded.",
        ),
        (
            "klarna_reference_unique",
            "UNIQUE(transaction_id, kind, klarna_reference)",
            "Klarna: this Klarna capture or refund is already recorded.",
        ),
    ]

    @api.depends("amount_minor", "currency_id")
    def _compute_amount(self):
        for operation in self:
            operation.amount = float(
                from_minor(operation.amount_minor, operation.currency_id.decimal_places or 2)
            )

    @api.model
    def _begin(self, tx, kind, amount_minor):
        """Commit the intent of an operation and return ``(id, key, reference)``.

        An open intent with the same key (a retry after a timeout or a crash) is reused.
        """
        with journal_env(self.env) as env:
            operations = env[self._name].sudo()
            domain = [("transaction_id", "=", tx.id), ("kind", "=", kind), ("origin", "=", "odoo")]
            sequence = operations.search_count([*domain, ("state", "in", ANSWERED)])
            key = operation_key(tx.reference, kind, amount_minor, sequence)
            operation = operations.search([("idempotency_key", "=", key)], limit=1)
            if not operation:
                operation = operations.create(
                    {
                        "transaction_id": tx.id,
                        "kind": kind,
                        "reference": f"{tx.reference}-{kind}-{sequence + 1}",
                        "sequence": sequence,
                        "amount_minor": amount_minor,
                        "idempotency_key": key,
                    }
                )
            return operation.id, key, operation.reference

    @api.model
    def _finish(self, operation_id, state, **values):
        """Commit the outcome Klarna gave for an operation."""
        with journal_env(self.env) as env:
            env[self._name].sudo().browse(operation_id).write({"state": state, **values})
