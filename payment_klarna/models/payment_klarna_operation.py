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

import logging
from contextlib import contextmanager

import psycopg2

from odoo import api, fields, models
from odoo.exceptions import UserError

from .. import compat, const
from ..klarna import reconcile
from ..klarna.errors import KlarnaError, KlarnaProtocolError
from ..klarna.idempotency import operation_key
from ..klarna.money import from_minor
from ..utils import in_test

_logger = logging.getLogger(__name__)


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

    _idempotency_key_unique = compat.Constraint(
        "UNIQUE(idempotency_key)",
        "Klarna: an operation with this idempotency key is already recorded.",
    )
    _klarna_reference_unique = compat.Constraint(
        "UNIQUE(transaction_id, kind, klarna_reference)",
        "Klarna: this Klarna capture or refund is already recorded.",
    )

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
            sequence = operations.search_count(
                [*domain, ("state", "in", const.OPERATION_ANSWERED_STATES)]
            )
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

    @api.model
    def _run(self, tx, kind, amount_minor, send):
        """Record the intent, call Klarna with the operation's key, record the outcome.

        A refusal is recorded as failed, written on the documents' chatter and raised to the
        user with Klarna's message and correlation id; an unknown outcome (timeout, outage,
        unreadable answer) leaves the intent open, for a retry with the same key or for the
        reconciliation job.

        :param tx: the order transaction the operation is for
        :param str kind: the operation (see ``kind``)
        :param int amount_minor: its amount in minor units (0 where none applies)
        :param send: ``send(client, idempotency_key, reference)`` makes the call
        :return: what ``send`` returned and the operation's reference
        :rtype: tuple
        :raise UserError: Klarna refused, or gave no clear answer
        """
        tx.ensure_one()
        operation_id, key, reference = self._begin(tx, kind, amount_minor)
        client = tx.provider_id.sudo()._klarna_get_client()
        try:
            result = send(client, key, reference)
        except KlarnaError as error:
            unknown = error.retryable or isinstance(error, KlarnaProtocolError)
            text = tx._klarna_error_text(error)
            values = {
                "operation": kind,
                "amount": tx._klarna_format(amount_minor),
                "reference": tx.reference,
                "error": text,
            }
            if unknown:
                message = self.env._(
                    "Klarna: the %(operation)s of %(amount)s for %(reference)s got no clear "
                    "answer (%(error)s). Try again: the retry carries the same idempotency key, "
                    "so Klarna cannot apply it twice; otherwise Odoo checks with Klarna within "
                    "the hour.",
                    **values,
                )
            else:
                message = self.env._(
                    "Klarna: the %(operation)s of %(amount)s for %(reference)s was refused: "
                    "%(error)s",
                    **values,
                )
                self._finish(
                    operation_id,
                    "failed",
                    message=text,
                    correlation_id=error.correlation_id or False,
                )
            self._log_in_journal(tx, message)
            raise UserError(message) from error
        self._finish(operation_id, "done", klarna_reference=result or False)
        return result, reference

    @api.model
    def _log_in_journal(self, tx, message):
        """Write a failure on the chatter where it survives the rollback of the user's request."""
        try:
            with journal_env(self.env) as env:
                tx.with_env(env).sudo()._log_message_on_linked_documents(message)
        except psycopg2.OperationalError as error:  # e.g. the documents are locked
            _logger.warning("Klarna: %s not written on the chatter (%s)", tx.reference, error)

    # === WHAT THE LOG TELLS (called by the transaction) === #

    @api.model
    def _settle_intents(self, tx, kind, amount_minor):
        """Before a new call: settle earlier calls of this kind that got no answer.

        Those Klarna holds were recorded by the transaction's ``_klarna_settle``. One it does
        not show may be under way still: only its exact retry (same amount, hence same
        idempotency key) may go. Past ``const.INTENT_GRACE`` it never reached Klarna: it is
        closed as failed, in the log's own transaction, so that the new call draws a new key
        and reference.

        :param tx: the order transaction
        :param str kind: ``capture`` or ``refund``
        :param int amount_minor: the amount about to be sent
        :raise UserError: another amount's call may still be under way
        """
        operations = self.sudo()
        now = fields.Datetime.now()
        intents = operations.search(
            [
                ("transaction_id", "=", tx.id),
                ("kind", "=", kind),
                ("origin", "=", "odoo"),
                ("state", "=", "intent"),
            ]
        )
        for intent in intents:
            if intent.create_date < now - const.INTENT_GRACE:
                operations._finish(
                    intent.id,
                    "failed",
                    message=self.env._("Not in the Klarna order: the call never reached Klarna."),
                )
            elif intent.amount_minor != amount_minor:
                raise UserError(
                    self.env._(
                        "Klarna: the %(operation)s of %(amount)s for %(reference)s sent at "
                        "%(sent)s (UTC) got no clear answer, and Klarna's order does not show "
                        "it yet: retry that same amount (Klarna cannot apply it twice), or "
                        "wait until %(until)s (UTC) to %(operation)s another amount.",
                        operation=kind,
                        amount=tx._klarna_format(intent.amount_minor),
                        reference=tx.reference,
                        sent=fields.Datetime.to_string(intent.create_date),
                        until=fields.Datetime.to_string(intent.create_date + const.INTENT_GRACE),
                    )
                )

    @api.model
    def _sent_references(self, tx):
        """References of every capture and refund Odoo sent (or tried to) for ``tx``'s order."""
        return set(
            self.sudo()
            .search(
                [
                    ("transaction_id", "=", tx.id),
                    ("origin", "=", "odoo"),
                    ("kind", "in", ("capture", "refund")),
                ]
            )
            .mapped("reference")
        )

    @api.model
    def _noted_references(self, tx):
        """Klarna ids of the captures and refunds of ``tx``'s order noted from outside Odoo."""
        return set(
            self.sudo()
            .search([("transaction_id", "=", tx.id), ("origin", "=", "klarna")])
            .mapped("klarna_reference")
        )

    @api.model
    def _resolve_intents(self, tx, klarna_order, held_only=False):
        """Close operations whose outcome is unknown with what the order shows.

        A capture or refund Klarna holds under the operation's reference is done at once, at
        any age, and so is one recorded as failed (Klarna applied an earlier attempt and
        refused the retry): Klarna's books win. Any other verdict waits for
        ``const.INTENT_GRACE``, when the call cannot be running any more; ``held_only`` skips
        those (:func:`klarna.reconcile.outcome`).
        """
        operations = self.sudo()
        now = fields.Datetime.now()
        held = reconcile.held_references(klarna_order)
        pending = operations.search(
            [
                ("transaction_id", "=", tx.id),
                ("origin", "=", "odoo"),
                "|",
                ("state", "=", "intent"),
                "&",
                ("state", "=", "failed"),
                ("reference", "in", list(held)),
            ],
            order="id",
        )
        for operation in pending:
            found = reconcile.outcome(
                operation,
                klarna_order,
                held,
                now,
                grace=const.INTENT_GRACE,
                notice=const.EXPIRY_NOTICE,
                held_only=held_only,
            )
            if found is None:
                continue
            values = {"message": self.env._("Outcome read from the Klarna order.")}
            if isinstance(found, str):
                values["klarna_reference"] = found
            was_refused = operation.state == "failed"
            # Written with the corrections below, in this transaction: no call is involved.
            operation.write({"state": "done" if found else "failed", **values})
            tx._log_message_on_linked_documents(
                self.env._(
                    "Klarna reconciliation: operation %(operation)s (%(kind)s of %(amount)s) "
                    "was recorded as refused; the Klarna order shows it done.",
                    operation=operation.reference,
                    kind=operation.kind,
                    amount=tx._klarna_format(operation.amount_minor),
                )
                if was_refused
                else self.env._(
                    "Klarna reconciliation: operation %(operation)s (%(kind)s of %(amount)s) "
                    "had no recorded outcome; the Klarna order shows it %(outcome)s.",
                    operation=operation.reference,
                    kind=operation.kind,
                    amount=tx._klarna_format(operation.amount_minor),
                    outcome=self.env._("done") if found else self.env._("never happened"),
                )
            )

    @api.model
    def _note_outside(self, tx, kind, klarna_reference, amount_minor, message=None):
        """Log a capture or refund Odoo did not record itself, once, on the chatter and as an
        operation (unless it was Odoo's own call whose outcome was lost)."""
        operations = self.sudo()
        mine = operations.search(
            [
                ("transaction_id", "=", tx.id),
                ("kind", "=", kind),
                ("klarna_reference", "=", klarna_reference),
            ]
        )
        if not mine:
            operations.create(
                {
                    "transaction_id": tx.id,
                    "kind": kind,
                    "origin": "klarna",
                    "reference": klarna_reference,
                    "amount_minor": amount_minor,
                    "state": "done" if message is None else "failed",
                    "klarna_reference": klarna_reference,
                    "message": message or self.env._("Done outside Odoo, found by reconciliation."),
                }
            )
        tx._log_message_on_linked_documents(
            message
            or self.env._(
                "Klarna reconciliation: %(kind)s %(id)s of %(amount)s, %(origin)s, is now "
                "recorded in Odoo.",
                kind=kind,
                id=klarna_reference,
                amount=tx._klarna_format(amount_minor),
                origin=self.env._("sent by Odoo but never recorded")
                if mine
                else self.env._("done outside Odoo"),
            )
        )
