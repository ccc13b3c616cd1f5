"""The widget's Klarna sessions: reused for an unchanged cart, bounded per cart and address."""

import json
import uuid
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import config
from odoo.tools.misc import hmac as hmac_tool

from odoo.addons.payment.tests.http_common import PaymentHttpCommon
from odoo.addons.payment_klarna import const
from odoo.addons.payment_klarna.controllers.main import KlarnaController
from odoo.addons.payment_klarna.klarna.client import KlarnaClient
from odoo.addons.payment_klarna.klarna.errors import KlarnaNotFound, KlarnaUnavailable
from odoo.addons.payment_klarna.klarna.results import (
    PaymentMethodCategory,
    PaymentSession,
    PlacedOrder,
)
from odoo.addons.payment_klarna.tests.common import KlarnaCommon


@tagged("post_install", "-at_install")
class TestWidgetSessions(KlarnaCommon, PaymentHttpCommon):
    def setUp(self):
        super().setUp()
        self.opened = 0

        def create_session(client, payload):
            self.opened += 1
            return PaymentSession(
                session_id=f"sess-{self.opened}",
                client_token=f"client-token-{self.opened}",
                payment_method_categories=(PaymentMethodCategory("pay_later", None, None, None),),
            )

        self.create = self.startPatcher(
            patch.object(KlarnaClient, "create_session", autospec=True, side_effect=create_session)
        )
        self.order = self._eur_order(100.0)

    def _open(self, order=None, address=None):
        order = order or self.order
        params = {
            "provider_id": self.klarna.id,
            "payment_method_code": "klarna",
            "document_model": "sale.order",
            "document_id": order.id,
            "access_token": order._portal_ensure_token(),
        }
        body = {"jsonrpc": "2.0", "method": "call", "id": 1, "params": params}
        # Behind a proxy Odoo trusts (proxy_mode), the customer's address is forwarded.
        headers = {"X-Forwarded-For": address, "X-Forwarded-Host": "shop.example"}
        with patch.dict(config.options, {"proxy_mode": bool(address)}):
            return self.opener.post(
                self._build_url(KlarnaController._session_url), json=body, headers=headers
            ).json()

    def _result(self, order=None, address=None):
        answer = self._open(order, address)
        self.assertIn("result", answer, answer)
        return answer["result"]

    def test_an_unchanged_cart_reuses_its_live_session(self):
        first = self._result()
        second = self._result()
        self.assertEqual(self.create.call_count, 1)
        self.assertEqual(second, first)
        self.assertEqual(second["client_token"], "client-token-1")

    def test_a_changed_cart_gets_a_new_session(self):
        first = self._result()
        self.order.order_line.product_uom_qty = 2
        second = self._result()
        self.assertEqual(self.create.call_count, 2)
        self.assertNotEqual(second["session_id"], first["session_id"])
        self.assertNotEqual(second["session_signature"], first["session_signature"])

    def test_a_session_of_other_credentials_is_not_reused(self):
        # Going live (or another Klarna account) makes the playground's sessions useless.
        first = self._result()["session_id"]
        self.klarna.klarna_api_username = "another-merchant"
        second = self._result()["session_id"]
        self.klarna.state = "enabled"
        third = self._result()["session_id"]
        self.assertEqual((first, second, third), ("sess-1", "sess-2", "sess-3"))

    def test_a_session_near_its_48_hours_is_not_reused(self):
        self._open()
        stored = self.env["payment.klarna.session"].sudo().search([("session_id", "=", "sess-1")])
        self.assertEqual(
            stored.expires_at - stored.opened_at, timedelta(hours=const.SESSION_LIFETIME_HOURS)
        )
        stored.expires_at = fields.Datetime.now() + timedelta(minutes=5)
        self.assertEqual(self._result()["session_id"], "sess-2")

    def test_a_session_that_became_an_order_is_not_reused(self):
        self._open()
        placed = {"klarna_order_id": "klarna-order-1", "state": "authorized"}
        self._create_transaction("direct", klarna_session_id="sess-1", **placed)
        self.assertEqual(self._result()["session_id"], "sess-2")

    def test_new_sessions_are_bounded_per_cart(self):
        with patch.object(const, "SESSIONS_PER_CART", 3):
            for quantity in range(1, 4):
                self.order.order_line.product_uom_qty = quantity
                self.assertIn("result", self._open())
            self.order.order_line.product_uom_qty = 9
            refused = self._open()
            # Reuse is not a new session: the last unchanged cart is still served.
            self.order.order_line.product_uom_qty = 3
            reused = self._open()
        self.assertRegex(refused["error"]["data"]["message"], "^Klarna: too many")
        self.assertEqual(reused["result"]["session_id"], "sess-3")
        self.assertEqual(self.create.call_count, 3)

    def test_new_sessions_are_bounded_per_address(self):
        orders = [self._eur_order(10.0 + n) for n in range(3)]
        with patch.object(const, "SESSIONS_PER_ADDRESS", 2):
            self.assertIn("result", self._open(orders[0], "198.51.100.7"))
            self.assertIn("result", self._open(orders[1], "198.51.100.7"))
            refused = self._open(orders[2], "198.51.100.7")
            elsewhere = self._open(orders[2], "203.0.113.9")
        self.assertRegex(refused["error"]["data"]["message"], "^Klarna: too many")
        self.assertIn("result", elsewhere)
        self.assertEqual(self.create.call_count, 3)

    def test_new_sessions_are_bounded_per_ipv6_network(self):
        # A host holds a whole /64: fresh addresses in it must not each get a new bound.
        orders = [self._eur_order(30.0 + n) for n in range(3)]
        with patch.object(const, "SESSIONS_PER_ADDRESS", 2):
            for number, order in enumerate(orders[:2], start=1):
                self.assertIn("result", self._open(order, f"2001:db8:7:9::{number}"))
            refused = self._open(orders[2], "2001:db8:7:9::3")
            elsewhere = self._open(orders[2], "2001:db8:7:a::1")
        self.assertRegex(refused["error"]["data"]["message"], "^Klarna: too many")
        self.assertIn("result", elsewhere)
        self.assertEqual(self.create.call_count, 3)

    def test_the_address_bound_is_a_system_parameter(self):
        parameters = self.env["ir.config_parameter"].sudo()
        orders = [self._eur_order(20.0 + n) for n in range(3)]
        for value in ("2", "junk", "0"):
            parameters.set_param(const.SESSIONS_PER_ADDRESS_PARAM, value)
            with self.subTest(value=value):
                bound = self.env["payment.klarna.session"]._klarna_sessions_per_address()
                self.assertEqual(bound, 2 if value == "2" else const.SESSIONS_PER_ADDRESS)
        parameters.set_param(const.SESSIONS_PER_ADDRESS_PARAM, "2")
        for order in orders[:2]:
            self._result(order, "198.51.100.8")
        refused = self._open(orders[2], "198.51.100.8")
        self.assertRegex(refused["error"]["data"]["message"], "^Klarna: too many")

    def test_no_address_or_token_is_stored_in_clear_or_logged(self):
        with self.assertLogs("odoo.addons.payment_klarna", "DEBUG") as logs:
            self._open(address="198.51.100.7")
        stored = self.env["payment.klarna.session"].sudo().search([])
        row = json.dumps(stored.read(), default=str)
        self.assertNotIn("198.51.100.7", row)
        self.assertNotIn("client-token-1", row)
        output = "\n".join(logs.output)
        self.assertNotIn("client-token-1", output)
        self.assertNotIn("198.51.100.7", output)


@tagged("post_install", "-at_install")
class TestBrowserCallBounds(KlarnaCommon, PaymentHttpCommon):
    """The prepare and authorize routes: each Klarna call they make for an anonymous browser
    counts against the same bounds as new sessions (issue 13, defect 10)."""

    def setUp(self):
        super().setUp()
        self.update = self.startPatcher(patch.object(KlarnaClient, "update_session"))
        self.place = self.startPatcher(
            patch.object(KlarnaClient, "create_order", side_effect=KlarnaUnavailable("down"))
        )
        self.made = 0

    def _draft(self):
        self.made += 1
        return self._create_transaction("direct", reference=f"KB-{self.made}")

    def _call(self, url, tx, address="198.51.100.7", **params):
        body = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"reference": tx.reference, "access_token": tx._klarna_access_token()}
            | params,
        }
        headers = {"X-Forwarded-For": address, "X-Forwarded-Host": "shop.example"}
        with patch.dict(config.options, {"proxy_mode": True}):
            return self.opener.post(self._build_url(url), json=body, headers=headers).json()

    def _prepare(self, tx, session_id="sess-1", address="198.51.100.7"):
        signature = hmac_tool(self.env(su=True), "payment_klarna_session", session_id)
        return self._call(
            KlarnaController._prepare_url,
            tx,
            address,
            session_id=session_id,
            session_signature=signature,
        )

    def _authorize(self, tx, address="198.51.100.7"):
        return self._call(
            KlarnaController._authorize_url, tx, address, authorization_token=str(uuid.uuid4())
        )

    def test_a_repeated_prepare_of_an_unchanged_cart_calls_klarna_once(self):
        tx = self._draft()
        self.assertIn("result", self._prepare(tx))
        callback = tx.sudo().klarna_callback_token_hash
        for _attempt in range(3):
            self.assertIn("result", self._prepare(tx))
        self.assertEqual(self.update.call_count, 1)
        # Klarna's session still calls back with the token it was given.
        self.assertEqual(tx.sudo().klarna_callback_token_hash, callback)

    def test_a_prepare_after_the_cart_changed_calls_klarna_again(self):
        tx = self._draft()
        self._prepare(tx)
        tx.amount += 10
        self.assertIn("result", self._prepare(tx))
        self._prepare(tx, "sess-2")
        self._prepare(tx, "sess-1")
        amounts = [call.args[1]["order_amount"] for call in self.update.call_args_list]
        self.assertEqual(len(amounts), 4)
        self.assertNotEqual(amounts[1], amounts[0])

    def test_prepares_are_bounded_per_widget_session(self):
        # Anyone can create draft transactions: the bound is the session's, not the
        # transaction's.
        with patch.object(const, "PREPARES_PER_SESSION", 3):
            for _attempt in range(3):
                self.assertIn("result", self._prepare(self._draft()))
            refused_tx = self._draft()
            refused = self._prepare(refused_tx)
        self.assertRegex(refused["error"]["data"]["message"], "^Klarna: too many")
        self.assertEqual(self.update.call_count, 3)
        self.assertFalse(refused_tx.klarna_session_id)
        self.assertFalse(refused_tx.sudo().klarna_callback_token_hash)

    def test_prepares_are_bounded_per_address(self):
        with patch.object(const, "SESSIONS_PER_ADDRESS", 2):
            for number in range(2):
                self.assertIn("result", self._prepare(self._draft(), f"sess-{number}"))
            refused = self._prepare(self._draft(), "sess-9")
            elsewhere = self._prepare(self._draft(), "sess-9", "203.0.113.9")
        self.assertRegex(refused["error"]["data"]["message"], "^Klarna: too many")
        self.assertIn("result", elsewhere)
        self.assertEqual(self.update.call_count, 3)

    def test_authorizations_with_fresh_tokens_are_bounded_per_session(self):
        # Klarna unavailable: the route keeps the transaction draft and queues the token,
        # so each new token would make one more call.
        tx = self._draft()
        tx.klarna_session_id = "sess-1"
        with patch.object(const, "AUTHORIZATIONS_PER_SESSION", 3):
            for _attempt in range(3):
                self.assertEqual(self._authorize(tx)["result"], {"state": "draft"})
            refused = self._authorize(tx)
        self.assertRegex(refused["error"]["data"]["message"], "^Klarna: too many")
        self.assertEqual(self.place.call_count, 3)

    def test_authorizations_are_bounded_per_address(self):
        with patch.object(const, "SESSIONS_PER_ADDRESS", 2):
            for _attempt in range(2):
                self.assertIn("result", self._authorize(self._draft()))
            refused = self._authorize(self._draft())
            elsewhere = self._authorize(self._draft(), "203.0.113.9")
        self.assertRegex(refused["error"]["data"]["message"], "^Klarna: too many")
        self.assertIn("result", elsewhere)
        self.assertEqual(self.place.call_count, 3)

    def test_refused_fake_tokens_count_and_change_nothing(self):
        # Klarna's 404 is not retryable: the route raises, and its transaction is rolled
        # back. The attempt is committed apart (journal_env), which a test cursor cannot
        # show over HTTP: call the model as the route does, without a savepoint.
        tx = self._draft()
        tx.klarna_session_id = "sess-1"
        self.place.side_effect = KlarnaNotFound("no such authorization")
        messages = []
        with patch.object(const, "AUTHORIZATIONS_PER_SESSION", 3):
            for _attempt in range(5):
                try:
                    tx._klarna_authorize(str(uuid.uuid4()), "browser", "198.51.100.7")
                except (UserError, ValidationError) as error:
                    messages.append(error.args[0])
        self.assertEqual(self.place.call_count, 3)
        self.assertEqual(len(messages), 5)
        self.assertRegex(messages[-1], "^Klarna: too many")
        self.assertEqual(tx.state, "draft")
        self.assertFalse(tx.sudo().klarna_authorization_token)

    def test_a_declined_customer_pays_again_and_a_retry_after_an_outage_goes_through(self):
        with patch.object(const, "PREPARES_PER_SESSION", 2):
            declined = self._draft()
            self._prepare(declined)
            declined._set_canceled()
            again = self._draft()
            self.assertIn("result", self._prepare(again))
            self.assertEqual(self._authorize(again)["result"], {"state": "draft"})
            self.place.side_effect = None
            self.place.return_value = PlacedOrder("klarna-order-1", "ACCEPTED", None, None)
            self.assertNotEqual(self._authorize(again)["result"], {"state": "draft"})
        self.assertEqual(again.klarna_order_id, "klarna-order-1")
        self.assertEqual(self.update.call_count, 2)
