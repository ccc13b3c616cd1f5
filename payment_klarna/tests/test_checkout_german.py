"""A German customer meets the checkout's Klarna messages in German (i18n/de.po)."""

import json

from odoo.tests import tagged

from odoo.addons.payment_klarna.tests import test_checkout_tour


@tagged("post_install", "-at_install")
class TestCheckoutGerman(test_checkout_tour.TestCheckoutTour):
    # Only the German journey here: the English ones run in TestCheckoutTour itself.
    test_customer_pays_with_klarna_and_sees_a_confirmed_order = None
    test_declined_customer_keeps_a_payable_cart = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        german = cls.env["res.lang"]._activate_lang("de_DE")
        cls.env["website"].get_current_website().write(
            {"language_ids": [(4, german.id)], "default_lang_id": german.id}
        )
        cls.customer.lang = "de_DE"

    def test_german_customer_reads_the_klarna_decline_in_german(self):
        self.start_tour(
            "/shop", "payment_klarna_checkout_decline_german", login="klarna_tour_customer"
        )
        self.assertEqual(self._orders().transaction_ids.mapped("state"), ["cancel"])

    def test_checkout_route_answers_in_german(self):
        """The routes' messages (``request.env._``) follow the shop's language too."""
        self.authenticate("klarna_tour_customer", "klarna_tour_customer")
        forged = {"reference": "S0", "access_token": "x", "session_id": "s",
                  "session_signature": "forged"}  # fmt: skip
        response = self.url_open(
            "/payment/klarna/prepare",
            data=json.dumps({"jsonrpc": "2.0", "method": "call", "params": forged}),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(
            response.json()["error"]["data"]["message"],
            "Klarna: Die Zahlungssitzung ist ungültig.",
        )
