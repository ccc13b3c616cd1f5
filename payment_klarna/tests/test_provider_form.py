from unittest.mock import patch

from odoo.tests import HttpCase, tagged

from odoo.addons.payment_klarna.klarna.client import KlarnaClient
from odoo.addons.payment_klarna.klarna.errors import KlarnaNotFound
from odoo.addons.payment_klarna.tests.common import KlarnaCommon


@tagged("post_install", "-at_install")
class TestProviderForm(KlarnaCommon, HttpCase):
    def test_admin_configures_klarna_in_the_form(self):
        """The real web client: fill the credentials, save, test the connection."""
        self.klarna.write(
            {
                "state": "disabled",
                "klarna_api_username": False,
                "klarna_api_password_encrypted": False,
            }
        )
        with patch.object(
            KlarnaClient, "get_order", side_effect=KlarnaNotFound("no such order", status=404)
        ) as get_order:
            self.start_tour(
                f"/odoo/action-payment.action_payment_provider/{self.klarna.id}",
                "payment_klarna_provider_form",
                login="admin",
            )
        get_order.assert_called_once()
        self.assertEqual(self.klarna.klarna_api_username, "PK99999_tour")
        self.assertEqual(self.klarna.klarna_region, "oc")
        self.assertEqual(self.klarna.state, "test")
        self.assertEqual(self.klarna._klarna_get_api_password(), "tour-password")
        self.assertTrue(self.klarna.klarna_api_password_encrypted.startswith("fernet:"))
