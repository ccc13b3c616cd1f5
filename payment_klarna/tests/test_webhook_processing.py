import json
from datetime import timedelta
from unittest.mock import patch

from psycopg2 import IntegrityError

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.payment_klarna import const
from odoo.addons.payment_klarna.klarna.client import KlarnaClient
from odoo.addons.payment_klarna.klarna.errors import KlarnaUnavailable
from odoo.addons.payment_klarna.klarna.events import LegacyNotification, parse_event
from odoo.addons.payment_klarna.klarna.results import Capture, KlarnaOrder, Refund
from odoo.addons.payment_klarna.klarna.signature import VerifiedSignature
from odoo.addons.payment_klarna.models.payment_klarna_event import TransactionMismatch
from odoo.addons.payment_klarna.tests.test_webhook import IBAN, WebhookCommon

SIGNED = VerifiedSignature("payload-signature", "1", None)


def klarna_order(status="AUTHORIZED", fraud_status="ACCEPTED", captured=0, refunded=0):
    return KlarnaOrder(
        order_id="ord-1",
        status=status,
        fraud_status=fraud_status,
        order_amount=1111,
        captured_amount=captured,
        refunded_amount=refunded,
        remaining_authorized_amount=1111 - captured,
        purchase_currency="EUR",
        expires_at=None,
        captures=(),
        refunds=(),
        raw={},
    )


@tagged("post_install", "-at_install")
class TestWebhookProcessing(WebhookCommon):
    def setUp(self):
        super().setUp()
        self.tx = self._create_transaction("direct", state="pending", klarna_order_id="ord-1")

    def _store(self, event_type="non_guaranteed_payment.updated", **payload):
        event = parse_event(self._body(event_type, **payload))
        return self.Event.sudo()._klarna_store_event(event, self.klarna, SIGNED)

    def _process(self, *events):
        self.Event._cron_process()
        for event in events:
            event.invalidate_recordset()
        self.tx.invalidate_recordset()

    def _due_now(self, event):
        event.next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)

    # === SEVERAL WORKERS === #

    def test_the_inbox_has_its_workers(self):
        workers = self.Event._klarna_workers()
        self.assertEqual(len(workers), const.EVENT_WORKERS)
        self.assertTrue(all(workers.mapped("active")))
        self.assertEqual(set(workers.mapped("code")), {"model._cron_process()"})

    def test_a_backlog_wakes_the_other_workers_only(self):
        workers = self.Event._klarna_workers()
        triggers = self.env["ir.cron.trigger"].sudo()
        worker = self.Event.sudo().with_context(cron_id=workers[1].id)
        for _ in range(const.EVENT_WORKER_BACKLOG - 1):
            self._store("merchant.settings.updated")
        triggers.search([]).unlink()
        self.assertFalse(worker._klarna_wake_helpers())
        self.assertFalse(triggers.search([]))
        self._store("merchant.settings.updated")
        triggers.search([]).unlink()
        self.assertTrue(worker._klarna_wake_helpers())
        self.assertEqual(triggers.search([]).cron_id, workers - workers[1])

    # === PAYMENT STATUS === #

    def test_unpaid_keeps_the_transaction_pending(self):
        event = self._store(payment_status="UNPAID")
        self._process(event)
        self.assertEqual(self.tx.state, "pending")
        self.assertEqual((event.state, event.attempts), ("processed", 1))

    def test_paid_uncaptured_order_becomes_authorized(self):
        event = self._store(payment_status="PAID")
        self._process(event)
        self.assertEqual(self.tx.state, "authorized")
        self.assertIn("pending -> authorized", event.outcome)

    def test_paid_order_captured_at_placement_becomes_done(self):
        self.klarna.klarna_capture_policy = "at_placement"
        self._process(self._store(payment_status="PAID"))
        self.assertEqual(self.tx.state, "done")

    def test_paid_after_a_partial_capture_stays_authorized(self):
        """Only a capture at placement makes a PAID order done: the rest of a partially
        captured authorization can still be captured."""
        self.tx._set_authorized()
        self.tx._create_child_transaction(5.0)._set_done()
        event = self._store(payment_status="PAID")
        self._process(event)
        self.assertEqual(self.tx.state, "authorized")
        self.assertIn("stays authorized (Klarna: authorized)", event.outcome)

    def test_closed_order_is_canceled(self):
        self._process(self._store(payment_status="CLOSED"))
        self.assertEqual(self.tx.state, "cancel")
        self.assertIn("did not arrive in time", self.tx.state_message)

    def test_klarna_payment_overrides_a_transaction_odoo_canceled(self):
        order = self.env["sale.order"].create({"partner_id": self.partner.id})
        self.tx.sale_order_ids = order
        self.tx._set_canceled(state_message="canceled by hand")
        self.klarna.klarna_capture_policy = "at_placement"
        self._process(self._store(payment_status="PAID"))
        self.assertEqual(self.tx.state, "done")
        self.assertIn(
            "which Odoo had as cancel: Klarna's status is applied",
            " ".join(order.message_ids.mapped("body")),
        )

    def test_klarna_cancel_never_overrides_a_done_transaction(self):
        order = self.env["sale.order"].create({"partner_id": self.partner.id})
        self.tx.sale_order_ids = order
        self.tx._set_done()
        event = self._store(payment_status="CLOSED")
        self._process(event)
        self.assertEqual((self.tx.state, event.state), ("done", "processed"))
        self.assertIn(
            "please review it in Klarna's portal", " ".join(order.message_ids.mapped("body"))
        )

    def test_late_unpaid_never_moves_a_paid_transaction_back(self):
        paid = self._store(payment_status="PAID")
        unpaid = self._store(payment_status="UNPAID")
        # Klarna's retries reorder deliveries: the UNPAID arrives after the PAID.
        paid.next_attempt_at = unpaid.next_attempt_at - timedelta(seconds=1)
        self._process(paid, unpaid)
        self.assertEqual(self.tx.state, "authorized")
        self.assertEqual(unpaid.state, "processed")
        self.assertIn("stays authorized", unpaid.outcome)

    def test_duplicate_event_id_is_stored_once(self):
        body = self._body()
        first = self.Event._klarna_store_event(parse_event(body), self.klarna, SIGNED)
        again = self.Event._klarna_store_event(parse_event(body), self.klarna, SIGNED)
        self.assertTrue(first)
        self.assertFalse(again)
        self.assertEqual(self.Event.search_count([("event_id", "=", first.event_id)]), 1)

    # === ONE LOOKUP === #

    def _lookup(self, **data):
        return self.env["payment.transaction"]._klarna_find_tx(data)

    def test_lookup_prefers_the_order_and_stays_inside_the_provider(self):
        # The merchant reference can be edited in Klarna's portal; the order id cannot.
        self.assertEqual(self._lookup(klarna_order_id="ord-1", reference="edited"), self.tx)
        self.assertEqual(
            self._lookup(reference=self.tx.reference, provider_id=self.klarna.id), self.tx
        )
        other = self.klarna.copy({"name": "Klarna 2", "klarna_api_username": "PK2"})
        for data in ({"klarna_order_id": "ord-1"}, {"reference": self.tx.reference}):
            with self.assertRaisesRegex(TransactionMismatch, "another provider"):
                self._lookup(**data, provider_id=other.id)
        with self.assertRaisesRegex(TransactionMismatch, "another Klarna order"):
            self._lookup(reference=self.tx.reference, klarna_order_id="ord-2")
        with self.assertRaisesRegex(ValidationError, "no transaction matches"):
            self._lookup(klarna_order_id="ord-404", provider_id=self.klarna.id)

    def test_lookup_refuses_malformed_data(self):
        for data in ({}, {"reference": ["S1"]}, {"klarna_order_id": 7}, {"reference": None}):
            with self.assertRaisesRegex(ValidationError, "without a usable reference"):
                self._lookup(**data)

    def test_fraud_notification_is_stored_for_the_transaction_of_its_order(self):
        event = self.Event._klarna_store_legacy(
            LegacyNotification(order_id="ord-1", event_type="FRAUD_RISK_ACCEPTED"), 0
        )
        self.assertEqual((event.transaction_id, event.provider_id), (self.tx, self.klarna))
        unknown = LegacyNotification(order_id="ord-404", event_type="FRAUD_RISK_ACCEPTED")
        self.assertIsNone(self.Event._klarna_store_legacy(unknown, 0))

    # === ORDER RE-READ === #

    def test_fraud_notification_is_never_trusted_but_reread(self):
        event = self.Event._klarna_store_legacy(
            LegacyNotification(order_id="ord-1", event_type="FRAUD_RISK_REJECTED"), 0
        )
        with patch.object(
            KlarnaClient, "get_order", autospec=True, return_value=klarna_order()
        ) as get_order:
            self._process(event)
        get_order.assert_called_once()
        self.assertEqual(get_order.call_args.args[1], "ord-1")
        # The body said REJECTED; Klarna's order says ACCEPTED and that is what applies.
        self.assertEqual(self.tx.state, "authorized")
        self.assertEqual(self.tx.klarna_fraud_status, "ACCEPTED")
        self.assertEqual(event.state, "processed")

    def test_capture_notification_rereads_the_order(self):
        self.tx._set_authorized()
        event = self._store("order.captured")
        with patch.object(
            KlarnaClient,
            "get_order",
            autospec=True,
            return_value=klarna_order("CAPTURED", captured=1111),
        ):
            self._process(event)
        self.assertEqual(self.tx.state, "done")
        self.assertIn("order CAPTURED", event.outcome)

    def test_payment_request_expiry_cancels_a_payment_without_order(self):
        tx = self._create_transaction("direct", reference="KLARNA-PR-1")
        event = self._store("payment.request.state-change.expired", order_id=None)
        event.sudo().reference = tx.reference
        self._process(event)
        tx.invalidate_recordset()
        self.assertEqual(tx.state, "cancel")
        self.assertEqual(event.transaction_id, tx)

    def test_payment_request_of_a_placed_order_rereads_the_order(self):
        event = self._store("payment.request.state-change.Cancelled")
        with patch.object(KlarnaClient, "get_order", return_value=klarna_order()) as get_order:
            self._process(event)
        get_order.assert_called_once()
        self.assertEqual(self.tx.state, "authorized")
        self.assertIn("pending -> authorized (Klarna: order AUTHORIZED)", event.outcome)

    def test_payment_request_progress_changes_nothing(self):
        tx = self._create_transaction("direct", reference="KLARNA-PR-2", state="pending")
        event = self._store("payment.request.state-change.IN_PROGRESS", order_id=None)
        event.sudo().reference = tx.reference
        self._process(event)
        tx.invalidate_recordset()
        self.assertEqual(tx.state, "pending")
        self.assertEqual(event.outcome, "KLARNA-PR-2: no change (payment request in_progress).")

    def test_dispute_is_noted_on_the_order(self):
        order = self.env["sale.order"].create({"partner_id": self.partner.id})
        self.tx.sale_order_ids = order
        event = self._store("payment.dispute.created")
        self._process(event)
        self.assertEqual(event.state, "processed")
        self.assertEqual(self.tx.state, "pending")
        self.assertIn(
            "Klarna dispute event payment.dispute.created",
            " ".join(order.message_ids.mapped("body")),
        )

    def test_unknown_event_type_is_stored_and_ignored(self):
        event = self._store("merchant.settings.updated")
        self._process(event)
        self.assertEqual(event.state, "ignored")
        self.assertEqual(self.tx.state, "pending")

    # === FAILURES === #

    @mute_logger("odoo.addons.payment_klarna.models.payment_klarna_event")
    def test_failures_back_off_then_dead_letter_then_retry(self):
        event = self._store(payment_status="PAID", order_id="ord-not-yet-placed")
        before = fields.Datetime.now()
        self._process(event)
        self.assertEqual((event.state, event.attempts), ("pending", 1))
        self.assertGreaterEqual(
            event.next_attempt_at, before + timedelta(seconds=const.EVENT_BACKOFF_SECONDS)
        )
        self.assertIn("no transaction matches", event.last_error)
        self._due_now(event)
        self._process(event)
        self.assertGreaterEqual(
            event.next_attempt_at, before + timedelta(seconds=2 * const.EVENT_BACKOFF_SECONDS)
        )
        for _attempt in range(const.EVENT_MAX_ATTEMPTS - 2):
            self._due_now(event)
            self._process(event)
        self.assertEqual((event.state, event.attempts), ("dead", const.EVENT_MAX_ATTEMPTS))
        self.assertEqual(self.klarna.klarna_dead_event_count, 1)
        self._due_now(event)
        self._process(event)
        self.assertEqual(
            event.attempts, const.EVENT_MAX_ATTEMPTS, "a dead letter is not picked up again"
        )

        self.tx.klarna_order_id = "ord-not-yet-placed"
        event.action_retry()
        self.assertEqual((event.state, event.attempts), ("pending", 0))
        self._process(event)
        self.assertEqual(event.state, "processed")
        self.assertEqual(self.tx.state, "authorized")

    @mute_logger("odoo.addons.payment_klarna.models.payment_klarna_event")
    def test_klarna_outage_is_retried_and_a_dead_letter_can_be_resolved(self):
        event = self.Event._klarna_store_legacy(
            LegacyNotification(order_id="ord-1", event_type="FRAUD_RISK_ACCEPTED"), 0
        )
        with patch.object(KlarnaClient, "get_order", side_effect=KlarnaUnavailable("down")):
            for _attempt in range(const.EVENT_MAX_ATTEMPTS):
                self._due_now(event)
                self._process(event)
        self.assertEqual(event.state, "dead")
        self.assertIn("KlarnaUnavailable", event.last_error)
        self.assertEqual(self.tx.state, "pending")
        event.action_mark_resolved()
        self.assertEqual(event.state, "resolved")
        self.assertEqual(self.klarna.klarna_dead_event_count, 0)

    def test_failed_handler_changes_nothing_of_its_own(self):
        event = self._store(payment_status="PAID")
        with (
            patch.object(type(self.tx), "_set_authorized", side_effect=RuntimeError("boom")),
            mute_logger("odoo.addons.payment_klarna.models.payment_klarna_event"),
        ):
            self._process(event)
        self.assertEqual(self.tx.state, "pending")
        self.assertEqual((event.state, event.attempts), ("pending", 1))
        self.assertIn("RuntimeError: boom", event.last_error)

    def test_provider_smart_button_opens_its_events(self):
        action = self.klarna.action_klarna_view_events()
        self.assertEqual(action["res_model"], "payment.klarna.event")
        self.assertEqual(action["domain"], [("provider_id", "=", self.klarna.id)])

    # === RETENTION === #

    def test_purge_keeps_the_audit_trail_of_finished_events_only(self):
        done = self._store(payment_status="UNPAID")
        self._process(done)
        waiting = self._store("payment.request.state-change.expired", order_id="ord-unknown")
        old = fields.Datetime.now() - timedelta(days=31)
        (done | waiting).sudo().write({"received_at": old})
        self.env["ir.config_parameter"].set_param(const.EVENT_RETENTION_PARAM, "30")
        self.Event._cron_purge_payloads()
        done.invalidate_recordset()
        self.assertTrue(done.payload_purged)
        self.assertFalse(done.payload)
        self.assertEqual(
            (done.event_type, done.state, done.transaction_id),
            (done.event_type, "processed", self.tx),
        )
        self.assertTrue(done.outcome)
        self.assertFalse(waiting.payload_purged)
        self.assertEqual(waiting.payload["payload"]["order_id"], "ord-unknown")
        self.assertNotIn(IBAN, json.dumps(waiting.payload))

    def test_event_ids_are_unique_in_the_database(self):
        event = self._store()
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            self.Event.sudo().create(
                {
                    "event_id": event.event_id,
                    "event_type": "x",
                    "received_at": fields.Datetime.now(),
                }
            )


@tagged("post_install", "-at_install")
class TestWebhookOrderChange(WebhookCommon):
    def test_refund_made_in_klarnas_portal_becomes_an_odoo_refund(self):
        """The event is only a hint: the order read from Klarna is reconciled into Odoo."""
        tx = self._create_transaction(
            "direct", state="authorized", klarna_order_id="ord-1", amount=11.11
        )
        order = KlarnaOrder(
            order_id="ord-1",
            status="CAPTURED",
            fraud_status="ACCEPTED",
            order_amount=1111,
            captured_amount=1111,
            refunded_amount=500,
            remaining_authorized_amount=0,
            purchase_currency="EUR",
            expires_at=None,
            captures=(Capture("cap-1", 1111, "2025-01-02T10:00:00.000Z", 0, None, None),),
            refunds=(Refund("ref-1", 500, "2025-01-03T10:00:00.000Z", None, None),),
            raw={},
        )
        event = self.Event.sudo()._klarna_store_event(
            parse_event(self._body("order.refund.created")), self.klarna, SIGNED
        )
        with patch.object(KlarnaClient, "get_order", return_value=order):
            self.Event._cron_process()
        event.invalidate_recordset()
        self.assertEqual(event.state, "processed")
        self.assertEqual(tx.state, "done")
        refunds = tx.child_transaction_ids.filtered(lambda child: child.operation == "refund")
        self.assertRecordValues(
            refunds, [{"amount": -5.0, "state": "done", "provider_reference": "ref-1"}]
        )
