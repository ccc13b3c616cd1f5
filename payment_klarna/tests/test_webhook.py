import json
import logging
import time
import uuid
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from odoo.addons.payment.tests.http_common import PaymentHttpCommon
from odoo.addons.payment_klarna import const
from odoo.addons.payment_klarna.controllers import webhook
from odoo.addons.payment_klarna.controllers.main import KlarnaController
from odoo.addons.payment_klarna.klarna import webhook_guard
from odoo.addons.payment_klarna.klarna.signature import (
    sign_klarna_signature,
    sign_payload_signature,
)
from odoo.addons.payment_klarna.tests.common import KlarnaCommon

SECRET_V1 = "signing-secret-version-1"
SECRET_V2 = "signing-secret-version-2"
SECRET_KID = "signing-secret-key-id"
IBAN = "DE89370400440532013000"


class WebhookCommon(KlarnaCommon):
    """Signing keys on the Klarna provider and genuine-looking signed events."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["payment.klarna.signing.key"].create(
            [
                {"provider_id": cls.klarna.id, "key_id": "1", "secret": SECRET_V1},
                {"provider_id": cls.klarna.id, "key_id": "2", "secret": SECRET_V2},
                {"provider_id": cls.klarna.id, "key_id": "kid-abc", "secret": SECRET_KID},
                {"provider_id": cls.klarna.id, "key_id": "3", "secret": "retired", "active": False},
            ]
        )
        cls.Event = cls.env["payment.klarna.event"]

    @staticmethod
    def _body(event_type="non_guaranteed_payment.updated", event_id=None, **payload):
        """A Pay Now status event with personal data, as Klarna sends it."""
        payload.setdefault("order_id", "ord-1")
        payload.setdefault("payment_status", "UNPAID")
        payload.setdefault("order_amount", 1111)
        payload.setdefault(
            "expected_payments",
            [{"payment_amount": 1111, "debtor": {"account_holder_name": "Ann Doe", "iban": IBAN}}],
        )
        return json.dumps(
            {
                "event_id": event_id or str(uuid.uuid4()),
                "event_type": event_type,
                "occurred_at": "2024-05-30T10:25:55.000Z",
                "payload": payload,
            }
        ).encode()

    @staticmethod
    def _payload_signature(body, secret=SECRET_V1, version=1, ts_ms=None):
        ts_ms = int(time.time() * 1000) if ts_ms is None else ts_ms
        return {"Payload-Signature": sign_payload_signature(body, secret, version, ts_ms)}


@tagged("post_install", "-at_install")
class TestWebhookRoute(WebhookCommon, PaymentHttpCommon):
    def setUp(self):
        super().setUp()
        self._new_worker_memory()
        self.url = self._build_url(KlarnaController._webhook_url)

    def _new_worker_memory(self):
        """What a fresh worker process has: an empty failure tracker."""
        self.startPatcher(patch.object(webhook, "failures", webhook_guard.FailureTracker()))

    def _post(self, body, headers=None, **extra_headers):
        return self.url_open(
            self.url,
            data=body,
            headers={"Content-Type": "application/json", **(headers or {}), **extra_headers},
        )

    def _events(self):
        return self.Event.search([])

    def _assert_refused(self, response, reason, status=400):
        self.assertEqual(response.status_code, status)
        self.assertEqual(response.json(), {"error": reason})
        self.assertFalse(self._events())

    # === SIGNATURES === #

    def test_payload_signature_event_is_stored_minimised_and_acknowledged(self):
        tx = self._create_transaction("direct", state="pending", klarna_order_id="ord-1")
        body = self._body()
        response = self._post(body, self._payload_signature(body))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"status": "accepted"})
        event = self._events()
        self.assertEqual(event.event_id, json.loads(body)["event_id"])
        self.assertEqual(event.state, "pending")
        self.assertEqual(event.provider_id, self.klarna)
        self.assertEqual(event.payment_status, "UNPAID")
        self.assertEqual((event.signature_scheme, event.signing_key_id), ("payload-signature", "1"))
        self.assertEqual(event.payload["payload"]["order_amount"], 1111)
        self.assertNotIn(IBAN, json.dumps(event.payload))
        self.assertNotIn("Ann Doe", json.dumps(event.payload))
        # The route only stores; the worker finds the transaction.
        self.assertFalse(event.transaction_id)
        self.Event._cron_process()
        self.assertEqual((event.state, event.transaction_id), ("processed", tx))

    def test_key_changes_apply_to_the_next_delivery(self):
        body = self._body()
        self.assertEqual(self._post(body, self._payload_signature(body)).status_code, 200)
        new_key = self.env["payment.klarna.signing.key"].create(
            {"provider_id": self.klarna.id, "key_id": "4", "secret": "brand-new"}
        )
        body = self._body()
        self.assertEqual(
            self._post(body, self._payload_signature(body, "brand-new", 4)).status_code, 200
        )
        new_key.active = False
        body = self._body()
        response = self._post(body, self._payload_signature(body, "brand-new", 4))
        self.assertEqual((response.status_code, response.json()), (400, {"error": "unknown_key"}))
        self.klarna.state = "disabled"
        body = self._body()
        response = self._post(body, self._payload_signature(body))
        self.assertEqual(response.status_code, 400)
        self.assertEqual(len(self._events()), 2)

    def test_only_klarna_provider_changes_clear_the_webhook_config(self):
        other = self.env["payment.provider"].create({"name": "Other provider"})
        keys = type(self.env["payment.klarna.signing.key"])
        with patch.object(keys, "_klarna_clear_webhook_config") as clear:
            other.state = "test"
            other.unlink()
            clear.assert_not_called()
            self.klarna.state = "disabled"
            clear.assert_called_once()

    def test_stored_events_make_the_inbox_cron_due_once(self):
        cron = self.env.ref("payment_klarna.cron_process_events")
        triggers = self.env["ir.cron.trigger"].sudo()
        triggers.search([("cron_id", "=", cron.id)]).unlink()
        for _ in range(3):
            body = self._body()
            self.assertEqual(self._post(body, self._payload_signature(body)).status_code, 200)
            self._post(body, self._payload_signature(body))  # a duplicate triggers nothing
        due = triggers.search([("cron_id", "=", cron.id)])
        self.assertEqual(len(due), 1)
        self.assertLessEqual(due.call_at, fields.Datetime.now())
        # Once a run has consumed the trigger, the next event triggers again.
        due.unlink()
        body = self._body()
        self._post(body, self._payload_signature(body))
        self.assertEqual(triggers.search_count([("cron_id", "=", cron.id)]), 1)

    def test_klarna_signature_with_key_id_is_accepted(self):
        body = self._body()
        headers = {
            "Klarna-Signature": sign_klarna_signature(body, SECRET_KID),
            "Klarna-Signing-Key-Id": "kid-abc",
        }
        self.assertEqual(self._post(body, headers).status_code, 200)
        self.assertEqual(self._events().signature_scheme, "klarna-signature")

    def test_every_active_key_verifies_during_a_rotation(self):
        body = self._body()
        self.assertEqual(
            self._post(body, self._payload_signature(body, SECRET_V2, 2)).status_code, 200
        )
        self.assertEqual(self._events().signing_key_id, "2")

    def test_wrong_key_is_refused(self):
        body = self._body()
        self._assert_refused(
            self._post(body, self._payload_signature(body, "not-the-secret")), "bad_signature"
        )

    def test_unknown_or_inactive_version_is_refused(self):
        body = self._body()
        self._assert_refused(
            self._post(body, self._payload_signature(body, SECRET_V1, version=9)), "unknown_key"
        )
        self._assert_refused(
            self._post(body, self._payload_signature(body, "retired", version=3)), "unknown_key"
        )

    def test_tampered_body_is_refused(self):
        body = self._body(order_amount=1111)
        headers = self._payload_signature(body)
        tampered = body.replace(b"1111", b"1")
        self._assert_refused(self._post(tampered, headers), "bad_signature")

    def test_replayed_signature_is_refused_outside_the_window(self):
        body = self._body()
        old = int((time.time() - 600) * 1000)
        self._assert_refused(
            self._post(body, self._payload_signature(body, ts_ms=old)), "stale_timestamp"
        )
        self.env["ir.config_parameter"].set_param(const.WEBHOOK_MAX_AGE_PARAM, "900")
        self.assertEqual(
            self._post(body, self._payload_signature(body, ts_ms=old)).status_code, 200
        )

    def test_a_bad_window_setting_keeps_the_default_window(self):
        self.env["ir.config_parameter"].set_param(const.WEBHOOK_MAX_AGE_PARAM, "ten minutes")
        body = self._body()
        old = int((time.time() - 600) * 1000)
        with self.assertLogs("odoo.addons.payment_klarna", logging.WARNING) as logs:
            self._assert_refused(
                self._post(body, self._payload_signature(body, ts_ms=old)), "stale_timestamp"
            )
        self.assertIn("must be a number of seconds", logs.output[0])
        self.assertEqual(self._post(body, self._payload_signature(body)).status_code, 200)

    def test_missing_or_incomplete_headers_are_refused(self):
        body = self._body()
        self._assert_refused(self._post(body), "missing_signature")
        headers = {"Klarna-Signature": sign_klarna_signature(body, SECRET_KID)}
        self._assert_refused(self._post(body, headers), "malformed_header")

    def test_signed_but_unusable_bodies_are_refused(self):
        for body, reason in (
            (b'{"event_id": ', "malformed_json"),
            (json.dumps({"event_type": "x.y"}).encode(), "missing_event_id"),
            (json.dumps({"event_id": str(uuid.uuid4())}).encode(), "missing_event_type"),
        ):
            self._assert_refused(self._post(body, self._payload_signature(body)), reason)

    def test_oversized_body_is_refused_before_verification(self):
        body = self._body(padding="x" * 300_000)
        self._assert_refused(self._post(body, self._payload_signature(body)), "body_too_large", 413)

    def test_refusal_log_names_the_reason_without_the_body(self):
        body = self._body()
        with self.assertLogs(webhook._security_logger.name, logging.WARNING) as logs:
            self._post(body, self._payload_signature(body, "not-the-secret"))
        output = "\n".join(logs.output)
        self.assertIn("bad_signature", output)
        self.assertNotIn(IBAN, output)
        self.assertNotIn("ord-1", output)

    # === IDEMPOTENCY === #

    def test_duplicate_event_is_acknowledged_and_ignored(self):
        body = self._body()
        headers = self._payload_signature(body)
        self.assertEqual(self._post(body, headers).json(), {"status": "accepted"})
        response = self._post(body, headers)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"status": "duplicate"})
        self.assertEqual(len(self._events()), 1)

    # === PROVIDER BINDING === #

    def _live_provider(self):
        """An enabled Klarna provider whose key 1 differs from the test provider's key 1."""
        live = self.klarna.copy(
            {
                "name": "Klarna (live)",
                "klarna_api_username": "PK1_live",
                "klarna_api_password": "pw",
            }
        )
        live.state = "enabled"
        self.env["payment.klarna.signing.key"].create(
            {"provider_id": live.id, "key_id": "1", "secret": "live-signing-secret"}
        )
        return live

    def _deliver_and_process(self, body):
        response = self._post(body, self._payload_signature(body))  # the test provider's key
        self.assertEqual(response.json(), {"status": "accepted"})
        event = self._events()
        self.assertEqual(event.provider_id, self.klarna, "bound to the provider whose key verified")
        self.Event._cron_process()
        event.invalidate_recordset()
        return event

    def _assert_set_aside(self, event, reason):
        self.assertEqual((event.state, event.transaction_id.id), ("dead", False))
        self.assertIn(reason, event.last_error)
        self.assertEqual(self.klarna.klarna_dead_event_count, 1, "an admin sees it")

    def test_a_playground_event_never_pays_a_live_transaction(self):
        """Someone pays on Klarna's playground with a live transaction's reference."""
        live_tx = self._create_transaction(
            "direct",
            provider_id=self._live_provider().id,
            reference="S00042",
            state="pending",
            klarna_order_id="ord-live",
        )
        body = self._body(
            payment_status="PAID", order_id="ord-playground", merchant_reference1="S00042"
        )
        event = self._deliver_and_process(body)
        live_tx.invalidate_recordset()
        self.assertEqual(live_tx.state, "pending")
        self._assert_set_aside(event, "another provider")

    def test_a_test_key_cannot_name_a_live_order(self):
        live_tx = self._create_transaction(
            "direct",
            provider_id=self._live_provider().id,
            state="pending",
            klarna_order_id="ord-live",
        )
        event = self._deliver_and_process(self._body(payment_status="PAID", order_id="ord-live"))
        live_tx.invalidate_recordset()
        self.assertEqual(live_tx.state, "pending")
        self._assert_set_aside(event, "another provider")

    def test_a_reference_of_a_transaction_with_another_order_is_set_aside(self):
        tx = self._create_transaction("direct", state="pending", klarna_order_id="ord-1")
        body = self._body(payment_status="PAID", order_id="ord-2", merchant_reference1=tx.reference)
        event = self._deliver_and_process(body)
        tx.invalidate_recordset()
        self.assertEqual(tx.state, "pending")
        self._assert_set_aside(event, "another Klarna order")

    # === LEGACY FRAUD NOTIFICATIONS === #

    def test_unsigned_fraud_notification_is_stored_for_a_known_order(self):
        tx = self._create_transaction("direct", state="pending", klarna_order_id="ord-7")
        body = json.dumps({"order_id": "ord-7", "event_type": "FRAUD_RISK_ACCEPTED"}).encode()
        self.assertEqual(self._post(body).json(), {"status": "accepted"})
        self.assertEqual(self._post(body).json(), {"status": "duplicate"})
        event = self._events()
        self.assertEqual(
            (event.signature_scheme, event.transaction_id, event.state), ("unsigned", tx, "pending")
        )

    def test_unsigned_fraud_notification_for_an_unknown_order_is_refused(self):
        body = json.dumps({"order_id": "ord-404", "event_type": "FRAUD_RISK_ACCEPTED"}).encode()
        self._assert_refused(self._post(body), "unknown_order")

    def test_deeply_nested_signed_body_is_refused_not_a_crash(self):
        for depth in (600, 50_000):
            nested = b"[" * depth + b"]" * depth
            body = self._body(deep="here").replace(b'"here"', nested)
            self._assert_refused(self._post(body, self._payload_signature(body)), "too_deep")

    def test_every_signed_body_type_is_refused_cleanly(self):
        for body, content_type in (
            (b" ", "application/json"),
            (b"null", "application/json"),
            (b'["event_id"]', "application/json"),
            (b"\xff\xfe{}", "application/json"),
            (b'{"event_id": 1, "event_type": ["x"]}', "application/json"),
            (self._body(), "application/x-www-form-urlencoded"),
        ):
            headers = {**self._payload_signature(body), "Content-Type": content_type}
            response = self._post(body, headers)
            self.assertEqual(response.status_code, 400, (body[:20], content_type))
            self.assertIn("error", response.json())
        self.assertFalse(self._events())

    def test_malformed_headers_are_refused_and_change_nothing(self):
        body = self._body()
        good = self._payload_signature(body)["Payload-Signature"]
        for headers in (
            {"Payload-Signature": ""},
            {"Payload-Signature": "ts=abc,sig=,v="},
            {"Payload-Signature": good + ",ts=-1"},
            {"Payload-Signature": good.replace("v=1", "v=1.5")},
            {"Payload-Signature": good.replace("v=1", "v=?1")},
            {"Payload-Signature": good.replace("v=1", "v=(1 2)")},
            {"Payload-Signature": "\u00e9=1"},
            {"Klarna-Signature": "zz", "Klarna-Signing-Key-Id": "1"},
            {"Klarna-Signature": "00" * 32, "Klarna-Signing-Key-Id": "a b"},
            {"Klarna-Signature": "00" * 32, "Klarna-Signing-Key-Id": "x" * 500},
        ):
            response = self._post(body, headers)
            self.assertEqual(response.status_code, 400, headers)
            self.assertIn(response.json()["error"], ("malformed_header", "unknown_key"))
        self.assertFalse(self._events())

    # === ADDRESSES AND FAILURES === #

    def _fraud_notification(self):
        self._create_transaction("direct", state="pending", klarna_order_id="ord-7")
        return json.dumps({"order_id": "ord-7", "event_type": "FRAUD_RISK_ACCEPTED"}).encode()

    def test_allow_list_applies_only_to_what_is_not_verified(self):
        unsigned = self._fraud_notification()
        body = self._body()
        self.env["ir.config_parameter"].set_param(const.WEBHOOK_ALLOWED_IPS_PARAM, "10.0.0.0/8")
        self._assert_refused(self._post(unsigned), "address_not_allowed", 403)
        # A body one of the provider's keys verifies is Klarna's, whoever relays it.
        self.assertEqual(self._post(body, self._payload_signature(body)).status_code, 200)
        self.env["ir.config_parameter"].set_param(
            const.WEBHOOK_ALLOWED_IPS_PARAM, "10.0.0.0/8,127.0.0.1"
        )
        self.assertEqual(self._post(unsigned).json(), {"status": "accepted"})

    def test_forwarded_address_is_believed_only_from_a_trusted_proxy(self):
        unsigned = self._fraud_notification()
        params = self.env["ir.config_parameter"]
        params.set_param(const.WEBHOOK_ALLOWED_IPS_PARAM, "klarna")  # the test provider: playground
        forwarded = {"X-Forwarded-For": "63.33.163.93"}
        self._assert_refused(self._post(unsigned, forwarded), "address_not_allowed", 403)
        params.set_param(const.WEBHOOK_TRUSTED_PROXIES_PARAM, "127.0.0.0/8")
        spoofed = {"X-Forwarded-For": "63.33.163.93, 198.51.100.7"}
        self._assert_refused(self._post(unsigned, spoofed), "address_not_allowed", 403)
        production = {"X-Forwarded-For": "52.18.109.75"}
        self._assert_refused(self._post(unsigned, production), "address_not_allowed", 403)
        self.assertEqual(self._post(unsigned, forwarded).status_code, 200)

    def _alerts(self):
        return self.env["mail.message"].search([("subject", "like", "Klarna: webhooks refused")])

    def test_repeated_failures_alert_the_admins_and_are_rate_limited(self):
        body = self._body()
        bad = self._payload_signature(body, "not-the-secret")
        for _attempt in range(webhook_guard.FAILURE_LIMIT):
            self.assertEqual(self._post(body, bad).status_code, 400)
        alert = self._alerts()
        self.assertEqual(len(alert), 1)
        self.assertEqual(alert.subject, "Klarna: webhooks refused from 127.0.0.1")
        self.assertIn(self.env.ref("base.user_admin").partner_id, alert.partner_ids)
        self.assertNotIn(IBAN, alert.body)
        self.assertEqual(self._post(body, bad).status_code, 429)
        self._assert_refused(self._post(self._fraud_notification()), "rate_limited", 429)
        self.assertEqual(self._alerts(), alert)

    def test_junk_never_silences_correctly_signed_deliveries(self):
        """Behind a proxy every sender shares one address: Klarna's must still get through."""
        body = self._body()
        bad = self._payload_signature(body, "not-the-secret")
        for _attempt in range(webhook_guard.FAILURE_LIMIT + 2):
            self._post(body, bad)
        self.assertEqual(self._post(body, bad).status_code, 429)
        response = self._post(body, self._payload_signature(body))
        self.assertEqual((response.status_code, response.json()), (200, {"status": "accepted"}))
        self.assertEqual(len(self._events()), 1)

    def _queries(self, body, headers=None):
        """The answer's status and the queries the route ran (the server shares our cursor)."""
        before = self.cr.sql_log_count
        response = self._post(body, headers)
        return response.status_code, self.cr.sql_log_count - before

    def test_the_limiter_costs_the_signed_path_no_query(self):
        body = self._body()
        self._post(body, self._payload_signature(body))  # the keys are cached from here on
        body = self._body()
        self.assertEqual(self._queries(body, self._payload_signature(body)), (200, 1))
        bad = self._payload_signature(body, "not-the-secret")
        self.assertEqual(self._queries(body, bad), (400, 0))
        for _attempt in range(webhook_guard.FAILURE_LIMIT):
            self._post(body, bad)
        self.assertEqual(self._queries(body, bad), (429, 0))
        body = self._body()
        self.assertEqual(self._queries(body, self._payload_signature(body)), (200, 1))

    def test_admins_are_alerted_once_per_window_across_workers(self):
        body = self._body()
        bad = self._payload_signature(body, "not-the-secret")
        for _worker in range(3):
            self._new_worker_memory()  # another worker: its own memory, the same database
            for _attempt in range(webhook_guard.FAILURE_LIMIT):
                self._post(body, bad)
        self.assertEqual(len(self._alerts()), 1)
        # Failures naming no provider's key have their own marker: one more alert, once.
        unknown = self._payload_signature(body, "not-the-secret", version=9)
        for _worker in range(2):
            self._new_worker_memory()
            for _attempt in range(webhook_guard.FAILURE_LIMIT):
                self._post(body, unknown)
        self.assertEqual(len(self._alerts()), 2)
        self.assertEqual(len(self._events()), 0)

    def test_a_new_window_alerts_again(self):
        body = self._body()
        bad = self._payload_signature(body, "not-the-secret")
        for _attempt in range(webhook_guard.FAILURE_LIMIT):
            self._post(body, bad)
        self.cr.execute(
            "UPDATE ir_config_parameter SET value = '2000-01-01 00:00:00' WHERE key = %s",
            [const.WEBHOOK_ALERT_MARKER_PARAM % self.klarna.id],
        )
        self.assertEqual(self.cr.rowcount, 1, "the marker is the provider's")
        self._new_worker_memory()
        for _attempt in range(webhook_guard.FAILURE_LIMIT):
            self._post(body, bad)
        self.assertEqual(len(self._alerts()), 2)
