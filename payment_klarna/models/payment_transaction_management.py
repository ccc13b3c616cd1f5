"""Klarna Order Management from Odoo's own buttons: capture, refund, void, release, extend.

Odoo's capture wizard, void button and refund wizard call ``_send_capture_request``,
``_send_void_request`` and ``_send_refund_request``; these overrides make Klarna follow, and the
reconciliation cron makes Odoo follow Klarna for whatever happened elsewhere. Decisions:

* The transaction that placed the Klarna order (the "order transaction") owns every operation.
  A partial capture is Odoo's child transaction (``P-...``); a refund asked on such a child is
  sent for the order and recorded as a refund child of the capture child, as Odoo expects.
* Before each call the row of the order transaction is locked and the Klarna order is read:
  the amount is checked against what Klarna still allows (remaining authorization, captured
  minus refunded) and against Odoo's own children, and a cancelled or expired order is refused.
* Before a capture or refund, Klarna's books are compared with Odoo's (``_klarna_settle``):
  what Klarna holds under the reference of one of Odoo's operations (an answer lost to a
  timeout or a crash) is recorded instead of being sent again, whatever its age; anything
  else Klarna holds that Odoo has not recorded (its portal) stops the call until
  reconciliation records it. An unanswered call Klarna does not show blocks other amounts
  until it is stale (``INTENT_GRACE``), then is closed as never applied.
* The crons treat each transaction apart: a savepoint, any error logged (its type and place,
  never its text, which may quote customer data), a commit, and on to the next one.
* Each call goes through :meth:`_klarna_call`: intent committed, call with the operation's
  idempotency key, outcome committed (see ``payment_klarna_operation``). Only then does Odoo
  create its child transaction, so a refused call changes nothing in Odoo.
* A full capture makes the order transaction ``done`` and keeps the Capture-Id in
  ``klarna_capture_id``; a partial one sets the child's ``provider_reference`` to it.
* Klarna's ``order_lines`` are sent when Odoo knows what is captured or refunded: lines given
  by the caller (a delivery), the whole order, a posted invoice or the credit note being
  refunded, whichever adds up to the amount exactly. Otherwise only the amount goes.
"""

import logging
import os
import traceback
from datetime import datetime, timedelta, timezone

import psycopg2

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_amount

from odoo.addons.payment import utils as payment_utils

from .. import const
from ..klarna import reconcile
from ..klarna.errors import KlarnaError, KlarnaProtocolError
from ..klarna.money import from_minor, to_minor
from ..utils import in_test
from .klarna_payload import amount_lines
from .payment_klarna_operation import journal_env

_logger = logging.getLogger(__name__)

AUTHORIZATION_LIFETIME = timedelta(days=28)  # Klarna's default, when the order does not say
EXPIRY_NOTICE = timedelta(days=7)  # extend (or warn) this long before the expiry
INTENT_GRACE = timedelta(minutes=10)  # longer than any call with its retries may take
RECONCILE_BATCH = 100
RECONCILE_DONE_FOR = timedelta(days=180)  # refunds are still possible in Klarna's portal
OPEN_STATUSES = ("AUTHORIZED", "PART_CAPTURED")


def _error_origin(error):
    """An unexpected error's type, SQLSTATE and where it was raised, without its text: the
    text of a KeyError or a database error may quote customer data or secrets."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if "payment_klarna" in frame.filename] or frames
    where = f" at {os.path.basename(ours[-1].filename)}:{ours[-1].lineno}" if ours else ""
    code = getattr(error, "pgcode", None)
    return f"{type(error).__name__}{f' (SQLSTATE {code})' if code else ''}{where}"


def _expiry(klarna_order):
    """Klarna's ``expires_at`` (ISO 8601, UTC) as a naive UTC datetime, as Odoo stores them."""
    if not klarna_order.expires_at:
        return False
    moment = datetime.fromisoformat(klarna_order.expires_at.replace("Z", "+00:00"))
    if moment.tzinfo:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"  # pylint: disable=consider-merging-classes-inherited

    klarna_capture_id = fields.Char(
        string="Klarna Capture ID",
        readonly=True,
        copy=False,
        help="The capture of the whole amount; partial captures are child transactions.",
    )
    klarna_expires_at = fields.Datetime(
        string="Klarna Authorization Expiry", readonly=True, copy=False
    )
    klarna_expiry_warned = fields.Boolean(readonly=True, copy=False)
    klarna_reconciled_at = fields.Datetime(readonly=True, copy=False)
    klarna_operation_ids = fields.One2many(
        string="Klarna Operations",
        comodel_name="payment.klarna.operation",
        inverse_name="transaction_id",
        readonly=True,
    )

    # === ACTION METHODS === #

    def action_klarna_reconcile(self):
        """Read the Klarna orders now and correct Odoo, as the hourly cron does."""
        payment_utils.check_rights_on_recordset(self)
        for tx in self:
            tx.sudo()._klarna_order_tx()._klarna_reconcile()

    def action_klarna_extend_authorization(self):
        payment_utils.check_rights_on_recordset(self)
        for tx in self:
            tx.sudo()._klarna_extend_authorization()

    # === BUSINESS METHODS - ODOO'S ENTRY POINTS === #

    def _send_capture_request(self, amount_to_capture=None):
        """Override of `payment` to capture with Klarna, then record it as Odoo does.

        The context may carry ``klarna_capture_line_ids`` (sale order lines being captured)
        and ``klarna_shipping_info`` (Klarna shipping_info objects), as a delivery does.
        """
        if self.provider_code != const.PROVIDER_CODE:
            return super()._send_capture_request(amount_to_capture=amount_to_capture)
        self.ensure_one()
        self._ensure_provider_is_not_disabled()
        self._klarna_lock()
        self._klarna_check_state("authorized", "capture")
        klarna_order = self._klarna_read_order()
        amounts = self._klarna_amounts()
        amount_minor = self._klarna_minor(amount_to_capture) if amount_to_capture else None
        amount_minor = amount_minor or amounts["remaining"]
        adopted = self._klarna_settle(klarna_order, self)
        if "capture" in adopted:
            return self._klarna_adopted("capture", adopted["capture"], amount_minor)
        if klarna_order.status not in OPEN_STATUSES:
            raise UserError(self._klarna_closed_message(klarna_order, "capture"))
        allowed = min(amounts["remaining"], klarna_order.remaining_authorized_amount)
        self._klarna_check_amount(amount_minor, allowed, "capture")
        lines = self.env["sale.order.line"].browse(
            self.env.context.get("klarna_capture_line_ids") or []
        )
        order_lines = self._klarna_order_lines(amount_minor, [lines, *self._klarna_line_sets()])
        shipping_info = self.env.context.get("klarna_shipping_info") or None
        self._klarna_check_intents("capture", amount_minor)

        def send(client, key, reference):
            return client.capture(
                self.klarna_order_id,
                amount_minor,
                idempotency_key=key,
                order_lines=order_lines,
                shipping_info=shipping_info,
                reference=reference,
            )

        capture_id, reference = self._klarna_call("capture", amount_minor, send)
        child = super()._send_capture_request(amount_to_capture=self._klarna_major(amount_minor))
        self._klarna_record_capture(capture_id, child, "capture")
        self._klarna_log_operation(
            self.env._(
                "Klarna captured %(amount)s of order %(order)s: capture %(capture)s "
                "(operation %(operation)s%(details)s).",
                amount=self._klarna_format(amount_minor),
                order=self.klarna_order_id,
                capture=capture_id,
                operation=reference,
                details=self._klarna_details(order_lines, shipping_info),
            )
        )
        return child

    def _send_void_request(self, amount_to_void=None):
        """Override of `payment` to cancel the Klarna order, or release what was not captured.

        Before any capture the order is cancelled; after partial captures the remaining
        authorization is released. Odoo then records the void as it does for any provider:
        the transaction is canceled, or a canceled child closes the partly captured one.
        The amount is recomputed here, so a stale wizard cannot void a wrong amount.
        """
        if self.provider_code != const.PROVIDER_CODE:
            return super()._send_void_request(amount_to_void=amount_to_void)
        self.ensure_one()
        self._ensure_provider_is_not_disabled()
        self._klarna_lock()
        self._klarna_check_state("authorized", "void")
        klarna_order = self._klarna_read_order()
        amounts = self._klarna_amounts()
        if klarna_order.captured_amount != amounts["captured"]:
            raise UserError(self._klarna_out_of_step_message(klarna_order))
        remaining = amounts["remaining"]
        if klarna_order.status == "AUTHORIZED":
            kind = "cancel"
            self._klarna_call(
                kind,
                remaining,
                lambda client, key, _reference: client.cancel_order(
                    self.klarna_order_id, idempotency_key=key
                ),
            )
        elif klarna_order.status == "PART_CAPTURED":
            kind = "release"
            self._klarna_call(
                kind,
                remaining,
                lambda client, key, _reference: client.release_remaining_authorization(
                    self.klarna_order_id, idempotency_key=key
                ),
            )
        else:  # Klarna ended the order already: record that instead of calling.
            self._klarna_reconcile_status(klarna_order)
            return self.env["payment.transaction"]
        message = (
            self.env._("Klarna: the order was cancelled.")
            if kind == "cancel"
            else self.env._("Klarna: the remaining authorization was released.")
        )
        child = super()._send_void_request(amount_to_void=self._klarna_major(remaining))
        (child or self)._klarna_set_outcome("cancel", "void", message)
        self._klarna_log_operation(
            self.env._(
                "Klarna voided %(amount)s of order %(order)s (%(action)s).",
                amount=self._klarna_format(remaining),
                order=self.klarna_order_id,
                action=self.env._("order cancelled")
                if kind == "cancel"
                else self.env._("remaining authorization released"),
            )
        )
        return child

    def _send_refund_request(self, amount_to_refund=None):
        """Override of `payment` to refund with Klarna, then record Odoo's refund child.

        ``self`` is the transaction whose payment is refunded: the order transaction after a
        full capture, a capture child after partial ones. The context may name the credit
        note being refunded (``klarna_credit_note_id``); otherwise an open credit note of the
        same amount on the order's invoices is taken. Its lines are sent to Klarna and the
        refund transaction is linked to it, so Odoo's refund payment settles it.
        """
        if self.provider_code != const.PROVIDER_CODE:
            return super()._send_refund_request(amount_to_refund=amount_to_refund)
        self.ensure_one()
        self._ensure_provider_is_not_disabled()
        order_tx = self._klarna_order_tx()
        order_tx._klarna_lock()
        self._klarna_check_state("done", "refund")
        klarna_order = order_tx._klarna_read_order()
        amount_minor = self._klarna_minor(amount_to_refund or self.amount)
        adopted = order_tx._klarna_settle(klarna_order, self)
        if "refund" in adopted:
            return order_tx._klarna_adopted("refund", adopted["refund"], amount_minor)
        allowed = min(
            self._klarna_refundable(),
            klarna_order.captured_amount - klarna_order.refunded_amount,
        )
        self._klarna_check_amount(amount_minor, allowed, "refund")
        credit_note = order_tx._klarna_credit_note(amount_minor)
        order_lines = order_tx._klarna_order_lines(
            amount_minor, [credit_note.invoice_line_ids] if credit_note else []
        )
        order_tx._klarna_check_intents("refund", amount_minor)

        def send(client, key, reference):
            return client.refund(
                order_tx.klarna_order_id,
                amount_minor,
                idempotency_key=key,
                order_lines=order_lines,
                description=credit_note.name if credit_note else None,
                reference=reference,
            )

        refund_id, reference = order_tx._klarna_call("refund", amount_minor, send)
        refund_tx = super()._send_refund_request(amount_to_refund=self._klarna_major(amount_minor))
        refund_tx.provider_reference = refund_id
        if credit_note:
            refund_tx.invoice_ids = credit_note
        refund_tx._klarna_set_outcome("done", "refund")
        order_tx._klarna_log_operation(
            self.env._(
                "Klarna refunded %(amount)s of order %(order)s: refund %(refund)s "
                "(operation %(operation)s%(details)s).",
                amount=self._klarna_format(amount_minor),
                order=order_tx.klarna_order_id,
                refund=refund_id,
                operation=reference,
                details=self._klarna_details(order_lines, None, credit_note),
            )
        )
        # The customer does not come back to trigger post-processing of a refund.
        self.env.ref("payment.cron_post_process_payment_tx")._trigger()
        return refund_tx

    def _klarna_extend_authorization(self):
        """Push back the expiry of the uncaptured authorization (Klarna: 28 days by default)."""
        self.ensure_one()
        self._klarna_lock()
        self._klarna_check_state("authorized", "extend")
        klarna_order = self._klarna_read_order()
        if klarna_order.status not in OPEN_STATUSES:
            raise UserError(self._klarna_closed_message(klarna_order, "extend"))
        self._klarna_call(
            "extend",
            0,
            lambda client, key, _reference: client.extend_authorization_time(
                self.klarna_order_id, idempotency_key=key
            ),
        )
        self._klarna_read_order()
        self.klarna_expiry_warned = False
        self._klarna_log_operation(
            self.env._(
                "Klarna extended the authorization of order %(order)s; it now expires on "
                "%(date)s (UTC).",
                order=self.klarna_order_id,
                date=self.klarna_expires_at or self.env._("an unknown date"),
            )
        )

    # === BUSINESS METHODS - THE TWO-PHASE CALL === #

    def _klarna_call(self, kind, amount_minor, send):
        """Record the intent, call Klarna with the operation's key, record the outcome.

        ``send(client, idempotency_key, reference)`` makes the call. Returns what it returned
        and the operation's reference. A refusal is recorded as failed, written on the
        documents' chatter and raised to the user with Klarna's message and correlation id;
        an unknown outcome (timeout, outage, unreadable answer) leaves the intent open, for
        a retry with the same key or for the reconciliation cron.
        """
        self.ensure_one()
        operations = self.env["payment.klarna.operation"]
        operation_id, key, reference = operations._begin(self, kind, amount_minor)
        client = self.provider_id.sudo()._klarna_get_client()
        try:
            result = send(client, key, reference)
        except KlarnaError as error:
            unknown = error.retryable or isinstance(error, KlarnaProtocolError)
            text = self._klarna_error_text(error)
            if unknown:
                message = self.env._(
                    "Klarna: the %(operation)s of %(amount)s for %(reference)s got no clear "
                    "answer (%(error)s). Try again: the retry carries the same idempotency key, "
                    "so Klarna cannot apply it twice; otherwise Odoo checks with Klarna within "
                    "the hour.",
                    operation=kind,
                    amount=self._klarna_format(amount_minor),
                    reference=self.reference,
                    error=text,
                )
            else:
                message = self.env._(
                    "Klarna: the %(operation)s of %(amount)s for %(reference)s was refused: "
                    "%(error)s",
                    operation=kind,
                    amount=self._klarna_format(amount_minor),
                    reference=self.reference,
                    error=text,
                )
                operations._finish(
                    operation_id,
                    "failed",
                    message=text,
                    correlation_id=error.correlation_id or False,
                )
            self._klarna_log_in_journal(message)
            raise UserError(message) from error
        operations._finish(operation_id, "done", klarna_reference=result or False)
        return result, reference

    def _klarna_error_text(self, error):
        """Klarna's own words and the correlation id support asks for."""
        text = "; ".join(error.error_messages) or error.detail or error.lead
        if error.error_code:
            text = f"{error.error_code}: {text}"
        if error.correlation_id:
            text += self.env._(" [correlation id %(id)s]", id=error.correlation_id)
        return text

    def _klarna_log_in_journal(self, message):
        """Write a failure on the chatter where it survives the rollback of the user's request."""
        try:
            with journal_env(self.env) as env:
                self.with_env(env).sudo()._klarna_log_operation(message)
        except psycopg2.OperationalError as error:  # e.g. the documents are locked
            _logger.warning("Klarna: %s not written on the chatter (%s)", self.reference, error)

    # === BUSINESS METHODS - CHECKS AND AMOUNTS === #

    def _klarna_order_tx(self):
        """The transaction that holds the Klarna order (self, or the source of a child)."""
        if self.klarna_order_id or not self.source_transaction_id:
            return self
        return self.source_transaction_id._klarna_order_tx()

    def _klarna_check_state(self, state, operation):
        if self.state != state or not self._klarna_order_tx().klarna_order_id:
            raise UserError(
                self.env._(
                    "Klarna: %(reference)s cannot get a %(operation)s: it is %(state)s in Odoo, "
                    "and a %(operation)s needs a Klarna order that is %(expected)s.",
                    reference=self.reference,
                    operation=operation,
                    state=self.state,
                    expected=state,
                )
            )

    def _klarna_read_order(self):
        """Read the Klarna order (the truth before acting) and keep its expiry."""
        try:
            klarna_order = (
                self.provider_id.sudo()._klarna_get_client().get_order(self.klarna_order_id)
            )
        except KlarnaError as error:
            raise UserError(
                self.env._(
                    "Klarna: order %(order)s could not be read: %(error)s",
                    order=self.klarna_order_id,
                    error=self._klarna_error_text(error),
                )
            ) from error
        self.klarna_expires_at = _expiry(klarna_order) or self.klarna_expires_at
        return klarna_order

    def _klarna_check_amount(self, amount_minor, allowed, operation):
        if amount_minor <= 0 or amount_minor > allowed:
            raise UserError(
                self.env._(
                    "Klarna: cannot %(operation)s %(amount)s for %(reference)s: at most "
                    "%(allowed)s can be.",
                    operation=operation,
                    amount=self._klarna_format(amount_minor),
                    reference=self.reference,
                    allowed=self._klarna_format(max(allowed, 0)),
                )
            )

    def _klarna_closed_message(self, klarna_order, operation):
        if klarna_order.status == "EXPIRED":
            return self.env._(
                "Klarna: the authorization of order %(order)s expired; it cannot get a "
                "%(operation)s any more.",
                order=klarna_order.order_id,
                operation=operation,
            )
        return self.env._(
            "Klarna: order %(order)s is %(status)s in Klarna; it cannot get a %(operation)s.",
            order=klarna_order.order_id,
            status=klarna_order.status,
            operation=operation,
        )

    def _klarna_out_of_step_message(self, klarna_order):
        return self.env._(
            "Klarna: order %(order)s has %(klarna_captured)s captured and %(klarna_refunded)s "
            "refunded in Klarna, but %(captured)s and %(refunded)s in Odoo: something was done "
            "in Klarna's portal. Click Check with Klarna on the transaction (or wait for the "
            "hourly check) so that Odoo records it, then try again.",
            order=klarna_order.order_id,
            klarna_captured=self._klarna_format(klarna_order.captured_amount),
            klarna_refunded=self._klarna_format(klarna_order.refunded_amount),
            captured=self._klarna_format(self._klarna_amounts()["captured"]),
            refunded=self._klarna_format(self._klarna_refunded()),
        )

    def _klarna_minor(self, amount):
        return to_minor(amount, self.currency_id.decimal_places)

    def _klarna_major(self, amount_minor):
        return float(from_minor(amount_minor, self.currency_id.decimal_places))

    def _klarna_format(self, amount_minor):
        return format_amount(self.env, self._klarna_major(amount_minor), self.currency_id)

    def _klarna_captures(self):
        """Odoo's captures of the order transaction: its capture children, or itself."""
        children = self.child_transaction_ids.filtered(lambda tx: tx.operation == self.operation)
        captures = children.filtered(lambda tx: tx.state == "done")
        if not children and self.state == "done":
            captures = self
        return captures

    def _klarna_amounts(self):
        """Minor units of the order transaction: captured, voided and still capturable."""
        children = self.child_transaction_ids.filtered(lambda tx: tx.operation == self.operation)
        captured = sum(self._klarna_minor(tx.amount) for tx in self._klarna_captures())
        voided = sum(self._klarna_minor(tx.amount) for tx in children if tx.state == "cancel")
        authorized = self._klarna_minor(self.amount)
        return {"captured": captured, "voided": voided, "remaining": authorized - captured - voided}

    def _klarna_refunded(self):
        """Minor units Odoo has refunded on the order: done refunds of it and of its captures."""
        refunds = (self | self.child_transaction_ids).child_transaction_ids.filtered(
            lambda tx: tx.operation == "refund" and tx.state == "done"
        )
        return sum(self._klarna_minor(-tx.amount) for tx in refunds)

    def _klarna_refundable(self):
        """What the payment of this transaction still allows to refund, in minor units."""
        refunds = self.child_transaction_ids.filtered(
            lambda tx: tx.operation == "refund" and tx.state in ("pending", "authorized", "done")
        )
        return self._klarna_minor(self.amount) + sum(
            self._klarna_minor(tx.amount) for tx in refunds
        )

    # === BUSINESS METHODS - ORDER LINES === #

    def _klarna_line_sets(self):
        """Line sets a capture may be made of: the whole order, then each posted invoice."""
        invoices = (self.invoice_ids | self.sale_order_ids.invoice_ids).filtered(
            lambda move: move.move_type == "out_invoice" and move.state == "posted"
        )
        return [self.sale_order_ids.order_line, *(move.invoice_line_ids for move in invoices)]

    def _klarna_order_lines(self, amount_minor, line_sets):
        """Klarna order_lines for the first set of lines adding up to ``amount_minor``, or None."""
        for lines in line_sets:
            if lines._name == "sale.order.line":
                lines = lines.filtered(lambda line: not line.display_type and line.product_uom_qty)
            else:
                lines = lines.filtered(
                    lambda line: line.display_type == "product" and line.quantity
                )
            if lines and lines.currency_id == self.currency_id:
                total = sum(self._klarna_minor(line.price_total) for line in lines)
                if total == amount_minor:
                    return amount_lines(self, amount_minor, lines)["order_lines"]
        return None

    def _klarna_credit_note(self, amount_minor):
        """The credit note this refund settles: named in the context, else an open one of the
        same amount reversing one of the order's invoices."""
        moves = self.env["account.move"]
        if credit_note_id := self.env.context.get("klarna_credit_note_id"):
            return moves.browse(credit_note_id)
        invoices = self.invoice_ids | self.sale_order_ids.invoice_ids
        candidates = invoices | moves.search(
            [("reversed_entry_id", "in", invoices.ids), ("move_type", "=", "out_refund")]
        )
        return candidates.filtered(
            lambda move: (
                move.move_type == "out_refund"
                and move.state == "posted"
                and move.payment_state in ("not_paid", "partial")
                and self._klarna_minor(move.amount_residual) == amount_minor
            )
        ).sorted("id")[:1]

    # === BUSINESS METHODS - KLARNA'S BOOKS BEFORE A CAPTURE OR REFUND === #

    def _klarna_settle(self, klarna_order, source):
        """Record what Klarna already holds of Odoo's own calls, then require equal books.

        A capture or refund whose answer was lost is in Klarna's order under the reference of
        Odoo's operation: it is recorded as if the answer had come (operation done, Odoo's
        child), instead of being sent again. Anything else Klarna holds that Odoo has not
        recorded was done elsewhere; acting before reconciliation records it could capture or
        refund the same goods twice.

        :param klarna_order: the order as just read, ``self`` being the order transaction
        :param source: the transaction an adopted refund is recorded on (the one refunded)
        :return: ``{kind: transaction}`` of the last capture and refund recorded; a capture
                 of the whole amount is the order transaction itself
        :raise UserError: if Klarna's captured or refunded total still differs from Odoo's
        """
        self._klarna_resolve_intents(klarna_order, held_only=True)
        ours, _elsewhere = reconcile.unrecorded(
            klarna_order, self._klarna_recorded_ids(), self._klarna_sent_references()
        )
        adopted = self._klarna_record_items(ours, source)
        if (klarna_order.captured_amount, klarna_order.refunded_amount) != (
            self._klarna_amounts()["captured"],
            self._klarna_refunded(),
        ):
            raise UserError(self._klarna_out_of_step_message(klarna_order))
        return adopted

    def _klarna_adopted(self, kind, record, amount_minor):
        """Answer a capture or refund request with the earlier one Klarna already held.

        A different amount asked now is not sent: whether it was meant as a retry or as one
        more operation cannot be known, and sending it could move money twice. The staff sees
        the recorded one and asks again if more is due.
        """
        adopted_minor = abs(self._klarna_minor(record.amount))
        if adopted_minor != amount_minor:
            self._klarna_log_operation(
                self.env._(
                    "Klarna: the %(operation)s of %(asked)s for %(reference)s was not sent: "
                    "Klarna already held the %(operation)s of %(held)s from an earlier attempt "
                    "whose answer was lost, and Odoo recorded that one. Ask again if more is "
                    "due.",
                    operation=kind,
                    asked=self._klarna_format(amount_minor),
                    reference=self.reference,
                    held=self._klarna_format(adopted_minor),
                )
            )
        if kind == "capture" and record == self:
            return self.env["payment.transaction"]  # Odoo's answer to a capture of the whole
        return record

    def _klarna_check_intents(self, kind, amount_minor):
        """Before a new call: settle earlier calls of this kind that got no answer.

        Those Klarna holds were recorded by ``_klarna_settle``. One it does not show may be
        under way still: only its exact retry (same amount, hence same idempotency key) may
        go. Past ``INTENT_GRACE`` it never reached Klarna: it is closed as failed, in the log's
        own transaction, so that the new call draws a new key and reference.
        """
        operations = self.env["payment.klarna.operation"].sudo()
        now = fields.Datetime.now()
        intents = operations.search(
            [
                ("transaction_id", "=", self.id),
                ("kind", "=", kind),
                ("origin", "=", "odoo"),
                ("state", "=", "intent"),
            ]
        )
        for intent in intents:
            if intent.create_date < now - INTENT_GRACE:
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
                        amount=self._klarna_format(intent.amount_minor),
                        reference=self.reference,
                        sent=fields.Datetime.to_string(intent.create_date),
                        until=fields.Datetime.to_string(intent.create_date + INTENT_GRACE),
                    )
                )

    def _klarna_recorded_ids(self):
        """Klarna ids of the captures and refunds Odoo has recorded for this order."""
        captures = self.child_transaction_ids.filtered(lambda tx: tx.operation == self.operation)
        refunds = (self | captures).child_transaction_ids.filtered(
            lambda tx: tx.operation == "refund"
        )
        return (
            self._klarna_known("capture", captures)
            | self._klarna_known("refund", refunds)
            | {self.klarna_capture_id}
        )

    def _klarna_sent_references(self):
        """References of every capture and refund Odoo sent (or tried to) for this order."""
        return set(
            self.env["payment.klarna.operation"]
            .sudo()
            .search(
                [
                    ("transaction_id", "=", self.id),
                    ("origin", "=", "odoo"),
                    ("kind", "in", ("capture", "refund")),
                ]
            )
            .mapped("reference")
        )

    # === BUSINESS METHODS - RECORDING OUTCOMES === #

    def _klarna_set_outcome(self, outcome, source, message=None):
        """Apply an outcome through the one door that changes states."""
        data = {"reference": self.reference, "outcome": outcome, "source": source}
        if message:
            data["message"] = message
        self._handle_notification_data(const.PROVIDER_CODE, data)

    def _klarna_record_capture(self, capture_id, child, source):
        """Make Odoo show a Klarna capture: a done child, or the whole transaction done."""
        if child:
            child.provider_reference = capture_id
            child._klarna_set_outcome("done", source)
        else:
            self.klarna_capture_id = capture_id
            self._klarna_set_outcome("done", source)

    def _klarna_details(self, order_lines, shipping_info, credit_note=None):
        parts = []
        if order_lines:
            parts.append(self.env._("%(count)s order lines", count=len(order_lines)))
        if shipping_info:
            numbers = ", ".join(info.get("tracking_number", "") for info in shipping_info)
            parts.append(self.env._("tracking %(numbers)s", numbers=numbers))
        if credit_note:
            parts.append(self.env._("credit note %(name)s", name=credit_note.name))
        return "".join(f"; {part}" for part in parts)

    def _klarna_log_operation(self, message):
        """Chatter of the sale orders and invoices the (source) transaction pays."""
        self._log_message_on_linked_documents(message)

    # === RECONCILIATION === #

    @api.model
    def _cron_klarna_reconcile(self):
        """Bring open Klarna transactions in line with their Klarna orders.

        Open: pending or authorized, done recently enough for a refund in Klarna's portal, or
        holding an operation whose outcome is unknown. The least recently reconciled first.
        """
        now = fields.Datetime.now()
        intent_tx_ids = (
            self.env["payment.klarna.operation"]
            .sudo()
            .search([("state", "=", "intent"), ("create_date", "<", now - INTENT_GRACE)])
            .transaction_id.ids
        )
        txs = self.search(
            [
                ("provider_code", "=", const.PROVIDER_CODE),
                ("klarna_order_id", "!=", False),
                "|",
                "|",
                ("id", "in", intent_tx_ids),
                ("state", "in", ("pending", "authorized")),
                "&",
                ("state", "=", "done"),
                ("last_state_change", ">", now - RECONCILE_DONE_FOR),
            ],
            order="klarna_reconciled_at ASC NULLS FIRST, id",
            limit=RECONCILE_BATCH,
        )
        for tx in txs:
            tx._klarna_run_apart("reconciliation", tx._klarna_reconcile)
            tx.klarna_reconciled_at = now  # even after a failure: it must not starve the others
            if not in_test():
                self.env.cr.commit()  # pylint: disable=invalid-commit

    def _klarna_run_apart(self, job, method, *args):
        """Run a cron's work on one transaction in a savepoint and log any failure.

        Nothing raised here may stop the cron: a transaction failing in a way nobody foresaw
        would fail every run again and keep the others waiting. Klarna's refusals and Odoo's
        checks are expected and logged with their text; anything else with its type and place
        only (see ``_error_origin``).
        """
        try:
            with self.env.cr.savepoint():
                method(*args)
        except (KlarnaError, UserError) as error:
            _logger.warning("Klarna %s of %s failed: %s", job, self.reference, error)
        except Exception as error:  # anything at all: see the docstring
            _logger.error(
                "Klarna %s of %s failed unexpectedly: %s", job, self.reference, _error_origin(error)
            )

    def _klarna_reconcile(self):
        """Read the order and correct Odoo: unknown outcomes, captures and refunds made
        elsewhere, and the end of the order (cancelled, expired, closed, fully captured).

        Returns the order as read, for callers that report what Klarna said."""
        self.ensure_one()
        self._klarna_lock()
        klarna_order = self._klarna_read_order()
        self._klarna_resolve_intents(klarna_order)
        ours, elsewhere = reconcile.unrecorded(
            klarna_order, self._klarna_recorded_ids(), self._klarna_sent_references()
        )
        self._klarna_record_items(ours + elsewhere, self)
        self._klarna_reconcile_status(klarna_order)
        return klarna_order

    def _klarna_resolve_intents(self, klarna_order, held_only=False):
        """Close operations whose outcome is unknown with what the order shows.

        A capture or refund Klarna holds under the operation's reference is done at once, at
        any age, and so is one recorded as failed (Klarna applied an earlier attempt and
        refused the retry): Klarna's books win. Any other verdict waits for ``INTENT_GRACE``,
        when the call cannot be running any more; ``held_only`` skips those.
        """
        operations = self.env["payment.klarna.operation"].sudo()
        now = fields.Datetime.now()
        held = reconcile.held_references(klarna_order)
        pending = operations.search(
            [
                ("transaction_id", "=", self.id),
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
            if operation.kind in ("capture", "refund"):
                fate = reconcile.fate(
                    operation.reference, held, now - operation.create_date, INTENT_GRACE
                )
                if fate == reconcile.RUNNING or (held_only and fate != reconcile.HELD):
                    continue
                found = held.get(operation.reference, False)
            elif held_only or operation.create_date >= now - INTENT_GRACE:
                continue
            elif operation.kind == "cancel":
                found = klarna_order.status == "CANCELLED"
            elif operation.kind == "release":
                found = klarna_order.remaining_authorized_amount == 0
            else:  # extend: visible as an expiry beyond the notice period from the attempt
                expiry = _expiry(klarna_order)
                found = bool(expiry and expiry > operation.create_date + EXPIRY_NOTICE)
            values = {"message": self.env._("Outcome read from the Klarna order.")}
            if isinstance(found, str):
                values["klarna_reference"] = found
            was_refused = operation.state == "failed"
            # Written with the corrections below, in this transaction: no call is involved.
            operation.write({"state": "done" if found else "failed", **values})
            self._klarna_log_operation(
                self.env._(
                    "Klarna reconciliation: operation %(operation)s (%(kind)s of %(amount)s) "
                    "was recorded as refused; the Klarna order shows it done.",
                    operation=operation.reference,
                    kind=operation.kind,
                    amount=self._klarna_format(operation.amount_minor),
                )
                if was_refused
                else self.env._(
                    "Klarna reconciliation: operation %(operation)s (%(kind)s of %(amount)s) "
                    "had no recorded outcome; the Klarna order shows it %(outcome)s.",
                    operation=operation.reference,
                    kind=operation.kind,
                    amount=self._klarna_format(operation.amount_minor),
                    outcome=self.env._("done") if found else self.env._("never happened"),
                )
            )

    def _klarna_known(self, kind, transactions):
        """Klarna ids Odoo has recorded: on ``transactions``, or noted from outside Odoo."""
        noted = (
            self.env["payment.klarna.operation"]
            .sudo()
            .search(
                [("transaction_id", "=", self.id), ("kind", "=", kind), ("origin", "=", "klarna")]
            )
        )
        return set(transactions.mapped("provider_reference")) | set(
            noted.mapped("klarna_reference")
        )

    def _klarna_record_items(self, items, source):
        """Record Klarna's captures and refunds that Odoo lacks (``reconcile.Item``).

        :param source: the transaction refunds are recorded on
        :return: ``{kind: transaction}`` of the last capture and refund recorded (for a capture
                 of the whole amount, ``self``)
        """
        recorded = {}
        for item in sorted(items, key=lambda item: item.kind == "refund"):
            record = (
                self._klarna_record_capture_item(item)
                if item.kind == "capture"
                else source._klarna_record_refund_item(self, item)
            )
            if record:
                recorded[item.kind] = record
        return recorded

    def _klarna_record_capture_item(self, item):
        children = self.child_transaction_ids.filtered(lambda tx: tx.operation == self.operation)
        whole = not children and item.amount == self._klarna_minor(self.amount)
        if whole and self.state == "done" and not self.klarna_capture_id:
            # Captured as the order was placed (auto_capture): only the id was missing.
            self.klarna_capture_id = item.klarna_id
            return None
        if self.state != "authorized":
            self._klarna_note_outside(
                "capture",
                item.klarna_id,
                item.amount,
                self.env._(
                    "Klarna reconciliation: Klarna shows capture %(capture)s of %(amount)s "
                    "that Odoo cannot record on %(reference)s (%(state)s): please review.",
                    capture=item.klarna_id,
                    amount=self._klarna_format(item.amount),
                    reference=self.reference,
                    state=self.state,
                ),
            )
            return None
        child = self.env["payment.transaction"]
        if not whole:
            child = self._create_child_transaction(self._klarna_major(item.amount))
        self._klarna_record_capture(item.klarna_id, child, "reconciliation")
        self._klarna_note_outside("capture", item.klarna_id, item.amount)
        return child or self

    def _klarna_record_refund_item(self, order_tx, item):
        """Record a refund Klarna holds as a refund of ``self`` (the order or a capture)."""
        refund_tx = self._create_child_transaction(
            self._klarna_major(item.amount), is_refund=True, provider_reference=item.klarna_id
        )
        refund_tx._klarna_set_outcome("done", "reconciliation")
        order_tx._klarna_note_outside("refund", item.klarna_id, item.amount)
        return refund_tx

    def _klarna_note_outside(self, kind, klarna_reference, amount_minor, message=None):
        """Log a capture or refund Odoo did not record itself, once, on the chatter and as an
        operation (unless it was Odoo's own call whose outcome was lost)."""
        operations = self.env["payment.klarna.operation"].sudo()
        mine = operations.search(
            [
                ("transaction_id", "=", self.id),
                ("kind", "=", kind),
                ("klarna_reference", "=", klarna_reference),
            ]
        )
        if not mine:
            operations.create(
                {
                    "transaction_id": self.id,
                    "kind": kind,
                    "origin": "klarna",
                    "reference": klarna_reference,
                    "amount_minor": amount_minor,
                    "state": "done" if message is None else "failed",
                    "klarna_reference": klarna_reference,
                    "message": message or self.env._("Done outside Odoo, found by reconciliation."),
                }
            )
        self._klarna_log_operation(
            message
            or self.env._(
                "Klarna reconciliation: %(kind)s %(id)s of %(amount)s, %(origin)s, is now "
                "recorded in Odoo.",
                kind=kind,
                id=klarna_reference,
                amount=self._klarna_format(amount_minor),
                origin=self.env._("sent by Odoo but never recorded")
                if mine
                else self.env._("done outside Odoo"),
            )
        )

    def _klarna_reconcile_status(self, klarna_order):
        """An order Klarna ended: cancel the authorization, or close the rest of a partial one."""
        if self.state not in ("pending", "authorized"):
            return
        if klarna_order.status in OPEN_STATUSES and self.state == "authorized":
            return
        remaining = self._klarna_amounts()["remaining"]
        if self.state == "authorized" and self._klarna_captures() and remaining > 0:
            child = self._create_child_transaction(self._klarna_major(remaining))
            child._klarna_set_outcome(
                "cancel",
                "reconciliation",
                self.env._("Klarna: the order is %(status)s.", status=klarna_order.status),
            )
        else:
            before = self.state
            self._klarna_sync_from_order(klarna_order, "reconciliation")
            if self.state == before:
                return
        self._klarna_log_operation(
            self.env._(
                "Klarna reconciliation: order %(order)s is %(status)s in Klarna; %(reference)s "
                "is now %(state)s in Odoo.",
                order=klarna_order.order_id,
                status=klarna_order.status,
                reference=self.reference,
                state=self.state,
            )
        )

    # === AUTHORIZATION EXPIRY === #

    @api.model
    def _cron_klarna_extend_authorizations(self):
        """Extend authorizations about to expire where the merchant enabled it, else warn."""
        now = fields.Datetime.now()
        txs = self.search(
            [
                ("provider_code", "=", const.PROVIDER_CODE),
                ("state", "=", "authorized"),
                ("klarna_order_id", "!=", False),
                "|",
                ("klarna_expires_at", "<=", now + EXPIRY_NOTICE),
                "&",
                ("klarna_expires_at", "=", False),
                ("create_date", "<=", now + EXPIRY_NOTICE - AUTHORIZATION_LIFETIME),
            ]
        )
        for tx in txs:
            tx._klarna_run_apart("expiry handling", tx._klarna_handle_expiry, now)
            if not in_test():
                self.env.cr.commit()  # pylint: disable=invalid-commit

    def _klarna_handle_expiry(self, now):
        klarna_order = self._klarna_read_order()
        if klarna_order.status not in OPEN_STATUSES:
            self._klarna_reconcile()
            return
        expiry = self.klarna_expires_at or self.create_date + AUTHORIZATION_LIFETIME
        if expiry > now + EXPIRY_NOTICE:
            return
        if self.provider_id.klarna_auto_extend:
            self._klarna_extend_authorization()
        elif not self.klarna_expiry_warned:
            self.sale_order_ids._klarna_warn_expiry(self, expiry)
            self.klarna_expiry_warned = True
