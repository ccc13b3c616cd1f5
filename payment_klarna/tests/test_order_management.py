from contextlib import ExitStack, contextmanager, suppress
from datetime import timedelta
from unittest.mock import ANY, patch

from odoo import fields
from odoo.exceptions import UserError
from odoo.fields import Command
from odoo.tests import tagged
from odoo.tools import SQL, mute_logger

from odoo.addons.payment_klarna import compat
from odoo.addons.payment_klarna.klarna.client import KlarnaClient
from odoo.addons.payment_klarna.klarna.errors import KlarnaConflict, KlarnaUnavailable
from odoo.addons.payment_klarna.klarna.idempotency import operation_key
from odoo.addons.payment_klarna.klarna.results import Capture, KlarnaOrder, Refund
from odoo.addons.payment_klarna.tests.common import KlarnaCommon

ORDER_ID = "klarna-order-1"
MANAGEMENT_LOGGER = "odoo.addons.payment_klarna.models.payment_transaction"


def klarna_order(
    amount,
    status="AUTHORIZED",
    captures=(),
    refunds=(),
    remaining=None,
    expires_at="2030-01-01T00:00:00.000Z",
):
    """An Order Management order as ``KlarnaClient.get_order`` returns it (minor units)."""
    captured = sum(capture.captured_amount for capture in captures)
    if remaining is None:
        remaining = amount - captured if status in ("AUTHORIZED", "PART_CAPTURED") else 0
    return KlarnaOrder(
        order_id=ORDER_ID,
        status=status,
        fraud_status="ACCEPTED",
        order_amount=amount,
        captured_amount=captured,
        refunded_amount=sum(refund.refunded_amount for refund in refunds),
        remaining_authorized_amount=remaining,
        purchase_currency="EUR",
        expires_at=expires_at,
        captures=tuple(captures),
        refunds=tuple(refunds),
        raw={},
    )


def capture(capture_id, amount, reference=None):
    return Capture(capture_id, amount, "2025-01-02T10:00:00.000Z", 0, reference, None)


def refund(refund_id, amount, reference=None):
    return Refund(refund_id, amount, "2025-01-03T10:00:00.000Z", reference, None)


class KlarnaManagementCommon(KlarnaCommon):
    """A confirmed sales order paid by an authorized Klarna transaction, and Klarna mocked."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pricelist_eur = cls._eur_pricelist()
        cls.tax_21 = cls._tax("VAT 21%", 21)
        cls.chair = cls._product("Chair", "CHAIR-01", 100.0)
        cls.lamp = cls._product("Lamp", "LAMP-01", 50.0)

    @classmethod
    def _product(cls, name, code, price):
        return cls.env["product.product"].create(
            {
                "name": name,
                "default_code": code,
                "type": "consu",
                "list_price": price,
                "invoice_policy": "order",
                "taxes_id": [Command.set(cls.tax_21.ids)],
            }
        )

    def _order(self, lines=None):
        """Two chairs (242.00 with VAT) and a lamp (60.50): 302.50 EUR."""
        lines = lines or [(self.chair, 2, 100.0), (self.lamp, 1, 50.0)]
        return self.env["sale.order"].create(
            {
                "partner_id": self.partner.id,
                "pricelist_id": self.pricelist_eur.id,
                "order_line": [
                    Command.create({"product_id": p.id, "product_uom_qty": q, "price_unit": u})
                    for p, q, u in lines
                ],
            }
        )

    def _authorized_tx(self, order=None, klarna_order_id=ORDER_ID, **values):
        order = order or self._order()
        order.action_confirm()
        return self._create_transaction(
            "direct",
            state="authorized",
            amount=order.amount_total,
            klarna_order_id=klarna_order_id,
            provider_reference=klarna_order_id,
            sale_order_ids=[Command.set(order.ids)],
            **values,
        )

    def _captured_tx(self):
        tx = self._authorized_tx()
        with self._klarna(klarna_order(30250), capture="capture-1"):
            self._capture_wizard(tx)
        return tx

    @contextmanager
    def _klarna(self, *orders, **methods):
        """Mock the client at its boundary: ``get_order`` answers ``orders`` in turn (the last
        one repeats); each keyword patches the method of that name with its return value, or
        with a side effect when it is an exception or a list."""
        answers = list(orders)

        def get_order(_client, order_id):
            self.assertEqual(order_id, ORDER_ID)
            return answers.pop(0) if len(answers) > 1 else answers[0]

        with ExitStack() as stack:
            mocks = {
                "get_order": stack.enter_context(
                    patch.object(KlarnaClient, "get_order", autospec=True, side_effect=get_order)
                )
            }
            for name, value in methods.items():
                effect = "side_effect" if isinstance(value, (list, Exception)) else "return_value"
                mocks[name] = stack.enter_context(
                    patch.object(KlarnaClient, name, **{effect: value})
                )
            yield mocks

    def _capture_wizard(self, tx, amount=None, void_rest=False):
        values = {"void_remaining_amount": void_rest}
        if amount is not None:
            values["amount_to_capture"] = amount
        wizard = (
            self.env["payment.capture.wizard"]
            .with_context(active_model="payment.transaction", active_ids=tx.ids)
            .create(values)
        )
        wizard.action_capture()

    def _operations(self, tx, kind=None):
        domain = [("transaction_id", "=", tx.id)] + ([("kind", "=", kind)] if kind else [])
        return self.env["payment.klarna.operation"].sudo().search(domain, order="id")

    def _chatter(self, record):
        return "\n".join(str(body) for body in record.message_ids.mapped("body"))

    def _age(self, operations, hours=1):
        """Make operations look ``hours`` old (past the grace period, or Klarna's 24 h)."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "UPDATE payment_klarna_operation SET create_date = create_date - %s WHERE id IN %s",
                timedelta(hours=hours),
                tuple(operations.ids),
            )
        )
        operations.invalidate_recordset(["create_date"])

    def _try(self, method, *args, **kwargs):
        """Call and return the UserError, keeping what was written (assertRaises rolls back)."""
        try:
            method(*args, **kwargs)
        except UserError as error:
            return error
        self.fail("UserError not raised")


@tagged("post_install", "-at_install")
class TestKlarnaCapture(KlarnaManagementCommon):
    def test_full_capture_sends_the_order_lines_and_confirms_the_transaction(self):
        tx = self._authorized_tx()
        with self._klarna(klarna_order(30250), capture="capture-1") as klarna:
            self._capture_wizard(tx)
        args, kwargs = klarna["capture"].call_args
        self.assertEqual(args, (ORDER_ID, 30250))
        self.assertEqual(kwargs["idempotency_key"], operation_key(tx.reference, "capture", 30250))
        self.assertEqual(kwargs["reference"], f"{tx.reference}-capture-1")
        self.assertEqual(
            [
                (line["reference"], line["quantity"], line["total_amount"])
                for line in kwargs["order_lines"]
            ],
            [("CHAIR-01", 2, 24200), ("LAMP-01", 1, 6050)],
        )
        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.klarna_capture_id, "capture-1")
        self.assertFalse(tx.child_transaction_ids)
        operation = self._operations(tx)
        self.assertRecordValues(
            operation,
            [
                {
                    "kind": "capture",
                    "state": "done",
                    "amount_minor": 30250,
                    "klarna_reference": "capture-1",
                }
            ],
        )
        self.assertIn("capture-1", self._chatter(tx.sale_order_ids))

    def test_partial_captures_create_children_with_distinct_keys(self):
        tx = self._authorized_tx()
        with self._klarna(klarna_order(30250), capture="capture-1") as klarna:
            self._capture_wizard(tx, amount=100.0)
        child = tx.child_transaction_ids
        self.assertRecordValues(
            child, [{"amount": 100.0, "state": "done", "provider_reference": "capture-1"}]
        )
        self.assertEqual(tx.state, "authorized")
        first = klarna["capture"].call_args
        # 100.00 matches neither the order nor an invoice: the amount goes alone.
        self.assertIsNone(first.kwargs["order_lines"])

        order = klarna_order(30250, "PART_CAPTURED", [capture("capture-1", 10000)])
        with self._klarna(order, capture="capture-2") as klarna:
            self._capture_wizard(tx, amount=100.0)
        second = klarna["capture"].call_args
        self.assertEqual(second.args, (ORDER_ID, 10000))
        self.assertEqual(
            second.kwargs["idempotency_key"], operation_key(tx.reference, "capture", 10000, 1)
        )
        self.assertNotEqual(first.kwargs["idempotency_key"], second.kwargs["idempotency_key"])

        order = klarna_order(
            30250, "PART_CAPTURED", [capture("capture-1", 10000), capture("capture-2", 10000)]
        )
        with self._klarna(order, capture="capture-3") as klarna:
            self._capture_wizard(tx)  # the rest: 102.50
        self.assertEqual(klarna["capture"].call_args.args, (ORDER_ID, 10250))
        self.assertEqual(
            sorted(tx.child_transaction_ids.mapped("provider_reference")),
            ["capture-1", "capture-2", "capture-3"],
        )
        self.assertEqual(tx.state, "done")

    def test_capture_of_a_posted_invoice_sends_its_lines(self):
        tx = self._authorized_tx()
        invoice = tx.sale_order_ids._create_invoices()
        invoice.invoice_line_ids.filtered(lambda line: line.product_id == self.chair).unlink()
        invoice.action_post()
        with self._klarna(klarna_order(30250), capture="capture-1") as klarna:
            compat.capture(tx, 60.5)
        lines = klarna["capture"].call_args.kwargs["order_lines"]
        self.assertEqual(
            [(line["reference"], line["total_amount"]) for line in lines], [("LAMP-01", 6050)]
        )

    def test_over_capture_is_refused_before_calling_klarna(self):
        tx = self._authorized_tx()
        with (
            self._klarna(klarna_order(30250), capture="capture-1") as klarna,
            self.assertRaisesRegex(UserError, "at most"),
        ):
            compat.capture(tx, 302.51)
        klarna["capture"].assert_not_called()
        # Klarna knows less is left (captured in its portal): Klarna's figure wins.
        with (
            self._klarna(klarna_order(30250, remaining=5000), capture="capture-1") as klarna,
            self.assertRaisesRegex(UserError, "at most"),
        ):
            compat.capture(tx, 60.0)
        klarna["capture"].assert_not_called()

    def test_capture_of_an_expired_or_cancelled_authorization_is_refused(self):
        tx = self._authorized_tx()
        for status, text in (("EXPIRED", "expired"), ("CANCELLED", "CANCELLED")):
            with (
                self._klarna(klarna_order(30250, status), capture="capture-1") as klarna,
                self.assertRaisesRegex(UserError, text),
            ):
                compat.capture(tx, 10.0)
            klarna["capture"].assert_not_called()

    def test_a_refusal_shows_klarna_message_and_correlation_id(self):
        tx = self._authorized_tx()
        refusal = KlarnaConflict(
            status=403,
            error_code="CAPTURE_NOT_ALLOWED",
            error_messages=["Capture amount exceeds remaining amount"],
            correlation_id="corr-123",
        )
        with self._klarna(klarna_order(30250), capture=refusal):
            error = self._try(compat.capture, tx, 10.0)
        self.assertIn("CAPTURE_NOT_ALLOWED: Capture amount exceeds remaining amount", str(error))
        self.assertIn("corr-123", str(error))
        self.assertRecordValues(
            self._operations(tx), [{"state": "failed", "correlation_id": "corr-123"}]
        )
        self.assertIn("corr-123", self._chatter(tx.sale_order_ids))
        self.assertEqual(tx.state, "authorized")

    def test_a_retry_after_a_timeout_carries_the_same_idempotency_key(self):
        tx = self._authorized_tx()
        timeout = KlarnaUnavailable("no answer within 20 s")
        with self._klarna(klarna_order(30250), capture=[timeout, "capture-1"]) as klarna:
            error = self._try(compat.capture, tx, 100.0)
            self.assertIn("same idempotency key", str(error))
            self.assertRecordValues(self._operations(tx), [{"state": "intent"}])
            compat.capture(tx, 100.0)
        first, second = klarna["capture"].call_args_list
        self.assertEqual(first.kwargs["idempotency_key"], second.kwargs["idempotency_key"])
        self.assertEqual(first.kwargs["reference"], second.kwargs["reference"])
        self.assertRecordValues(
            self._operations(tx), [{"state": "done", "klarna_reference": "capture-1"}]
        )
        self.assertEqual(len(tx.child_transaction_ids), 1)


@tagged("post_install", "-at_install")
class TestKlarnaVoid(KlarnaManagementCommon):
    def test_void_before_any_capture_cancels_the_order(self):
        tx = self._authorized_tx()
        with self._klarna(klarna_order(30250), cancel_order=None) as klarna:
            tx.action_void()
        klarna["cancel_order"].assert_called_once_with(
            ORDER_ID, idempotency_key=operation_key(tx.reference, "cancel", 30250)
        )
        self.assertEqual(tx.state, "cancel")
        self.assertIn("order cancelled", self._chatter(tx.sale_order_ids))

    def test_void_after_a_partial_capture_releases_the_rest(self):
        tx = self._authorized_tx()
        with self._klarna(klarna_order(30250), capture="capture-1"):
            self._capture_wizard(tx, amount=100.0)
        order = klarna_order(30250, "PART_CAPTURED", [capture("capture-1", 10000)])
        with self._klarna(order, release_remaining_authorization=None, cancel_order=None) as klarna:
            tx.action_void()
        klarna["cancel_order"].assert_not_called()
        klarna["release_remaining_authorization"].assert_called_once_with(
            ORDER_ID, idempotency_key=operation_key(tx.reference, "release", 20250)
        )
        void = tx.child_transaction_ids.filtered(lambda child: child.state == "cancel")
        self.assertEqual(void.amount, 202.5)
        self.assertEqual(tx.state, "done")  # Odoo closes a transaction fully captured or voided

    def test_capture_wizard_voids_the_remaining_amount(self):
        tx = self._authorized_tx()
        order = klarna_order(30250)
        after = klarna_order(30250, "PART_CAPTURED", [capture("capture-1", 10000)])
        with self._klarna(
            order, after, capture="capture-1", release_remaining_authorization=None
        ) as klarna:
            self._capture_wizard(tx, amount=100.0, void_rest=True)
        klarna["release_remaining_authorization"].assert_called_once()
        self.assertEqual(sorted(tx.child_transaction_ids.mapped("state")), ["cancel", "done"])
        self.assertEqual(tx.state, "done")

    def test_cancelling_the_sale_order_voids_its_authorization(self):
        tx = self._authorized_tx()
        order = tx.sale_order_ids
        with self._klarna(klarna_order(30250), cancel_order=None) as klarna:
            order.with_context(disable_cancel_warning=True).action_cancel()
        klarna["cancel_order"].assert_called_once()
        self.assertEqual(order.state, "cancel")
        self.assertEqual(tx.state, "cancel")

    def test_a_refused_void_keeps_the_sale_order(self):
        tx = self._authorized_tx()
        order = tx.sale_order_ids
        refusal = KlarnaConflict(error_code="CANCEL_NOT_ALLOWED", correlation_id="corr-9")
        with (
            self._klarna(klarna_order(30250), cancel_order=refusal),
            self.assertRaisesRegex(UserError, "corr-9"),
        ):
            order.with_context(disable_cancel_warning=True).action_cancel()
        self.assertEqual(order.state, "sale")
        self.assertEqual(tx.state, "authorized")


@tagged("post_install", "-at_install")
class TestKlarnaRefund(KlarnaManagementCommon):
    def _paid_invoice(self, tx):
        """The order's invoice, paid by the Klarna payment as Odoo's post-processing does."""
        invoice = tx.sale_order_ids._create_invoices()
        invoice.action_post()
        tx.invoice_ids = invoice
        return invoice, tx._create_payment()

    def _credit_note(self, invoice, product):
        """A posted credit note for ``product`` alone, made with Odoo's reversal wizard."""
        reversal = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"journal_id": invoice.journal_id.id, "reason": "Returned"})
        )
        credit_note = self.env["account.move"].browse(reversal.refund_moves()["res_id"])
        credit_note.invoice_line_ids.filtered(lambda line: line.product_id != product).unlink()
        credit_note.action_post()
        return credit_note

    def test_refund_from_the_payment_sends_the_credit_note_lines(self):
        tx = self._captured_tx()
        invoice, payment = self._paid_invoice(tx)
        credit_note = self._credit_note(invoice, self.lamp)
        self.assertEqual(credit_note.payment_state, "not_paid")
        captured = klarna_order(30250, "CAPTURED", [capture("capture-1", 30250)])
        with self._klarna(captured, refund="refund-1") as klarna:
            wizard = (
                self.env["payment.refund.wizard"]
                .with_context(active_model="account.payment", active_id=payment.id)
                .create({"amount_to_refund": 60.5})
            )
            wizard.action_refund()
        args, kwargs = klarna["refund"].call_args
        self.assertEqual(args, (ORDER_ID, 6050))
        self.assertEqual(kwargs["idempotency_key"], operation_key(tx.reference, "refund", 6050))
        self.assertEqual(
            [(line["reference"], line["total_amount"]) for line in kwargs["order_lines"]],
            [("LAMP-01", 6050)],
        )
        self.assertEqual(kwargs["description"], credit_note.name)
        refund_tx = tx.child_transaction_ids.filtered(lambda child: child.operation == "refund")
        self.assertRecordValues(
            refund_tx,
            [{"amount": -60.5, "state": "done", "provider_reference": "refund-1"}],
        )
        self.assertEqual(refund_tx.invoice_ids, credit_note)
        self.assertIn("refund-1", self._chatter(tx.sale_order_ids))
        # What account_payment's post-processing does (patched out by PaymentCommon).
        refund_tx._create_payment()
        self.assertIn(credit_note.payment_state, ("paid", "in_payment"))

    def test_refund_without_credit_note_sends_the_amount(self):
        tx = self._captured_tx()
        captured = klarna_order(30250, "CAPTURED", [capture("capture-1", 30250)])
        with self._klarna(captured, refund="refund-1") as klarna:
            tx.action_refund(amount_to_refund=10.0)
        self.assertIsNone(klarna["refund"].call_args.kwargs["order_lines"])

    def test_over_refund_is_refused(self):
        tx = self._captured_tx()
        captured = klarna_order(30250, "CAPTURED", [capture("capture-1", 30250)])
        with (
            self._klarna(captured, refund="refund-1") as klarna,
            self.assertRaisesRegex(UserError, "at most"),
        ):
            tx.action_refund(amount_to_refund=302.51)
        klarna["refund"].assert_not_called()
        # Odoo's own refunds count too.
        refunded = klarna_order(
            30250, "CAPTURED", [capture("capture-1", 30250)], [refund("refund-1", 30000)]
        )
        with self._klarna(captured, refunded, refund="refund-1") as klarna:
            tx.action_refund(amount_to_refund=300.0)
            with self.assertRaisesRegex(UserError, "at most"):
                tx.action_refund(amount_to_refund=2.51)
        self.assertEqual(klarna["refund"].call_count, 1)

    def test_refund_of_a_partial_capture_is_sent_for_the_order(self):
        tx = self._authorized_tx()
        with self._klarna(klarna_order(30250), capture="capture-1"):
            self._capture_wizard(tx, amount=100.0)
        child = tx.child_transaction_ids
        order = klarna_order(30250, "PART_CAPTURED", [capture("capture-1", 10000)])
        with self._klarna(order, refund="refund-1") as klarna:
            child.action_refund(amount_to_refund=40.0)
        self.assertEqual(klarna["refund"].call_args.args, (ORDER_ID, 4000))
        self.assertEqual(
            klarna["refund"].call_args.kwargs["idempotency_key"],
            operation_key(tx.reference, "refund", 4000),
        )
        self.assertEqual(child.child_transaction_ids.amount, -40.0)
        order = klarna_order(
            30250, "PART_CAPTURED", [capture("capture-1", 10000)], [refund("refund-1", 4000)]
        )
        with (
            self._klarna(order, refund="refund-2") as klarna,
            self.assertRaisesRegex(UserError, "at most"),
        ):
            child.action_refund(amount_to_refund=60.01)


@tagged("post_install", "-at_install")
class TestKlarnaExpiry(KlarnaManagementCommon):
    def _expiring_tx(self):
        tx = self._authorized_tx()
        tx.klarna_expires_at = fields.Datetime.now() + timedelta(days=3)
        return tx

    def test_the_daily_cron_extends_expiring_authorizations_when_enabled(self):
        self.klarna.klarna_auto_extend = True
        tx = self._expiring_tx()
        soon = klarna_order(
            30250,
            expires_at=fields.Datetime.to_string(tx.klarna_expires_at).replace(" ", "T") + ".000Z",
        )
        later = klarna_order(30250, expires_at="2031-06-01T12:00:00.000Z")
        with self._klarna(soon, later, extend_authorization_time=None) as klarna:
            tx._cron_klarna_extend_authorizations()
        klarna["extend_authorization_time"].assert_called_once_with(
            ORDER_ID, idempotency_key=operation_key(tx.reference, "extend", 0)
        )
        self.assertEqual(fields.Datetime.to_string(tx.klarna_expires_at), "2031-06-01 12:00:00")
        self.assertIn("extended", self._chatter(tx.sale_order_ids))

    def test_without_extension_the_sale_order_is_warned_once(self):
        tx = self._expiring_tx()
        soon = klarna_order(
            30250,
            expires_at=fields.Datetime.to_string(tx.klarna_expires_at).replace(" ", "T") + ".000Z",
        )
        with self._klarna(soon, extend_authorization_time=None) as klarna:
            tx._cron_klarna_extend_authorizations()
            tx._cron_klarna_extend_authorizations()
        klarna["extend_authorization_time"].assert_not_called()
        order = tx.sale_order_ids
        self.assertEqual(self._chatter(order).count("expires on"), 1)
        self.assertEqual(len(order.activity_ids), 1)

    def test_authorizations_far_from_expiry_are_left_alone(self):
        self.klarna.klarna_auto_extend = True
        tx = self._authorized_tx()
        tx.klarna_expires_at = fields.Datetime.now() + timedelta(days=20)
        with self._klarna(klarna_order(30250), extend_authorization_time=None) as klarna:
            tx._cron_klarna_extend_authorizations()
        klarna["get_order"].assert_not_called()
        klarna["extend_authorization_time"].assert_not_called()


@tagged("post_install", "-at_install")
class TestKlarnaReconciliation(KlarnaManagementCommon):
    def _reconcile(self, tx):
        tx._cron_klarna_reconcile()

    def test_a_crash_between_the_call_and_the_commit_is_repaired(self):
        tx = self._authorized_tx()
        crash = RuntimeError("worker killed after Klarna answered")
        with self._klarna(klarna_order(30250), capture=[crash]) as klarna, suppress(RuntimeError):
            compat.capture(tx, 100.0)
        intent = self._operations(tx)
        self.assertRecordValues(intent, [{"state": "intent", "amount_minor": 10000}])
        sent = klarna["capture"].call_args.kwargs["reference"]
        self.assertFalse(tx.child_transaction_ids)
        # Klarna did capture; the reconciliation reads it back by the operation's reference.
        self._age(intent)
        order = klarna_order(30250, "PART_CAPTURED", [capture("capture-7", 10000, sent)])
        with self._klarna(order):
            self._reconcile(tx)
        self.assertRecordValues(intent, [{"state": "done", "klarna_reference": "capture-7"}])
        self.assertRecordValues(
            tx.child_transaction_ids,
            [{"amount": 100.0, "state": "done", "provider_reference": "capture-7"}],
        )
        self.assertEqual(len(self._operations(tx)), 1)
        self.assertIn("sent by Odoo but never recorded", self._chatter(tx.sale_order_ids))

    def test_an_intent_klarna_never_received_is_closed_as_failed(self):
        tx = self._authorized_tx()
        with self._klarna(klarna_order(30250), capture=[KlarnaUnavailable("no connection")]):
            self._try(compat.capture, tx, 100.0)
        intent = self._operations(tx)
        with self._klarna(klarna_order(30250)):
            self._reconcile(tx)
        self.assertEqual(intent.state, "intent")  # too recent: the call may still be running
        self._age(intent)
        with self._klarna(klarna_order(30250)):
            self._reconcile(tx)
        self.assertEqual(intent.state, "failed")
        self.assertFalse(tx.child_transaction_ids)

    def test_captures_and_refunds_done_outside_odoo_are_picked_up(self):
        tx = self._authorized_tx()
        order = klarna_order(
            30250,
            "PART_CAPTURED",
            [capture("portal-capture", 20000)],
            [refund("portal-refund", 5000)],
        )
        with self._klarna(order):
            self._reconcile(tx)
            self._reconcile(tx)  # nothing twice
        capture_tx = tx.child_transaction_ids.filtered(lambda child: child.operation != "refund")
        refund_tx = tx.child_transaction_ids.filtered(lambda child: child.operation == "refund")
        self.assertRecordValues(
            capture_tx, [{"amount": 200.0, "state": "done", "provider_reference": "portal-capture"}]
        )
        self.assertRecordValues(
            refund_tx, [{"amount": -50.0, "state": "done", "provider_reference": "portal-refund"}]
        )
        self.assertEqual(self._operations(tx).mapped("origin"), ["klarna", "klarna"])
        chatter = self._chatter(tx.sale_order_ids)
        self.assertIn("portal-capture", chatter)
        self.assertIn("portal-refund", chatter)

    def test_a_full_capture_in_the_portal_confirms_the_transaction(self):
        tx = self._authorized_tx()
        with self._klarna(klarna_order(30250, "CAPTURED", [capture("portal-capture", 30250)])):
            self._reconcile(tx)
        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.klarna_capture_id, "portal-capture")

    def test_a_capture_made_at_placement_only_gets_its_id(self):
        tx = self._authorized_tx()
        tx._set_done()  # auto_capture at placement: done, but the Capture-Id is unknown
        order = klarna_order(30250, "CAPTURED", [capture("auto-capture", 30250)])
        with self._klarna(order):
            self._reconcile(tx)
            self._reconcile(tx)
        self.assertEqual(tx.klarna_capture_id, "auto-capture")
        self.assertFalse(tx.child_transaction_ids)
        self.assertFalse(self._operations(tx))
        self.assertNotIn("reconciliation", self._chatter(tx.sale_order_ids))

    def test_a_capture_odoo_cannot_record_is_reported_once(self):
        tx = self._authorized_tx()
        with self._klarna(klarna_order(30250), capture="capture-1"):
            self._capture_wizard(tx)
        order = klarna_order(
            30250, "CAPTURED", [capture("capture-1", 30250), capture("capture-x", 100)]
        )
        with self._klarna(order):
            self._reconcile(tx)
            self._reconcile(tx)
        self.assertEqual(self._chatter(tx.sale_order_ids).count("please review"), 1)
        self.assertRecordValues(
            self._operations(tx).filtered(lambda op: op.origin == "klarna"),
            [{"state": "failed", "klarna_reference": "capture-x"}],
        )

    def test_a_cancelled_order_cancels_the_transaction(self):
        tx = self._authorized_tx()
        with self._klarna(klarna_order(30250, "CANCELLED")):
            self._reconcile(tx)
        self.assertEqual(tx.state, "cancel")
        self.assertIn("CANCELLED", self._chatter(tx.sale_order_ids))

    def test_an_expired_remainder_closes_a_partly_captured_transaction(self):
        tx = self._authorized_tx()
        with self._klarna(klarna_order(30250), capture="capture-1"):
            self._capture_wizard(tx, amount=100.0)
        with self._klarna(klarna_order(30250, "EXPIRED", [capture("capture-1", 10000)])):
            self._reconcile(tx)
        void = tx.child_transaction_ids.filtered(lambda child: child.state == "cancel")
        self.assertEqual(void.amount, 202.5)
        self.assertEqual(tx.state, "done")
        self.assertIn("EXPIRED", self._chatter(tx.sale_order_ids))


@tagged("post_install", "-at_install")
class TestKlarnaLostAnswers(KlarnaManagementCommon):
    """A capture or refund whose answer was lost is adopted from Klarna's order, never resent."""

    def _lost(self, call, tx, kind, *args):
        """``call(tx, *args)`` while Klarna's answer to the ``kind`` call is lost; the intent."""
        with self._klarna(
            klarna_order(30250, "CAPTURED", [capture("capture-1", 30250)])
            if kind == "refund"
            else klarna_order(30250),
            **{kind: [KlarnaUnavailable("no answer within 20 s")]},
        ):
            self._try(call, tx, *args)
        order_tx = tx.source_transaction_id or tx
        return self._operations(order_tx, kind)

    def test_a_full_capture_retried_after_a_lost_answer_is_adopted(self):
        tx = self._authorized_tx()
        intent = self._lost(compat.capture, tx, "capture")
        applied = klarna_order(30250, "CAPTURED", [capture("capture-9", 30250, intent.reference)])
        with self._klarna(applied, capture="capture-10") as klarna:
            self._capture_wizard(tx)
        klarna["capture"].assert_not_called()
        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.klarna_capture_id, "capture-9")
        self.assertFalse(tx.child_transaction_ids)
        self.assertRecordValues(
            self._operations(tx), [{"state": "done", "klarna_reference": "capture-9"}]
        )
        self.assertIn("capture-9", self._chatter(tx.sale_order_ids))

    def test_a_partial_capture_retried_after_klarna_forgot_the_key_is_not_sent_again(self):
        tx = self._authorized_tx()
        intent = self._lost(compat.capture, tx, "capture", 100.0)
        self._age(intent, hours=25)  # Klarna keeps an idempotency key for about 24 h
        applied = klarna_order(
            30250, "PART_CAPTURED", [capture("capture-9", 10000, intent.reference)]
        )
        with self._klarna(applied, capture="capture-10") as klarna:
            child = compat.capture(tx, 100.0)
        klarna["capture"].assert_not_called()
        self.assertEqual(child, tx.child_transaction_ids)
        self.assertRecordValues(
            child, [{"amount": 100.0, "state": "done", "provider_reference": "capture-9"}]
        )
        self.assertRecordValues(intent, [{"state": "done", "klarna_reference": "capture-9"}])
        self.assertEqual(len(self._operations(tx)), 1)

    def test_a_refund_retried_with_another_amount_adopts_the_first_one(self):
        tx = self._captured_tx()
        intent = self._lost(compat.refund, tx, "refund", 50.0)
        applied = klarna_order(
            30250,
            "CAPTURED",
            [capture("capture-1", 30250)],
            [refund("refund-9", 5000, intent.reference)],
        )
        with self._klarna(applied, refund="refund-10") as klarna:
            refund_tx = compat.refund(tx, 40.0)
        klarna["refund"].assert_not_called()
        self.assertRecordValues(
            refund_tx, [{"amount": -50.0, "state": "done", "provider_reference": "refund-9"}]
        )
        self.assertEqual(refund_tx, tx.child_transaction_ids)
        self.assertRecordValues(intent, [{"state": "done", "klarna_reference": "refund-9"}])
        self.assertIn("refund-9", self._chatter(tx.sale_order_ids))

    def test_a_capture_made_in_klarna_portal_meanwhile_stops_odoo_from_capturing(self):
        tx = self._authorized_tx()
        order = klarna_order(30250, "PART_CAPTURED", [capture("portal-capture", 5000)])
        with self._klarna(order, capture="capture-1") as klarna:
            error = self._try(compat.capture, tx, 100.0)
        klarna["capture"].assert_not_called()
        self.assertIn("Check with Klarna", str(error))
        self.assertFalse(tx.child_transaction_ids)
        self.assertFalse(self._operations(tx))

    def test_a_refund_made_in_klarna_portal_meanwhile_stops_odoo_from_refunding(self):
        tx = self._captured_tx()
        order = klarna_order(
            30250, "CAPTURED", [capture("capture-1", 30250)], [refund("portal-refund", 5000)]
        )
        with self._klarna(order, refund="refund-1") as klarna:
            error = self._try(compat.refund, tx, 50.0)
        klarna["refund"].assert_not_called()
        self.assertIn("Check with Klarna", str(error))
        self.assertFalse(tx.child_transaction_ids)

    def test_an_unanswered_capture_klarna_does_not_show_blocks_another_amount_until_stale(self):
        tx = self._authorized_tx()
        intent = self._lost(compat.capture, tx, "capture", 100.0)
        with self._klarna(klarna_order(30250), capture="capture-1") as klarna:
            error = self._try(compat.capture, tx, 90.0)
        klarna["capture"].assert_not_called()
        self.assertIn("retry", str(error))
        self.assertEqual(intent.state, "intent")
        # Past the grace period, Klarna's order proves the call never arrived.
        self._age(intent)
        with self._klarna(klarna_order(30250), capture="capture-1") as klarna:
            child = compat.capture(tx, 90.0)
        self.assertEqual(intent.state, "failed")
        self.assertEqual(
            klarna["capture"].call_args.kwargs["idempotency_key"],
            operation_key(tx.reference, "capture", 9000, 1),
        )
        self.assertEqual(
            klarna["capture"].call_args.kwargs["reference"], f"{tx.reference}-capture-2"
        )
        self.assertRecordValues(child, [{"amount": 90.0, "provider_reference": "capture-1"}])

    def test_reconciliation_adopts_a_capture_klarna_holds_without_waiting(self):
        tx = self._authorized_tx()
        intent = self._lost(compat.capture, tx, "capture", 100.0)
        order = klarna_order(
            30250, "PART_CAPTURED", [capture("capture-9", 10000, intent.reference)]
        )
        with self._klarna(order):
            tx._cron_klarna_reconcile()
        self._age(intent)
        with self._klarna(order):
            tx._cron_klarna_reconcile()
        self.assertRecordValues(intent, [{"state": "done", "klarna_reference": "capture-9"}])
        self.assertEqual(len(self._operations(tx)), 1)
        self.assertRecordValues(
            tx.child_transaction_ids, [{"amount": 100.0, "provider_reference": "capture-9"}]
        )


@tagged("post_install", "-at_install")
class TestKlarnaCronIsolation(KlarnaManagementCommon):
    """One transaction failing in any way never stops the reconcile or extend job."""

    def _two_txs(self, tag):
        bad = self._authorized_tx(klarna_order_id=f"bad-{tag}", reference=f"KL-BAD-{tag}")
        good = self._authorized_tx(klarna_order_id=f"good-{tag}", reference=f"KL-OK-{tag}")
        return bad, good

    @contextmanager
    def _bad_order(self, failure, good_order):
        """``get_order`` fails with ``failure`` for the bad order; the good one is read."""

        def get_order(_client, order_id):
            if order_id.startswith("bad-"):
                failure()
            return good_order

        with patch.object(KlarnaClient, "get_order", autospec=True, side_effect=get_order):
            yield

    def _key_error(self):
        raise KeyError("kim.customer@example.com")

    def _sql_error(self):
        self.env.cr.execute("SELECT 1 / 0")

    def _assert_logged_safely(self, logs, bad):
        text = "\n".join(logs.output)
        self.assertIn(bad.reference, text)
        self.assertNotIn("kim.customer@example.com", text)
        self.assertNotIn("playground-password", text)

    def test_reconciliation_survives_any_error_of_one_transaction(self):
        for failure in (self._key_error, self._sql_error):
            with self.subTest(failure=failure.__name__):
                bad, good = self._two_txs(failure.__name__)
                with (
                    self._bad_order(failure, klarna_order(30250, "CANCELLED")),
                    mute_logger("odoo.sql_db"),
                    self.assertLogs(MANAGEMENT_LOGGER, "ERROR") as logs,
                ):
                    bad._cron_klarna_reconcile()
                self.assertEqual(good.state, "cancel")
                self.assertEqual(bad.state, "authorized")
                # Checked now: it no longer sorts first and starves the others.
                self.assertTrue(bad.klarna_reconciled_at)
                self.assertEqual(bad.klarna_reconciled_at, good.klarna_reconciled_at)
                self._assert_logged_safely(logs, bad)
                (bad | good).klarna_order_id = False  # out of the next round's way

    def test_the_extend_job_survives_any_error_of_one_transaction(self):
        self.klarna.klarna_auto_extend = True
        for failure in (self._key_error, self._sql_error):
            with self.subTest(failure=failure.__name__):
                bad, good = self._two_txs(failure.__name__)
                soon = fields.Datetime.now() + timedelta(days=3)
                (bad | good).klarna_expires_at = soon
                expiring = klarna_order(30250, expires_at=soon.isoformat() + "Z")
                with (
                    self._bad_order(failure, expiring),
                    patch.object(KlarnaClient, "extend_authorization_time") as extend,
                    mute_logger("odoo.sql_db"),
                    self.assertLogs(MANAGEMENT_LOGGER, "ERROR") as logs,
                ):
                    bad._cron_klarna_extend_authorizations()
                extend.assert_called_once_with(good.klarna_order_id, idempotency_key=ANY)
                self._assert_logged_safely(logs, bad)
                (bad | good).klarna_order_id = False
