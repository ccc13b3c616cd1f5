from unittest.mock import patch

from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import file_open, mute_logger

from odoo.addons.payment_klarna import utils as klarna_utils
from odoo.addons.payment_klarna.klarna.client import KlarnaClient
from odoo.addons.payment_klarna.klarna.errors import (
    KlarnaAuthError,
    KlarnaNotFound,
    KlarnaUnavailable,
)
from odoo.addons.payment_klarna.klarna.secret_box import SecretBox
from odoo.addons.payment_klarna.tests.common import (
    OLD_SECRET_KEY,
    TEST_SECRET_KEY,
    KlarnaCommon,
    secret_keys,
)

SECRET_FIELDS = ["klarna_api_password", "klarna_api_password_encrypted", "klarna_base_url"]


@tagged("post_install", "-at_install")
class TestProviderRecord(KlarnaCommon):
    def test_provider_record_uses_core_klarna_methods(self):
        provider = self.env.ref("payment_klarna.payment_provider_klarna")
        self.assertEqual(provider.code, "klarna")
        self.assertEqual(
            set(provider.payment_method_ids.mapped("code")),
            {"klarna", "klarna_paynow", "klarna_pay_over_time"},
        )
        self.assertEqual(
            provider._get_default_payment_method_codes(),
            {"klarna", "klarna_paynow", "klarna_pay_over_time"},
        )

    def test_supported_currencies_are_klarnas_markets(self):
        names = set(self.klarna._get_supported_currencies().mapped("name"))
        self.assertTrue({"EUR", "SEK", "USD", "GBP", "AUD"} <= names)
        self.assertNotIn("JPY", names)
        self.assertNotIn("INR", names)

    def test_capture_policy_drives_odoos_capture_flag(self):
        self.klarna.klarna_capture_policy = "at_placement"
        self.assertFalse(self.klarna.capture_manually)
        self.klarna.klarna_capture_policy = "on_delivery"
        self.assertTrue(self.klarna.capture_manually)

    def test_base_url_override_must_be_https_or_loopback(self):
        self.klarna.klarna_base_url = "http://127.0.0.1:8099"
        self.klarna.klarna_base_url = "https://api.playground.klarna.com"
        with self.assertRaises(ValidationError):
            self.klarna.klarna_base_url = "http://evil.example.com"

    def test_urls_are_shown_for_copying(self):
        base = self.klarna.get_base_url().rstrip("/")
        self.assertEqual(self.klarna.klarna_webhook_url, base + "/klarna/webhook")
        self.assertTrue(
            self.klarna.klarna_authorization_callback_url.startswith(
                base + "/payment/klarna/authorization/"
            )
        )

    def test_neutralize_removes_credentials(self):
        self.env["payment.klarna.signing.key"].create(
            {"provider_id": self.klarna.id, "key_id": "k1", "secret": "s3cr3t"}
        )
        with file_open("payment_klarna/data/neutralize.sql") as sql:
            self.env.cr.execute(sql.read())
        self.env.invalidate_all()
        self.assertFalse(self.klarna.klarna_api_password_encrypted)
        self.assertFalse(self.env["payment.klarna.signing.key"].search_count([]))


@tagged("post_install", "-at_install")
class TestSecretsAtRest(KlarnaCommon):
    def _raw(self, table, column, record_id):
        self.env.flush_all()
        self.env.cr.execute(f"SELECT {column} FROM {table} WHERE id = %s", [record_id])  # noqa: S608
        return self.env.cr.fetchone()[0]

    def test_password_is_encrypted_in_the_database(self):
        self.klarna.klarna_api_password = "Sup3r-Secret-Password"
        raw = self._raw("payment_provider", "klarna_api_password_encrypted", self.klarna.id)
        self.assertTrue(raw.startswith("fernet:"))
        self.assertNotIn("Sup3r-Secret-Password", raw)
        self.env.cr.execute(
            "SELECT count(*) FROM payment_provider WHERE row_to_json(payment_provider)::text"
            " LIKE %s",
            ["%Sup3r-Secret-Password%"],
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0, "cleartext found in a provider column")
        self.assertEqual(self.klarna._klarna_get_api_password(), "Sup3r-Secret-Password")

    def test_password_is_write_only_in_the_ui(self):
        self.klarna.klarna_api_password = "write-only"
        self.klarna.invalidate_recordset()
        self.assertFalse(self.klarna.klarna_api_password)
        self.assertTrue(self.klarna.klarna_api_password_set)
        # Saving the form with an empty password keeps the saved one.
        self.klarna.write({"klarna_api_password": False})
        self.assertEqual(self.klarna._klarna_get_api_password(), "write-only")

    def test_signing_key_secret_is_encrypted(self):
        key = self.env["payment.klarna.signing.key"].create(
            {"provider_id": self.klarna.id, "key_id": "v1", "secret": "whsec-cleartext"}
        )
        raw = self._raw("payment_klarna_signing_key", "secret_encrypted", key.id)
        self.assertTrue(raw.startswith("fernet:"))
        self.assertNotIn("whsec-cleartext", raw)
        self.assertEqual(klarna_utils.decrypt_secret(self.env, raw), "whsec-cleartext")

    def test_signing_key_needs_a_secret_and_a_unique_id(self):
        keys = self.env["payment.klarna.signing.key"]
        with self.assertRaises(ValidationError):
            keys.create({"provider_id": self.klarna.id, "key_id": "v2"})
        keys.create({"provider_id": self.klarna.id, "key_id": "v3", "secret": "a"})
        with self.assertRaises(ValidationError), self.env.cr.savepoint():
            keys.create({"provider_id": self.klarna.id, "key_id": "bad,id", "secret": "a"})
        with (
            self.assertRaises(IntegrityError),
            self.env.cr.savepoint(),
            mute_logger("odoo.sql_db"),
        ):
            keys.create({"provider_id": self.klarna.id, "key_id": "v3", "secret": "b"})

    def test_saving_a_secret_without_key_is_refused_and_changes_nothing(self):
        before = self.klarna.klarna_api_password_encrypted
        with secret_keys(None), self.assertRaisesRegex(UserError, "^Klarna: secrets cannot"):
            self.klarna.klarna_api_password = "new-password"
        self.assertEqual(self.klarna.klarna_api_password_encrypted, before)

    def test_rotation_reencrypts_with_the_newest_key(self):
        with secret_keys(OLD_SECRET_KEY):
            self.klarna.klarna_api_password = "rotate-me"
            key = self.env["payment.klarna.signing.key"].create(
                {"provider_id": self.klarna.id, "key_id": "v9", "secret": "rotate-key"}
            )
        with secret_keys(f"{TEST_SECRET_KEY},{OLD_SECRET_KEY}"):
            self.assertEqual(self.klarna._klarna_get_api_password(), "rotate-me")
            self.klarna.action_klarna_rotate_secrets()
        new_box = SecretBox([TEST_SECRET_KEY])
        self.assertEqual(new_box.decrypt(self.klarna.klarna_api_password_encrypted), "rotate-me")
        self.assertEqual(new_box.decrypt(key.secret_encrypted), "rotate-key")
        with secret_keys(OLD_SECRET_KEY), self.assertRaises(UserError):
            self.klarna._klarna_get_api_password()

    def test_only_system_administrators_reach_secrets(self):
        for user in (self.internal_user, self.portal_user, self.public_user):
            provider = self.klarna.with_user(user)
            with self.assertRaises(AccessError, msg=user.login):
                provider.read(SECRET_FIELDS)
            with self.assertRaises(AccessError, msg=user.login):
                provider.write({"klarna_api_password": "hijack"})
            with self.assertRaises(AccessError, msg=user.login):
                self.env["payment.klarna.signing.key"].with_user(user).search([])
        self.assertTrue(self.klarna.with_user(self.admin_user).read(SECRET_FIELDS))


@tagged("post_install", "-at_install")
class TestConnectionCheck(KlarnaCommon):
    def _check(self, side_effect):
        with patch.object(KlarnaClient, "get_order", side_effect=side_effect) as get_order:
            action = self.klarna.action_klarna_test_connection()
        return action["params"], get_order

    def test_not_found_proves_the_credentials(self):
        params, get_order = self._check(KlarnaNotFound("no such order", status=404))
        self.assertEqual(params["type"], "success")
        get_order.assert_called_once_with("payment-klarna-connection-check")

    def test_refused_credentials_say_what_to_check(self):
        params, _get_order = self._check(KlarnaAuthError("unauthorized", status=401))
        self.assertEqual(params["type"], "danger")
        self.assertIn("Klarna: the credentials were refused", params["message"])
        self.assertNotIn("playground-password", params["message"])

    def test_unreachable_klarna_is_reported(self):
        params, _get_order = self._check(KlarnaUnavailable("timed out"))
        self.assertEqual(params["type"], "danger")
        self.assertIn("timed out", params["message"])

    def test_client_is_built_from_the_provider(self):
        self.klarna.write({"state": "test", "klarna_region": "na"})
        config = klarna_utils.build_client_config(self.klarna)
        self.assertEqual(config.username, "PK12345_test")
        self.assertEqual(config.password, "playground-password")
        self.assertEqual(config.api_url, "https://api-na.playground.klarna.com")
        self.klarna.klarna_base_url = "http://127.0.0.1:8099/"
        config = klarna_utils.build_client_config(self.klarna)
        self.assertEqual(config.api_url, "http://127.0.0.1:8099")
        self.assertIn("payment_klarna/", config.user_agent)
