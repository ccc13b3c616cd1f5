"""Public model methods as a browser reaches them: JSON-RPC on /web/dataset/call_kw."""

import json
from unittest.mock import patch

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.payment_klarna import utils as klarna_utils
from odoo.addons.payment_klarna.klarna.client import KlarnaClient
from odoo.addons.payment_klarna.tests.common import (
    OLD_SECRET_KEY,
    TEST_SECRET_KEY,
    KlarnaCommon,
    secret_keys,
)


@tagged("post_install", "-at_install")
class TestPublicMethodsOverRpc(KlarnaCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with secret_keys(OLD_SECRET_KEY):
            cls.klarna.klarna_api_password = "rotate-me"
            cls.key = cls.env["payment.klarna.signing.key"].create(
                {"provider_id": cls.klarna.id, "key_id": "v9", "secret": "rotate-key"}
            )
            cls.other = cls.klarna.copy({"name": "Klarna (other shop)"})
            cls.other.klarna_api_password = "other-password"
            cls.other_key = cls.env["payment.klarna.signing.key"].create(
                {"provider_id": cls.other.id, "key_id": "v1", "secret": "other-key"}
            )
            cls.widget_session = cls.env["payment.klarna.session"].create(
                {
                    "provider_id": cls.klarna.id,
                    "cart_key": "sale.order,1",
                    "payload_hash": "0" * 64,
                    "client_token_encrypted": klarna_utils.encrypt_secret(cls.env, "client-1"),
                }
            )

    def _call_kw(self, model, method, ids):
        response = self.url_open(
            "/web/dataset/call_kw",
            data=json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": "call",
                    "id": 1,
                    "params": {"model": model, "method": method, "args": [ids], "kwargs": {}},
                }
            ),
            headers={"Content-Type": "application/json"},
        )
        return response.json()

    def _ciphertexts(self):
        self.env.invalidate_all()
        records = self.klarna | self.other
        keys = self.key | self.other_key
        return (
            records.mapped("klarna_api_password_encrypted")
            + keys.mapped("secret_encrypted")
            + [self.widget_session.client_token_encrypted]
        )

    @mute_logger("odoo.http")
    def test_portal_and_internal_users_cannot_rotate_secrets(self):
        before = self._ciphertexts()
        for login in ("portal_user", "internal_user"):
            self.authenticate(login, login)
            for ids in ([], [self.klarna.id]):
                with (
                    self.subTest(login=login, ids=ids),
                    secret_keys(f"{TEST_SECRET_KEY},{OLD_SECRET_KEY}"),
                ):
                    answer = self._call_kw("payment.provider", "action_klarna_rotate_secrets", ids)
                    self.assertEqual(
                        answer["error"]["data"]["name"], "odoo.exceptions.AccessError", answer
                    )
        self.assertEqual(self._ciphertexts(), before)

    def test_rotation_touches_only_the_providers_it_is_called_on(self):
        before = self._ciphertexts()
        self.authenticate("admin", "admin")
        with secret_keys(f"{TEST_SECRET_KEY},{OLD_SECRET_KEY}"):
            answer = self._call_kw(
                "payment.provider", "action_klarna_rotate_secrets", [self.klarna.id]
            )
        self.assertIn("result", answer)
        after = self._ciphertexts()
        # The called provider and its key are re-encrypted; the other shop's are not.
        self.assertNotEqual(after[0], before[0])
        self.assertNotEqual(after[2], before[2])
        self.assertNotEqual(after[4], before[4])
        self.assertEqual((after[1], after[3]), (before[1], before[3]))
        with secret_keys(TEST_SECRET_KEY):
            self.assertEqual(self.klarna._klarna_get_api_password(), "rotate-me")
            self.assertEqual(
                self.widget_session._klarna_widget_values()["client_token"], "client-1"
            )

    @mute_logger("odoo.http")
    def test_other_public_methods_refuse_portal_users(self):
        """Every public method of the addon's models, called by a portal user, with and
        without records: refused, no Klarna call, nothing changed."""
        tx = self._create_transaction(
            "direct", state="authorized", klarna_order_id="klarna-order-rpc"
        )
        event = self.env["payment.klarna.event"].create(
            {
                "event_id": "evt-rpc",
                "event_type": "order.captured",
                "state": "dead",
                "provider_id": self.klarna.id,
            }
        )
        calls = (
            ("payment.provider", "action_klarna_test_connection", self.klarna),
            ("payment.provider", "action_klarna_view_events", self.klarna),
            ("payment.provider", "action_klarna_rotate_secrets", self.klarna),
            ("payment.transaction", "action_klarna_reconcile", tx),
            ("payment.transaction", "action_klarna_extend_authorization", tx),
            ("payment.klarna.event", "action_retry", event),
            ("payment.klarna.event", "action_mark_resolved", event),
        )
        self.authenticate("portal_user", "portal_user")
        with patch.object(KlarnaClient, "_call") as klarna:
            for model, method, record in calls:
                for ids in ([], record.ids):
                    with self.subTest(method=method, ids=ids):
                        answer = self._call_kw(model, method, ids)
                        self.assertEqual(
                            answer.get("error", {}).get("data", {}).get("name"),
                            "odoo.exceptions.AccessError",
                            answer,
                        )
        klarna.assert_not_called()
        self.env.invalidate_all()
        self.assertEqual((event.state, event.attempts), ("dead", 0))
        self.assertEqual(tx.state, "authorized")
