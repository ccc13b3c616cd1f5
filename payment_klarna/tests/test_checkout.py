import json
from datetime import timedelta
from unittest.mock import patch

from psycopg2 import IntegrityError

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.payment.tests.http_common import PaymentHttpCommon
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
from odoo.addons.payment_klarna.tests.common import KlarnaCommon


def placed(fraud_status="ACCEPTED", order_id="klarna-order-1"):
    return PlacedOrder(order_id, fraud_status, None, None)


def session(session_id="sess-1"):
    return PaymentSession(
        session_id=session_id,
        client_token="client-token",
        payment_method_categories=(PaymentMethodCategory("pay_later", "Pay later", None, None),),
    )


class KlarnaCheckoutCommon(KlarnaCommon):
    def _tx(self, **values):
        tx = self._create_transaction("direct", **{"klarna_session_id": "sess-1", **values})
        tx.klarna_payment_category = tx._klarna_category()
        return tx

    def _place(self, tx, fraud_status="ACCEPTED", source="browser", **kwargs):
        with patch.object(KlarnaClient, "create_order", return_value=placed(fraud_status)) as call:
            tx._klarna_place_order("auth-token-1", source, **kwargs)
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
        self.assertEqual(args[0], "auth-token-1")
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
            tx._klarna_place_order("auth-token-1", "browser")
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
                tx._klarna_place_order("auth-token-1", "browser")
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
        tx._handle_notification_data(
            "klarna", {"reference": tx.reference, "outcome": "done", "source": "webhook"}
        )
        tx._handle_notification_data(
            "klarna", {"reference": tx.reference, "outcome": "pending", "source": "webhook"}
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

    def test_stored_callback_token_is_placed(self):
        tx = self._tx()
        tx.sudo().klarna_authorization_token = "auth-from-callback"
        with patch.object(KlarnaClient, "create_order", return_value=placed()) as call:
            self._run_cron()
        self.assertEqual(call.call_args.args[0], "auth-from-callback")
        self.assertEqual(tx.state, "authorized")
        self.assertFalse(tx.sudo().klarna_authorization_token)

    def test_lost_callback_is_recovered_from_the_session(self):
        tx = self._tx()
        self._age(tx, timedelta(minutes=30))
        status = SessionStatus("sess-1", "complete", "auth-from-session", None, None, None, {})
        with (
            patch.object(KlarnaClient, "read_session", return_value=status),
            patch.object(KlarnaClient, "create_order", return_value=placed()) as call,
        ):
            self._run_cron()
        self.assertEqual(call.call_args.args[0], "auth-from-session")
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

    def test_session_without_authorization_stays_draft(self):
        tx = self._tx()
        self._age(tx, timedelta(minutes=30))
        status = SessionStatus("sess-1", "incomplete", None, None, None, None, {})
        with patch.object(KlarnaClient, "read_session", return_value=status):
            self._run_cron()
        self.assertEqual(tx.state, "draft")


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
                "/payment/transaction",
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
                    {**self._session_params("/payment/transaction", "x"),
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
                    "transaction_route": f"/shop/payment/transaction/{order.id}",
                    "access_token": "not-the-orders-token",
                },
            )
        self.assertIn("error", result)
        create.assert_not_called()

    def _session_params(self, route, access_token):
        return {
            "provider_id": self.klarna.id,
            "payment_method_code": "klarna",
            "transaction_route": route,
            "access_token": access_token,
        }

    def _eur_order(self, price):
        product = self.env["product.product"].create(
            {"name": "Lamp", "list_price": price, "taxes_id": [(5, 0, 0)]}
        )
        pricelist = self.env["product.pricelist"].create(
            {"name": "EUR", "currency_id": self.currency_euro.id}
        )
        return self.env["sale.order"].create(
            {
                "partner_id": self.partner.id,
                "pricelist_id": pricelist.id,
                "order_line": [(0, 0, {"product_id": product.id, "product_uom_qty": 1})],
            }
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
        route = f"/invoice/transaction/{invoice.id}"
        with patch.object(KlarnaClient, "create_session", return_value=session()) as create:
            result = self._rpc(
                KlarnaController._session_url,
                self._session_params(route, invoice._portal_ensure_token()),
            )
            self.assertIn("result", result)
            payload = create.call_args.args[0]
            self.assertEqual(payload["order_amount"], 8000)
            self.assertEqual(payload["merchant_reference2"], invoice.name)
            create.reset_mock()
            refused = self._rpc(KlarnaController._session_url, self._session_params(route, "x"))
        self.assertIn("error", refused)
        create.assert_not_called()

    def test_cart_changed_after_the_widget_opened_is_sent_again(self):
        order = self._eur_order(100.0)
        route = f"/shop/payment/transaction/{order.id}"
        with patch.object(KlarnaClient, "create_session", return_value=session("sess-c")) as create:
            opened = self._rpc(
                KlarnaController._session_url,
                self._session_params(route, order._portal_ensure_token()),
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
                {**self._tx_params(tx), "authorization_token": "auth-token-1"},
            )
        self.assertEqual(result["result"]["state"], "authorized")
        self.assertEqual(tx.state, "authorized")

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
                {"reference": tx.reference, "access_token": "x", "authorization_token": "t"},
            )
        self.assertIn("error", result)
        create.assert_not_called()
        self.assertEqual(tx.state, "draft")

    def test_klarna_outage_queues_the_placement(self):
        tx = self._tx()
        with patch.object(KlarnaClient, "create_order", side_effect=KlarnaUnavailable("503")):
            result = self._rpc(
                KlarnaController._authorize_url,
                {**self._tx_params(tx), "authorization_token": "auth-token-1"},
            )
        self.assertEqual(result["result"]["state"], "draft")
        self.assertEqual(tx.sudo().klarna_authorization_token, "auth-token-1")

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
        body = json.dumps({"authorization_token": "auth-cb-1", "session_id": "sess-1"})
        response = self._callback(tx, token, body)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(tx.sudo().klarna_authorization_token, "auth-cb-1")
        self.assertGreater(
            self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]), len(triggers)
        )
        # A repeat and a later token for the same session are accepted; the newest wins.
        self.assertEqual(self._callback(tx, token, body).status_code, 200)
        newer = json.dumps({"authorization_token": "auth-cb-2", "session_id": "sess-1"})
        self.assertEqual(self._callback(tx, token, newer).status_code, 200)
        self.assertEqual(tx.sudo().klarna_authorization_token, "auth-cb-2")

    def test_callback_after_placement_changes_nothing(self):
        tx = self._tx()
        token = self._callback_token(tx)
        self._place(tx)
        body = json.dumps({"authorization_token": "auth-cb-1", "session_id": "sess-1"})
        self.assertEqual(self._callback(tx, token, body).status_code, 200)
        self.assertFalse(tx.sudo().klarna_authorization_token)
        self.assertEqual(tx.klarna_order_id, "klarna-order-1")

    @mute_logger("odoo.addons.payment_klarna.controllers.main.security", "werkzeug")
    def test_bad_callbacks_get_a_4xx_and_change_nothing(self):
        tx = self._tx()
        token = self._callback_token(tx)
        good = json.dumps({"authorization_token": "auth-cb-1", "session_id": "sess-1"})
        cases = [
            (callback_token.new_token(), good, 404),  # unknown transaction
            ("not a token!", good, 404),
            (token, "{not json", 400),
            (token, json.dumps({"session_id": "sess-1"}), 400),
            (token, json.dumps({"authorization_token": "a", "session_id": "other"}), 400),
        ]
        for path_token, body, status in cases:
            with self.subTest(body=body):
                self.assertEqual(self._callback(tx, path_token, body).status_code, status)
        self.assertFalse(tx.sudo().klarna_authorization_token)
        self.assertEqual(tx.state, "draft")

    # --- hosted payment page --- #

    def test_hosted_page_success_places_the_order(self):
        tx = self._tx()
        with patch.object(KlarnaClient, "create_order", return_value=placed()):
            response = self._make_http_get_request(
                self._build_url(KlarnaController._hpp_return_url),
                {**self._tx_params(tx), "status": "success", "authorization_token": "hpp-auth"},
            )
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.url.endswith("/payment/status"))
        self.assertEqual(tx.state, "authorized")

    def test_hosted_page_cancel_cancels(self):
        tx = self._tx()
        self._make_http_get_request(
            self._build_url(KlarnaController._hpp_return_url),
            {**self._tx_params(tx), "status": "cancel"},
        )
        self.assertEqual(tx.state, "cancel")


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
        self.assertIn("{{authorization_token}}", urls["success"])
        # The reference travels URL-encoded ("Test Transaction" has a space).
        self.assertIn("reference=Test+Transaction", urls["cancel"])
        self.assertEqual(tx.klarna_session_id, "sess-h")

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
