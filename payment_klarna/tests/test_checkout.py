import json
import logging
import uuid
from contextlib import contextmanager
from datetime import timedelta
from unittest.mock import MagicMock, patch
from urllib.parse import parse_qsl, urlencode

from lxml import etree
from psycopg2 import IntegrityError

from odoo import SUPERUSER_ID, api, fields, sql_db
from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from odoo.addons.payment.tests.http_common import PaymentHttpCommon
from odoo.addons.payment_klarna import compat
from odoo.addons.payment_klarna.controllers.main import KlarnaController
from odoo.addons.payment_klarna.klarna import callback_token
from odoo.addons.payment_klarna.klarna.client import KlarnaClient
from odoo.addons.payment_klarna.klarna.errors import (
    KlarnaNotFound,
    KlarnaUnavailable,
    KlarnaValidationError,
)
from odoo.addons.payment_klarna.klarna.results import (
    PaymentMethodCategory,
    PaymentSession,
    PlacedOrder,
    SessionStatus,
)
from odoo.addons.payment_klarna.models import payment_transaction
from odoo.addons.payment_klarna.tests.common import KlarnaCommon

# Klarna's authorization tokens are UUIDs.
TOKEN = "0b1d9815-165e-42e2-8867-35bc03789e00"
TOKEN_2 = "8f7c1a6e-4c2d-4a57-9a0b-6f2e3d1c4b5a"


def placed(fraud_status="ACCEPTED", order_id="klarna-order-1"):
    return PlacedOrder(order_id, fraud_status, None, None)


def session(session_id="sess-1"):
    return PaymentSession(
        session_id=session_id,
        client_token="client-token",
        payment_method_categories=(PaymentMethodCategory("pay_later", "Pay later", None, None),),
    )


@contextmanager
def captured_logs():
    """Every record down to DEBUG, the server's access log included.

    SQL statements (``odoo.sql_db`` at DEBUG) hold every value by design; they stay out.
    """
    records = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    loggers = {name: logging.getLogger(name) for name in ("", "odoo", "werkzeug", "odoo.sql_db")}
    levels = {name: logger.level for name, logger in loggers.items()}
    for name, logger in loggers.items():
        logger.setLevel(logging.INFO if name == "odoo.sql_db" else logging.DEBUG)
    loggers[""].addHandler(handler)
    try:
        yield records
    finally:
        loggers[""].removeHandler(handler)
        for name, logger in loggers.items():
            logger.setLevel(levels[name])


class KlarnaCheckoutCommon(KlarnaCommon):
    def _tx(self, **values):
        tx = self._create_transaction("direct", **{"klarna_session_id": "sess-1", **values})
        tx.klarna_payment_category = tx._klarna_category()
        return tx

    def _place(self, tx, fraud_status="ACCEPTED", source="browser", **kwargs):
        with patch.object(KlarnaClient, "create_order", return_value=placed(fraud_status)) as call:
            tx._klarna_place_order(TOKEN, source, **kwargs)
        return call


@tagged("post_install", "-at_install")
class TestOrderPlacement(KlarnaCheckoutCommon):
    def test_accepted_authorization_is_authorized_with_the_order_id(self):
        tx = self._tx()
        call = self._place(tx)
        self.assertEqual(tx.state, "authorized")
        self.assertEqual(tx.klarna_order_id, "klarna-order-1")
        self.assertEqual(tx.provider_reference, "klarna-order-1")
        self.assertEqual(tx.klarna_fraud_status, "ACCEPTED")
        args, kwargs = call.call_args
        self.assertEqual(args[0], TOKEN)
        self.assertEqual(args[1]["order_amount"], 111111)  # 1111.11 EUR, from the server's cart
        self.assertEqual(args[1]["merchant_reference1"], tx.reference)
        self.assertFalse(kwargs["auto_capture"])
        self.assertTrue(kwargs["idempotency_key"])

    def test_capture_at_placement_makes_the_transaction_done(self):
        self.klarna.klarna_capture_policy = "at_placement"
        tx = self._tx()
        call = self._place(tx)
        self.assertEqual(tx.state, "done")
        self.assertTrue(call.call_args.kwargs["auto_capture"])

    def test_pending_fraud_review_leaves_the_transaction_pending(self):
        tx = self._tx()
        self._place(tx, "PENDING")
        self.assertEqual(tx.state, "pending")
        self.assertEqual(tx.klarna_order_id, "klarna-order-1")

    def test_rejected_order_is_an_error_with_a_reason(self):
        tx = self._tx()
        self._place(tx, "REJECTED")
        self.assertEqual(tx.state, "error")
        self.assertTrue(tx.state_message)

    def test_pay_now_waits_for_the_money(self):
        tx = self._tx(payment_method_id=self.env.ref("payment.payment_method_klarna_paynow").id)
        self.assertEqual(tx.klarna_payment_category, "pay_now")
        self._place(tx)
        self.assertEqual(tx.state, "pending")

    def test_klarna_refusing_the_cart_is_a_readable_error(self):
        tx = self._tx()
        refusal = KlarnaValidationError(
            status=400, error_code="BAD_VALUE", error_messages=["Bad value: order_lines"]
        )
        with patch.object(KlarnaClient, "create_order", side_effect=refusal):
            tx._klarna_place_order(TOKEN, "browser")
        self.assertEqual(tx.state, "error")
        self.assertIn("Bad value: order_lines", tx.state_message)

    def test_second_placement_is_a_no_op(self):
        tx = self._tx()
        self._place(tx)
        call = self._place(tx, source="callback")
        call.assert_not_called()
        self.assertEqual(tx.klarna_order_id, "klarna-order-1")

    def test_idempotency_key_is_stable_for_the_transaction(self):
        tx = self._tx()
        with patch.object(KlarnaClient, "create_order", side_effect=KlarnaUnavailable("down")):
            with self.assertRaises(KlarnaUnavailable):
                tx._klarna_place_order(TOKEN, "browser")
            first_key = KlarnaClient.create_order.call_args.kwargs["idempotency_key"]
        call = self._place(tx)
        self.assertEqual(call.call_args.kwargs["idempotency_key"], first_key)
        self.assertEqual(tx.state, "authorized")

    def test_an_order_id_belongs_to_one_transaction(self):
        first = self._tx()
        self._place(first)
        second = self._tx(reference="second")
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            second.klarna_order_id = "klarna-order-1"
            second.flush_recordset()

    def test_late_pending_never_moves_a_done_transaction_back(self):
        tx = self._tx()
        self._place(tx)
        compat.handle_notification(
            tx, "klarna", {"reference": tx.reference, "outcome": "done", "source": "webhook"}
        )
        compat.handle_notification(
            tx, "klarna", {"reference": tx.reference, "outcome": "pending", "source": "webhook"}
        )
        self.assertEqual(tx.state, "done")


@tagged("post_install", "-at_install")
class TestRecoveryCron(KlarnaCheckoutCommon):
    def _run_cron(self):
        self.env["payment.transaction"]._cron_klarna_recover_authorizations()

    def _age(self, tx, delta):
        self.env.cr.execute(
            "UPDATE payment_transaction SET create_date = %s WHERE id = %s",
            [fields.Datetime.now() - delta, tx.id],
        )
        tx.invalidate_recordset(["create_date"])

    def _stored(self, tx, token=TOKEN, age=timedelta(minutes=1)):
        tx.sudo().write(
            {
                "klarna_authorization_token": token,
                "klarna_authorization_at": fields.Datetime.now() - age,
                "klarna_recovery_next_at": fields.Datetime.now(),
            }
        )

    def test_stored_callback_token_is_placed(self):
        tx = self._tx()
        self._stored(tx)
        with patch.object(KlarnaClient, "create_order", return_value=placed()) as call:
            self._run_cron()
        self.assertEqual(call.call_args.args[0], TOKEN)
        self.assertEqual(tx.state, "authorized")
        self.assertFalse(tx.sudo().klarna_authorization_token)

    def test_lost_callback_is_recovered_from_the_session(self):
        tx = self._tx()
        self._age(tx, timedelta(minutes=30))
        status = SessionStatus("sess-1", "complete", TOKEN_2, None, None, None, {})
        with (
            patch.object(KlarnaClient, "read_session", return_value=status),
            patch.object(KlarnaClient, "create_order", return_value=placed()) as call,
        ):
            self._run_cron()
        self.assertEqual(call.call_args.args[0], TOKEN_2)
        self.assertEqual(tx.state, "authorized")

    def test_recent_session_is_left_to_the_customer(self):
        tx = self._tx()
        with patch.object(KlarnaClient, "read_session") as read:
            self._run_cron()
        read.assert_not_called()
        self.assertEqual(tx.state, "draft")

    def test_expired_session_cancels_the_transaction(self):
        tx = self._tx()
        self._age(tx, timedelta(minutes=30))
        with patch.object(KlarnaClient, "read_session", side_effect=KlarnaNotFound("gone")):
            self._run_cron()
        self.assertEqual(tx.state, "cancel")
        old = self._tx(reference="old")
        self._age(old, timedelta(hours=49))
        self._run_cron()
        self.assertEqual(old.state, "cancel")

    def test_session_without_authorization_stays_draft_and_is_looked_at_later(self):
        tx = self._tx()
        self._age(tx, timedelta(minutes=30))
        status = SessionStatus("sess-1", "incomplete", None, None, None, None, {})
        with patch.object(KlarnaClient, "read_session", return_value=status) as read:
            self._run_cron()
            self.assertEqual(tx.state, "draft")
            self.assertGreater(tx.klarna_recovery_next_at, fields.Datetime.now())
            self._run_cron()
        self.assertEqual(read.call_count, 1, "not due again yet")

    def test_stored_token_does_not_skip_the_session_expiry(self):
        tx = self._tx()
        self._age(tx, timedelta(hours=49))
        self._stored(tx)
        with patch.object(KlarnaClient, "create_order") as call:
            self._run_cron()
        call.assert_not_called()
        self.assertEqual(tx.state, "cancel")
        self.assertFalse(tx.sudo().klarna_authorization_token)

    def test_token_past_its_60_minutes_is_not_used(self):
        tx = self._tx()
        self._age(tx, timedelta(hours=2))
        self._stored(tx, age=timedelta(minutes=61))
        # Klarna's session still shows that same (dead) token: nothing to place.
        status = SessionStatus("sess-1", "complete", TOKEN, None, None, None, {})
        with (
            patch.object(KlarnaClient, "read_session", return_value=status),
            patch.object(KlarnaClient, "create_order") as call,
        ):
            self._run_cron()
        call.assert_not_called()
        self.assertFalse(tx.sudo().klarna_authorization_token)
        self.assertEqual(tx.state, "draft")
        self.assertEqual(tx.klarna_recovery_attempts, 1)

    def test_token_klarna_refuses_is_given_up_not_retried(self):
        tx = self._tx()
        self._stored(tx)
        status = SessionStatus("sess-1", "complete", TOKEN, None, None, None, {})
        with (
            patch.object(KlarnaClient, "read_session", return_value=status),
            patch.object(
                KlarnaClient, "create_order", side_effect=KlarnaNotFound(status=404)
            ) as call,
        ):
            self._run_cron()
            self.assertEqual(tx.state, "error")
            self.assertFalse(tx.sudo().klarna_authorization_token)
            tx.klarna_recovery_next_at = fields.Datetime.now()
            self._run_cron()
        self.assertEqual(call.call_count, 1)

    def test_refused_stored_token_falls_back_to_klarnas_session(self):
        """A stored token is only a hint: Klarna's session has the last word."""
        tx = self._tx()
        self._stored(tx)
        status = SessionStatus("sess-1", "complete", TOKEN_2, None, None, None, {})
        with (
            patch.object(KlarnaClient, "read_session", return_value=status),
            patch.object(
                KlarnaClient,
                "create_order",
                side_effect=[KlarnaNotFound(status=404), placed()],
            ) as call,
        ):
            self._run_cron()
        self.assertEqual([c.args[0] for c in call.call_args_list], [TOKEN, TOKEN_2])
        self.assertEqual(tx.state, "authorized")

    def test_any_error_is_counted_and_the_others_go_on(self):
        broken, fine = self._tx(reference="broken"), self._tx(reference="fine")
        self._stored(broken)
        self._stored(fine, token=TOKEN_2)

        def create_order(token, *args, **kwargs):
            if token == TOKEN:
                raise RuntimeError("unexpected")
            return placed()

        with (
            patch.object(KlarnaClient, "create_order", side_effect=create_order),
            self.assertLogs(
                "odoo.addons.payment_klarna.models.payment_transaction", "WARNING"
            ) as logs,
        ):
            self._run_cron()
        self.assertEqual(fine.state, "authorized")
        self.assertEqual(broken.state, "draft")
        self.assertEqual(broken.klarna_recovery_attempts, 1)
        self.assertGreater(broken.klarna_recovery_next_at, fields.Datetime.now())
        self.assertEqual(broken.sudo().klarna_authorization_token, TOKEN, "kept for a retry")
        self.assertIn("broken", "\n".join(logs.output))
        self.assertNotIn(TOKEN, "\n".join(logs.output))

    def test_drafts_anyone_can_create_do_not_starve_real_payments(self):
        real = self._tx(reference="real")
        self._stored(real)
        stale = fields.Datetime.now() - timedelta(minutes=30)
        drafts = self.env["payment.transaction"].create(
            [
                {
                    "provider_id": self.klarna.id,
                    "payment_method_id": self.payment_method_id,
                    "amount": 1.0,
                    "currency_id": self.currency.id,
                    "partner_id": self.partner.id,
                    "reference": f"junk-{number}",
                    "operation": "online_direct",
                    "klarna_session_id": f"junk-sess-{number}",
                    "klarna_recovery_next_at": stale,
                }
                for number in range(201)
            ]
        )
        self.env.cr.execute(
            "UPDATE payment_transaction SET create_date = %s WHERE id = ANY(%s)",
            [stale, drafts.ids],
        )
        drafts.invalidate_recordset(["create_date"])
        incomplete = SessionStatus("x", "incomplete", None, None, None, None, {})
        with (
            patch.object(KlarnaClient, "read_session", return_value=incomplete) as read,
            patch.object(KlarnaClient, "create_order", return_value=placed()),
        ):
            self._run_cron()
        self.assertEqual(real.state, "authorized")
        # Oldest first, a bounded batch; those looked at go to the back of the line.
        looked_at = drafts.filtered(lambda tx: tx.klarna_recovery_attempts)
        self.assertEqual(len(looked_at), read.call_count)
        self.assertLess(read.call_count, len(drafts))
        self.assertEqual(looked_at, drafts[: len(looked_at)])


class WorkerKilled(BaseException):
    """What a killed worker looks like from inside: nothing catches it."""


class CommittedRowsCase(TransactionCase):
    """Commits and row locks need real connections: rows are committed, then deleted. The
    jobs run on those connections commit their steps as in production."""

    def setUp(self):
        super().setUp()
        self.startPatcher(patch.object(payment_transaction, "in_test", return_value=False))

    def _env(self):
        cr = sql_db.db_connect(self.env.cr.dbname).cursor()
        self.addCleanup(cr.close)
        return api.Environment(cr, SUPERUSER_ID, {})

    def _delete(self, table, ids):
        env = self._env()
        env.cr.execute(f"DELETE FROM {table} WHERE id = ANY(%s)", [ids])  # noqa: S608
        env.cr.commit()

    def _committed_txs(self, partner_values, tx_values):
        """Klarna transactions of a new German partner, committed, deleted after the test."""
        setup = self._env()
        partner = setup["res.partner"].create(
            {**partner_values, "country_id": setup.ref("base.de").id}
        )
        txs = setup["payment.transaction"].create(
            [
                {
                    "provider_id": setup.ref("payment_klarna.payment_provider_klarna").id,
                    "payment_method_id": setup.ref("payment.payment_method_klarna").id,
                    "amount": 11.11,
                    "currency_id": setup.ref("base.EUR").id,
                    "partner_id": partner.id,
                    "operation": "online_direct",
                    **values,
                }
                for values in tx_values
            ]
        )
        setup.cr.commit()
        self.addCleanup(self._delete, "res_partner", partner.ids)
        self.addCleanup(self._delete, "payment_transaction", txs.ids)
        return txs


@tagged("post_install", "-at_install")
class TestRecoveryCronCommits(CommittedRowsCase):
    def test_orders_placed_before_a_crash_stay_placed(self):
        now = fields.Datetime.now()
        txs = self._committed_txs(
            {
                "name": "Carla Crash",
                "email": "carla.crash@example.com",
                "street": "Hauptstrasse 5",
                "zip": "10115",
                "city": "Berlin",
            },
            [
                {
                    "reference": f"KLARNA-CRASH-{uuid.uuid4().hex[:8]}-{number}",
                    "klarna_session_id": f"sess-crash-{number}",
                    "klarna_authorization_token": token,
                    "klarna_authorization_at": now,
                    "klarna_recovery_next_at": now - timedelta(minutes=2 - number),
                }
                for number, token in enumerate((TOKEN, TOKEN_2))
            ],
        )
        client = MagicMock()
        client.create_order.side_effect = [placed(order_id=f"ord-{uuid.uuid4()}"), WorkerKilled()]
        worker = self._env()
        with (
            patch.object(
                type(worker["payment.provider"]), "_klarna_get_client", return_value=client
            ),
            self.assertRaises(WorkerKilled),
        ):
            worker["payment.transaction"]._cron_klarna_recover_authorizations()
        worker.cr.rollback()
        check = self._env()
        first, second = check["payment.transaction"].browse(txs.ids)
        self.assertEqual(first.state, "authorized")
        self.assertTrue(first.klarna_order_id)
        self.assertEqual(second.state, "draft")


@tagged("post_install", "-at_install")
class TestCallbackLock(CommittedRowsCase):
    def test_callback_waits_briefly_for_a_busy_transaction_then_says_so(self):
        tx = self._committed_txs(
            {"name": "Lou Lock"},
            [
                {
                    "reference": f"KLARNA-BUSY-{uuid.uuid4().hex[:8]}",
                    "klarna_session_id": "sess-busy",
                }
            ],
        )
        staff = self._env()
        staff.cr.execute("SELECT id FROM payment_transaction WHERE id = %s FOR UPDATE", [tx.id])
        callback = self._env()
        busy = callback["payment.transaction"].browse(tx.id)
        self.assertFalse(busy._klarna_record_callback_authorization(TOKEN))
        callback.cr.commit()
        staff.cr.rollback()
        check = self._env()
        self.assertFalse(check["payment.transaction"].browse(tx.id).klarna_authorization_token)
        self.assertTrue(busy._klarna_record_callback_authorization(TOKEN))
        callback.cr.commit()
        stored = self._env()["payment.transaction"].browse(tx.id).klarna_authorization_token
        self.assertEqual(stored, TOKEN)


@tagged("post_install", "-at_install")
class TestCheckoutRoutes(KlarnaCheckoutCommon, PaymentHttpCommon):
    def _rpc(self, url, params):
        response = self._make_json_request(
            self._build_url(url), {"jsonrpc": "2.0", "method": "call", "params": params}
        )
        return response.json()

    def _tx_params(self, tx):
        return {"reference": tx.reference, "access_token": tx._klarna_access_token()}

    def _payment_link_params(self):
        """What the payment form sends for a generic payment link (/payment/pay)."""
        return {
            **self._session_params(
                None,
                self._generate_test_access_token(self.partner.id, self.amount, self.currency.id),
            ),
            "amount": self.amount,
            "currency_id": self.currency.id,
            "partner_id": self.partner.id,
        }

    def test_session_for_a_payment_link_needs_its_access_token(self):
        params = self._payment_link_params()
        token = params.pop("access_token")
        with patch.object(KlarnaClient, "create_session", return_value=session()) as create:
            result = self._rpc(KlarnaController._session_url, {**params, "access_token": token})
            self.assertEqual(result["result"]["client_token"], "client-token")
            self.assertEqual(create.call_args.args[0]["order_amount"], 111111)
            # A tampered amount does not match the access token: no session, no call.
            create.reset_mock()
            tampered = self._rpc(
                KlarnaController._session_url, {**params, "amount": 1.0, "access_token": token}
            )
        self.assertIn("error", tampered)
        create.assert_not_called()

    def test_session_with_a_bad_provider_is_a_clear_error(self):
        for provider_id in ("1; drop", None, self.dummy_provider.id, 10**9):
            with self.subTest(provider_id=provider_id):
                result = self._rpc(
                    KlarnaController._session_url,
                    {**self._session_params(None, "x"),
                     "provider_id": provider_id},
                )  # fmt: skip
                self.assertEqual(
                    result["error"]["data"]["message"],
                    "Klarna: this payment provider is not available.",
                )

    def test_session_for_someone_elses_order_is_refused(self):
        order = self.env["sale.order"].create(
            {
                "partner_id": self.partner.id,
                "order_line": [
                    (0, 0, {"product_id": self.env["product.product"].create({"name": "X"}).id})
                ],
            }
        )
        with patch.object(KlarnaClient, "create_session", return_value=session()) as create:
            result = self._rpc(
                KlarnaController._session_url,
                {
                    "provider_id": self.klarna.id,
                    "payment_method_code": "klarna",
                    "document_model": "sale.order",
                    "document_id": order.id,
                    "access_token": "not-the-orders-token",
                },
            )
        self.assertIn("error", result)
        create.assert_not_called()

    def _session_params(self, document, access_token):
        """What the payment form sends for ``document``; for a payment link (None), the
        caller adds the link's amount, currency and partner."""
        document_params = (
            {"document_model": document._name, "document_id": document.id} if document else {}
        )
        return {
            "provider_id": self.klarna.id,
            "payment_method_code": "klarna",
            **document_params,
            "access_token": access_token,
        }

    def test_the_inline_form_names_the_document_the_payment_form_pays(self):
        """The session route's document comes from the page's own context: the shop's and
        the order's portal page (``sale_order_id``), the invoice's (``invoice_id``), a
        payment link to a document (Klarna's keys); a plain payment link names none."""
        cases = [
            ({"sale_order_id": 7}, ("sale.order", "7")),
            ({"invoice_id": 8}, ("account.move", "8")),
            ({"klarna_document_model": "account.move", "klarna_document_id": 9},
             ("account.move", "9")),
            ({}, (None, None)),
        ]  # fmt: skip
        for context, expected in cases:
            with self.subTest(context=context):
                html = self.env["ir.qweb"]._render(
                    "payment_klarna.inline_form", {"provider_id": 1, "pm_sudo": None, **context}
                )
                container = etree.fromstring(str(html))
                self.assertEqual(
                    (
                        container.get("data-klarna-document-model"),
                        container.get("data-klarna-document-id"),
                    ),
                    expected,
                )

    def test_session_for_a_portal_invoice_uses_the_invoice(self):
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.partner.id,
                "currency_id": self.currency_euro.id,
                "invoice_line_ids": [
                    (0, 0, {"name": "Consulting", "quantity": 2, "price_unit": 40.0,
                            "tax_ids": [(5, 0, 0)]}),
                ],
            }
        )  # fmt: skip
        invoice.action_post()
        with patch.object(KlarnaClient, "create_session", return_value=session()) as create:
            result = self._rpc(
                KlarnaController._session_url,
                self._session_params(invoice, invoice._portal_ensure_token()),
            )
            self.assertIn("result", result)
            payload = create.call_args.args[0]
            self.assertEqual(payload["order_amount"], 8000)
            self.assertEqual(payload["merchant_reference2"], invoice.name)
            create.reset_mock()
            refused = self._rpc(KlarnaController._session_url, self._session_params(invoice, "x"))
        self.assertIn("error", refused)
        create.assert_not_called()

    def test_cart_changed_after_the_widget_opened_is_sent_again(self):
        order = self._eur_order(100.0)
        with patch.object(KlarnaClient, "create_session", return_value=session("sess-c")) as create:
            opened = self._rpc(
                KlarnaController._session_url,
                self._session_params(order, order._portal_ensure_token()),
            )["result"]
        first_total = order.amount_total
        self.assertEqual(create.call_args.args[0]["order_amount"], round(first_total * 100))
        # Another tab adds a line; the transaction is created for the new total.
        order.order_line = [(0, 0, {"product_id": order.order_line.product_id.id})]
        tx = self._tx(
            klarna_session_id=False,
            amount=order.amount_total,
            sale_order_ids=[(6, 0, order.ids)],
            reference=order.name,
        )
        with patch.object(KlarnaClient, "update_session") as update:
            self._rpc(
                KlarnaController._prepare_url,
                {
                    **self._tx_params(tx),
                    "session_id": "sess-c",
                    "session_signature": opened["session_signature"],
                },
            )
        self.assertEqual(order.amount_total, 2 * first_total)
        self.assertEqual(update.call_args.args[1]["order_amount"], round(2 * first_total * 100))

    def test_prepare_then_authorize_places_the_order(self):
        tx = self._tx(klarna_session_id=False)
        with patch.object(KlarnaClient, "create_session", return_value=session("sess-9")):
            opened = self._rpc(KlarnaController._session_url, self._payment_link_params())["result"]
        with patch.object(KlarnaClient, "update_session") as update:
            prepared = self._rpc(
                KlarnaController._prepare_url,
                {
                    **self._tx_params(tx),
                    "session_id": "sess-9",
                    "session_signature": opened["session_signature"],
                },
            )
        self.assertEqual(prepared["result"]["payment_method_category"], "pay_later")
        sent = update.call_args.args[1]
        self.assertEqual(sent["order_amount"], 111111)
        self.assertIn(
            KlarnaController._authorization_callback_prefix, sent["merchant_urls"]["authorization"]
        )
        self.assertEqual(tx.klarna_session_id, "sess-9")
        with patch.object(KlarnaClient, "create_order", return_value=placed()):
            result = self._rpc(
                KlarnaController._authorize_url,
                {**self._tx_params(tx), "authorization_token": TOKEN},
            )
        self.assertEqual(result["result"]["state"], "authorized")
        self.assertEqual(tx.state, "authorized")

    def test_a_placed_payment_cannot_be_bound_to_another_session(self):
        tx = self._tx(state="authorized", klarna_order_id="klarna-order-1")
        with patch.object(KlarnaClient, "create_session", return_value=session("sess-9")):
            opened = self._rpc(KlarnaController._session_url, self._payment_link_params())["result"]
        with patch.object(KlarnaClient, "update_session") as update:
            result = self._rpc(
                KlarnaController._prepare_url,
                {
                    **self._tx_params(tx),
                    "session_id": "sess-9",
                    "session_signature": opened["session_signature"],
                },
            )
        self.assertRegex(result["error"]["data"]["message"], "^Klarna: ")
        update.assert_not_called()
        self.assertEqual((tx.klarna_session_id, tx.state), ("sess-1", "authorized"))

    def test_forged_session_signature_is_refused(self):
        tx = self._tx()
        with patch.object(KlarnaClient, "update_session") as update:
            result = self._rpc(
                KlarnaController._prepare_url,
                {**self._tx_params(tx), "session_id": "sess-x", "session_signature": "forged"},
            )
        self.assertIn("error", result)
        update.assert_not_called()

    def test_foreign_access_token_is_refused(self):
        tx = self._tx()
        with patch.object(KlarnaClient, "create_order") as create:
            result = self._rpc(
                KlarnaController._authorize_url,
                {"reference": tx.reference, "access_token": "x", "authorization_token": TOKEN},
            )
        self.assertIn("error", result)
        create.assert_not_called()
        self.assertEqual(tx.state, "draft")

    def test_klarna_outage_queues_the_placement(self):
        tx = self._tx()
        with patch.object(KlarnaClient, "create_order", side_effect=KlarnaUnavailable("503")):
            result = self._rpc(
                KlarnaController._authorize_url,
                {**self._tx_params(tx), "authorization_token": TOKEN},
            )
        self.assertEqual(result["result"]["state"], "draft")
        self.assertEqual(tx.sudo().klarna_authorization_token, TOKEN)

    def test_klarna_refusing_the_authorization_is_a_clear_error_and_stores_nothing(self):
        tx = self._tx()
        with patch.object(KlarnaClient, "create_order", side_effect=KlarnaNotFound(status=404)):
            result = self._rpc(
                KlarnaController._authorize_url,
                {**self._tx_params(tx), "authorization_token": TOKEN},
            )
        self.assertTrue(result["error"]["data"]["message"].startswith("Klarna: "))
        self.assertFalse(tx.sudo().klarna_authorization_token)

    def test_malformed_authorization_tokens_are_refused_before_any_use(self):
        tx = self._tx()
        malformed = ("..", "../../ordermanagement/v1/orders/x", f"{TOKEN}/..", "", 42, [TOKEN])
        for token in malformed:
            with (
                self.subTest(token=token),
                patch.object(KlarnaClient, "create_order", return_value=placed()) as create,
            ):
                result = self._rpc(
                    KlarnaController._authorize_url,
                    {**self._tx_params(tx), "authorization_token": token},
                )
                # A wrong type is refused by the route's parameter check, a malformed
                # string by the token check: both before anything is used or stored.
                self.assertIn(
                    result["error"]["data"]["message"],
                    (
                        "Klarna: the authorization is not valid. Please pay again.",
                        "Klarna: the request is not valid ('authorization_token' is not a "
                        "valid text). Reload the page and try again.",
                    ),
                )
                create.assert_not_called()
        self.assertFalse(tx.sudo().klarna_authorization_token)
        self.assertEqual(tx.state, "draft")

    def test_decline_cancels_the_draft_and_keeps_the_cart_payable(self):
        tx = self._tx()
        result = self._rpc(KlarnaController._cancel_url, {**self._tx_params(tx), "declined": True})
        self.assertEqual(result["result"]["state"], "cancel")
        self.assertIn("declined", tx.state_message)

    # --- authorization callback --- #

    def _callback(self, tx, token, body):
        url = self._build_url(KlarnaController._authorization_callback_prefix + token)
        return self.opener.post(url, data=body, headers={"Content-Type": "application/json"})

    def _callback_token(self, tx):
        token = callback_token.new_token()
        tx.sudo().klarna_callback_token_hash = callback_token.hash_token(token)
        return token

    def test_callback_records_the_authorization_and_wakes_the_placement(self):
        tx = self._tx()
        token = self._callback_token(tx)
        cron = self.env.ref("payment_klarna.cron_recover_authorizations")
        triggers = self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)])
        body = json.dumps({"authorization_token": TOKEN, "session_id": "sess-1"})
        response = self._callback(tx, token, body)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(tx.sudo().klarna_authorization_token, TOKEN)
        self.assertGreater(
            self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]), len(triggers)
        )
        # A repeat and a later token for the same session are accepted; the newest wins.
        self.assertEqual(self._callback(tx, token, body).status_code, 200)
        newer = json.dumps({"authorization_token": TOKEN_2, "session_id": "sess-1"})
        self.assertEqual(self._callback(tx, token, newer).status_code, 200)
        self.assertEqual(tx.sudo().klarna_authorization_token, TOKEN_2)

    def test_callback_after_placement_changes_nothing(self):
        tx = self._tx()
        token = self._callback_token(tx)
        self._place(tx)
        body = json.dumps({"authorization_token": TOKEN, "session_id": "sess-1"})
        self.assertEqual(self._callback(tx, token, body).status_code, 200)
        self.assertFalse(tx.sudo().klarna_authorization_token)
        self.assertEqual(tx.klarna_order_id, "klarna-order-1")

    def test_callback_that_stored_nothing_asks_klarna_to_retry(self):
        """Klarna retries non-2xx answers: 200 would lose the authorization."""
        tx = self._tx()
        token = self._callback_token(tx)
        body = json.dumps({"authorization_token": TOKEN, "session_id": "sess-1"})
        with patch.object(
            type(tx), "_klarna_record_callback_authorization", return_value=False
        ) as record:
            response = self._callback(tx, token, body)
        self.assertEqual(record.call_args.args, (TOKEN,))
        self.assertEqual(response.status_code, 503)
        self.assertFalse(tx.sudo().klarna_authorization_token)

    @mute_logger(
        "odoo.addons.payment_klarna.controllers.main.security",
        "odoo.addons.payment_klarna.models.payment_transaction.security",
        "werkzeug",
    )
    def test_bad_callbacks_get_a_4xx_and_change_nothing(self):
        tx = self._tx()
        token = self._callback_token(tx)
        good = json.dumps({"authorization_token": TOKEN, "session_id": "sess-1"})
        cases = [
            (callback_token.new_token(), good, 404),  # unknown transaction
            ("not a token!", good, 404),
            (token, "{not json", 400),
            (token, json.dumps({"session_id": "sess-1"}), 400),
            (token, json.dumps({"authorization_token": TOKEN, "session_id": "other"}), 400),
            (token, json.dumps({"authorization_token": "..", "session_id": "sess-1"}), 400),
            (token, json.dumps({"authorization_token": "a..b", "session_id": "sess-1"}), 400),
        ]
        for path_token, body, status in cases:
            with self.subTest(body=body):
                self.assertEqual(self._callback(tx, path_token, body).status_code, status)
        self.assertFalse(tx.sudo().klarna_authorization_token)
        self.assertEqual(tx.state, "draft")

    # --- hosted payment page --- #

    def _hpp_urls(self, tx):
        """The merchant URLs the transaction gives Klarna's hosted page, as local paths."""
        hpp = type("Hpp", (), {"redirect_url": "https://pay.example/hpp/abc"})
        with (
            patch.object(KlarnaClient, "create_session", return_value=session("sess-1")),
            patch.object(KlarnaClient, "create_hpp_session", return_value=hpp) as create_hpp,
        ):
            tx._klarna_start_hosted_page()
        urls = create_hpp.call_args.args[0]["merchant_urls"]
        return {key: url.split("://", 1)[1].split("/", 1)[1] for key, url in urls.items()}

    def _hpp_return(self, path):
        return self.url_open("/" + path, allow_redirects=False)

    def _authorized_session(self, token=TOKEN):
        return SessionStatus("sess-1", "complete", token, None, None, None, {})

    def test_hosted_page_return_urls_carry_no_token(self):
        tx = self._tx()
        for key, path in self._hpp_urls(tx).items():
            with self.subTest(key=key):
                self.assertNotIn(tx._klarna_access_token(), path)
                self.assertNotIn("token", path)
                self.assertNotIn("{{", path)

    def test_hosted_page_success_places_the_order_with_klarnas_token(self):
        tx = self._tx()
        urls = self._hpp_urls(tx)
        with (
            patch.object(KlarnaClient, "read_session", return_value=self._authorized_session()),
            patch.object(KlarnaClient, "create_order", return_value=placed()) as create,
        ):
            response = self._hpp_return(urls["success"])
            self.assertEqual(response.status_code, 303)
            self.assertTrue(response.headers["Location"].endswith("/payment/status"))
            self.assertEqual(tx.state, "authorized")
            self.assertEqual(create.call_args.args[0], TOKEN)
            # The same URL again (a reload, or someone who read the access log) does nothing.
            self.assertEqual(self._hpp_return(urls["success"]).status_code, 303)
        self.assertEqual(create.call_count, 1)

    def test_a_replayed_hosted_page_return_calls_klarna_no_more(self):
        # The access log holds the signed URL: repeating it must cost no Klarna call and
        # touch no transaction once the order is placed.
        tx = self._tx()
        urls = self._hpp_urls(tx)
        with (
            patch.object(
                KlarnaClient, "read_session", return_value=self._authorized_session()
            ) as read,
            patch.object(KlarnaClient, "create_order", return_value=placed()),
        ):
            self._hpp_return(urls["success"])
            self.assertEqual(tx.state, "authorized")
            next_check = tx.klarna_recovery_next_at
            for _replay in range(3):
                self.assertEqual(self._hpp_return(urls["success"]).status_code, 303)
        self.assertEqual(read.call_count, 1)
        self.assertEqual(tx.klarna_recovery_next_at, next_check)

    def test_hosted_page_keeps_the_token_only_when_klarna_may_take_it_later(self):
        busy, refused = self._tx(reference="busy"), self._tx(reference="refused")
        for tx, error in ((busy, KlarnaUnavailable("503")), (refused, KlarnaNotFound(status=404))):
            with (
                patch.object(KlarnaClient, "read_session", return_value=self._authorized_session()),
                patch.object(KlarnaClient, "create_order", side_effect=error),
            ):
                self.assertEqual(self._hpp_return(self._hpp_urls(tx)["success"]).status_code, 303)
        self.assertEqual(busy.sudo().klarna_authorization_token, TOKEN)
        self.assertEqual(busy.state, "draft")
        self.assertFalse(refused.sudo().klarna_authorization_token)
        self.assertEqual(refused.state, "error")

    def test_hosted_page_cancel_cancels(self):
        tx = self._tx()
        self.assertEqual(self._hpp_return(self._hpp_urls(tx)["cancel"]).status_code, 303)
        self.assertEqual(tx.state, "cancel")

    @mute_logger("odoo.http", "werkzeug")
    def test_bad_hosted_page_returns_get_a_4xx_and_change_nothing(self):
        tx = self._tx()
        success = self._hpp_urls(tx)["success"]
        path, query = success.split("?", 1)
        params = dict(parse_qsl(query))
        cases = {
            "no status": {k: v for k, v in params.items() if k != "status"},
            "no signature": {k: v for k, v in params.items() if k != "signature"},
            "the success signature with another status": {**params, "status": "cancel"},
            "an unknown status": {**params, "status": "paid"},
            "a forged signature": {**params, "signature": "0" * 64},
            "no reference": {k: v for k, v in params.items() if k != "reference"},
            "a NUL in the reference": {**params, "reference": "S1\x00"},
            "a non-ASCII signature": {**params, "signature": "\u202e" * 64},
        }
        with (
            patch.object(KlarnaClient, "read_session") as read,
            patch.object(KlarnaClient, "create_order") as create,
        ):
            for case, case_params in cases.items():
                with self.subTest(case=case):
                    response = self._hpp_return(f"{path}?{urlencode(case_params)}")
                    self.assertIn(response.status_code, (400, 403, 404))
        read.assert_not_called()
        create.assert_not_called()
        self.assertEqual(tx.state, "draft")

    def test_no_token_reaches_the_log_during_a_whole_checkout(self):
        """Processing values, hosted page there and back, authorize and callback."""
        client_token = "client-token-" + uuid.uuid4().hex
        widget_session = PaymentSession(
            session_id="sess-log",
            client_token=client_token,
            payment_method_categories=(PaymentMethodCategory("pay_later", "Later", None, None),),
        )
        embedded = self._tx(klarna_session_id=False, reference="log-embedded")
        self.klarna.klarna_checkout_flow = "hosted"
        hosted = self._create_transaction("redirect", reference="log-hosted")
        hpp = type("Hpp", (), {"redirect_url": "https://pay.example/hpp/abc"})
        token_3 = str(uuid.uuid4())
        with captured_logs() as records:
            with patch.object(KlarnaClient, "create_session", return_value=widget_session):
                opened = self._rpc(KlarnaController._session_url, self._payment_link_params())
            access_token = embedded._get_processing_values()["klarna_access_token"]
            params = {"reference": embedded.reference, "access_token": access_token}
            with patch.object(KlarnaClient, "update_session") as update:
                self._rpc(
                    KlarnaController._prepare_url,
                    {
                        **params,
                        "session_id": "sess-log",
                        "session_signature": opened["result"]["session_signature"],
                    },
                )
            callback_url = update.call_args.args[1]["merchant_urls"]["authorization"]
            with patch.object(KlarnaClient, "create_order", return_value=placed()):
                self._rpc(KlarnaController._authorize_url, {**params, "authorization_token": TOKEN})
            callback = self.opener.post(
                self._build_url(callback_url.split("://", 1)[1].split("/", 1)[1]),
                data=json.dumps({"authorization_token": TOKEN_2, "session_id": "sess-log"}),
                headers={"Content-Type": "application/json"},
            )
            self.assertEqual(callback.status_code, 200)
            with (
                patch.object(KlarnaClient, "create_session", return_value=session("sess-1")),
                patch.object(KlarnaClient, "create_hpp_session", return_value=hpp) as create_hpp,
            ):
                hosted._get_processing_values()
            success = create_hpp.call_args.args[0]["merchant_urls"]["success"]
            with (
                patch.object(
                    KlarnaClient, "read_session", return_value=self._authorized_session(token_3)
                ),
                patch.object(KlarnaClient, "create_order", return_value=placed(order_id="o-2")),
            ):
                self._hpp_return(success.split("://", 1)[1].split("/", 1)[1])
        self.assertEqual((embedded.state, hosted.state), ("authorized", "authorized"))
        lines = [record.getMessage() for record in records]
        output = "\n".join(lines)
        # The capture saw what matters: core's processing values (Odoo 18 logs them) and the
        # access log.
        if compat.SERIES < 19:
            self.assertIn("processing values for transaction with reference log-embedded", output)
        self.assertIn(KlarnaController._hpp_return_url, output)
        self.assertIn(KlarnaController._authorize_url, output)
        secrets = {
            "access token": access_token,
            "hosted access token": hosted._klarna_access_token(),
            "browser authorization": TOKEN,
            "callback authorization": TOKEN_2,
            "hosted page authorization": token_3,
            "client token": client_token,
        }
        for name, secret in secrets.items():
            with self.subTest(secret=name):
                self.assertEqual([line[:300] for line in lines if secret in line], [])


@tagged("post_install", "-at_install")
class TestHostedPageRedirect(KlarnaCheckoutCommon):
    def test_redirect_form_points_at_klarnas_hosted_page(self):
        self.klarna.klarna_checkout_flow = "hosted"
        self.assertFalse(self.klarna._should_build_inline_form())
        tx = self._create_transaction("redirect")
        hpp = type("Hpp", (), {"redirect_url": "https://pay.example/hpp/abc?token=xyz"})
        with (
            patch.object(KlarnaClient, "create_session", return_value=session("sess-h")),
            patch.object(KlarnaClient, "create_hpp_session", return_value=hpp) as create_hpp,
        ):
            processing_values = tx._get_processing_values()
        form = processing_values["redirect_form_html"]
        self.assertIn('action="https://pay.example/hpp/abc"', form)
        self.assertIn('name="token" value="xyz"', form)
        urls = create_hpp.call_args.args[0]["merchant_urls"]
        self.assertIn("status=success", urls["success"])
        # The reference travels URL-encoded ("Test Transaction" has a space).
        self.assertIn("reference=Test+Transaction", urls["cancel"])
        self.assertEqual(tx.klarna_session_id, "sess-h")

    def test_processing_values_give_the_access_token_to_the_browser_not_to_the_log(self):
        tx = self._tx()
        with captured_logs() as records:
            values = tx._get_processing_values()
        self.assertEqual(values["klarna_access_token"], tx._klarna_access_token())
        messages = [record.getMessage() for record in records]
        self.assertFalse([m for m in messages if values["klarna_access_token"] in m])
        if compat.SERIES < 19:  # Odoo 19 no longer logs the processing values
            logged = [m for m in messages if "processing values" in m]
            self.assertEqual(len(logged), 1)
            self.assertIn(tx.reference, logged[0])

    def test_unreachable_klarna_is_a_clear_error(self):
        self.klarna.klarna_checkout_flow = "hosted"
        tx = self._create_transaction("redirect")
        with (
            patch.object(KlarnaClient, "create_session", side_effect=KlarnaUnavailable("down")),
            self.assertRaisesRegex(Exception, "^Klarna: the payment page could not be opened"),
        ):
            tx._get_processing_values()

    def test_live_payments_need_an_https_callback_url(self):
        tx = self._tx()
        self.klarna.state = "enabled"
        self.env["ir.config_parameter"].set_param("web.base.url", "http://shop.example.com")
        with (
            patch.object(KlarnaClient, "update_session") as update,
            self.assertRaisesRegex(UserError, "must use https"),
        ):
            tx._klarna_attach_session("sess-1")
        update.assert_not_called()
        self.env["ir.config_parameter"].set_param("web.base.url", "https://shop.example.com")
        with patch.object(KlarnaClient, "update_session") as update:
            tx._klarna_attach_session("sess-1")
        callback = update.call_args.args[1]["merchant_urls"]["authorization"]
        self.assertTrue(callback.startswith("https://shop.example.com/payment/klarna/"))

    def test_expired_session_at_attach_says_reload(self):
        tx = self._tx()
        with (
            patch.object(KlarnaClient, "update_session", side_effect=KlarnaNotFound("gone")),
            self.assertRaisesRegex(UserError, "^Klarna: the payment session expired"),
        ):
            tx._klarna_attach_session("sess-1")
