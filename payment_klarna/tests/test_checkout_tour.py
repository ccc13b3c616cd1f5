"""The checkout in headless Chromium against the local Klarna simulator over real HTTP."""

import re
from urllib.parse import urlsplit

import requests

from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.payment_klarna.tests.common import KlarnaCommon, start_simulator


@tagged("post_install", "-at_install")
class TestCheckoutTour(KlarnaCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.simulator = start_simulator(
            cls, username="tour_user", password="tour_pass", retry_delay=0.1
        )
        cls.klarna.write(
            {
                "klarna_api_username": "tour_user",
                "klarna_api_password": "tour_pass",
                "klarna_base_url": cls.simulator.url,
                "klarna_checkout_flow": "embedded",
                "is_published": True,
                "inline_form_view_id": cls.env.ref("payment_klarna.inline_form").id,
            }
        )
        cls.klarna.payment_method_ids.active = True
        website = cls.env["website"].get_current_website()
        cls.env["product.product"].create(
            {
                "name": "Klarna Tour Chair",
                "list_price": 120.0,
                "type": "consu",
                "is_published": True,
                "website_id": website.id,
                "taxes_id": [(5, 0, 0)],
            }
        )
        cls.customer = new_test_user(
            cls.env,
            login="klarna_tour_customer",
            password="klarna_tour_customer",
            groups="base.group_portal",
            name="Kim Customer",
            email="kim.customer@example.com",
        )
        cls.customer.partner_id.write(
            {
                "street": "350 Fifth Avenue",
                "city": "New York",
                "zip": "10118",
                "state_id": cls.env.ref("base.state_us_27").id,
                "country_id": cls.env.ref("base.us").id,
                "phone": "+1 212 736 3100",
            }
        )

    def setUp(self):
        super().setUp()
        self.simulator.reset()

    def _orders(self):
        return self.env["sale.order"].search([("partner_id", "=", self.customer.partner_id.id)])

    def test_customer_pays_with_klarna_and_sees_a_confirmed_order(self):
        self.start_tour("/shop", "payment_klarna_checkout_approve", login="klarna_tour_customer")
        order = self._orders()
        tx = order.transaction_ids
        self.assertEqual(tx.state, "authorized")
        self.assertTrue(tx.klarna_order_id)
        self.assertEqual(order.state, "sale")
        klarna_order = self.simulator.state.orders[tx.klarna_order_id]
        self.assertEqual(klarna_order.order_amount, 12000)
        self.assertEqual(klarna_order.merchant_reference1, tx.reference)

    def test_declined_customer_keeps_a_payable_cart(self):
        self.start_tour("/shop", "payment_klarna_checkout_decline", login="klarna_tour_customer")
        order = self._orders()
        self.assertEqual(order.state, "draft")
        self.assertEqual(order.transaction_ids.mapped("state"), ["cancel"])
        self.assertFalse(self.simulator.state.orders)

    def test_hosted_page_round_trip_places_the_order(self):
        """To the hosted page and back: the return URL holds no token, Klarna's session does."""
        self.klarna.klarna_checkout_flow = "hosted"
        tx = self._create_transaction(
            "redirect",
            reference="klarna-hosted-tour",
            amount=120.0,
            currency_id=self.env.ref("base.USD").id,
            partner_id=self.customer.partner_id.id,
        )
        form = tx._get_processing_values()["redirect_form_html"]
        self.env.flush_all()  # the server's requests share this transaction
        page = re.search(r'action="([^"]+)"', str(form)).group(1)
        approved = requests.post(page + "/approve", allow_redirects=False, timeout=10)
        # Klarna's callback leaves on approval; let it land before the customer returns
        # (this thread must not write while a server request holds the shared cursor).
        self.simulator.wait_idle(10)
        back = urlsplit(approved.headers["Location"])
        self.assertNotIn("token", back.query)
        response = self.url_open(f"{back.path}?{back.query}", allow_redirects=False)
        self.assertEqual(response.status_code, 303)
        self.assertEqual(tx.state, "authorized")
        orders = [
            o for o in self.simulator.state.orders.values() if o.merchant_reference1 == tx.reference
        ]
        self.assertEqual([o.order_id for o in orders], [tx.klarna_order_id])
        self.assertEqual(orders[0].order_amount, 12000)
