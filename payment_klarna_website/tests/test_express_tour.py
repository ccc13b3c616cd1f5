"""Klarna Express Checkout in headless Chromium, from the product page and from the cart."""

from odoo.tests import HttpCase, tagged

from .common import KlarnaExpressCommon


@tagged("post_install", "-at_install")
class TestExpressCheckoutTour(KlarnaExpressCommon, HttpCase):
    def setUp(self):
        super().setUp()
        self.simulator.reset()
        self.earlier = self.env["payment.transaction"].search([])

    def _klarna_txs(self):
        """This test's Klarna payments (other tests may leave theirs)."""
        return self.env["payment.transaction"].search(
            [("provider_id", "=", self.klarna.id), ("id", "not in", self.earlier.ids)]
        )

    def _paid_order(self):
        self.simulator.wait_idle(10)  # Klarna's callback may still be on its way
        (tx,) = self._klarna_txs()
        self.assertEqual(tx.state, "authorized")
        (order,) = tx.sale_order_ids
        self.assertEqual(order.state, "sale")
        (klarna_order,) = self.simulator.state.orders.values()
        self.assertEqual(klarna_order.order_amount, round(order.amount_total * 100))
        self.assertEqual(tx.klarna_order_id, klarna_order.order_id)
        return order

    def test_express_from_the_product_page(self):
        self.start_tour(self.chair.website_url, "payment_klarna_website_express_product")
        order = self._paid_order()
        self.assertEqual(order.amount_total, 115.0)  # 100 + 10 % tax + 5 delivery
        self.assertEqual(order.partner_id.email, "express-us@example.com")
        self.assertEqual(order.carrier_id, self.carrier)

    def test_express_from_the_cart(self):
        self.start_tour("/shop", "payment_klarna_website_express_cart")
        self.assertEqual(self._paid_order().amount_total, 115.0)

    def test_an_address_with_another_tax(self):
        self.start_tour(self.chair.website_url, "payment_klarna_website_express_tax")
        order = self._paid_order()
        self.assertEqual(order.fiscal_position_id, self.illinois)
        self.assertEqual(order.amount_total, 110.0)  # 100 + 5 % Illinois tax + 5 delivery

    def test_a_decline_leaves_no_payment(self):
        self.start_tour(self.chair.website_url, "payment_klarna_website_express_decline")
        self.assertFalse(self._klarna_txs())
        self.assertFalse(self.simulator.state.orders)
