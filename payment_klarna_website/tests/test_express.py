"""Klarna Express Checkout's routes over HTTP, against the simulator's express session, as the
browser drives them: the flows that place an order and every input a stranger can forge."""

import base64
import json
from datetime import timedelta
from urllib.parse import urlsplit

import requests

from odoo import fields, http
from odoo.tests import HttpCase, tagged

from odoo.addons.payment_klarna import compat
from odoo.addons.payment_klarna.klarna.money import to_minor
from odoo.addons.payment_klarna_website import const

from .common import CLIENT_ID, KlarnaExpressCommon

OPTIONS = {"collect_shipping_address": True, "auto_finalize": False}


@tagged("post_install", "-at_install")
class TestExpressCheckout(KlarnaExpressCommon, HttpCase):
    def setUp(self):
        super().setUp()
        self.simulator.reset()

    # === HELPERS === #

    def _rpc(self, route, **params):
        response = self.url_open(
            route,
            data=json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params}),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 200, response.text[:300])
        return response.json()

    def _ok(self, route, **params):
        answer = self._rpc(route, **params)
        self.assertNotIn("error", answer, answer.get("error"))
        return answer["result"]

    def _refused(self, route, text, **params):
        answer = self._rpc(route, **params)
        self.assertIn("error", answer, f"{route} accepted {params}")
        self.assertIn(text, answer["error"]["data"]["message"])
        return answer["error"]["data"]["message"]

    def _sim(self, path, body):
        return requests.post(self.simulator.url + path, json=body, timeout=10).json()

    def _start(self, product=None, quantity=1):
        params = {"product_id": product.id, "quantity": quantity} if product else {}
        return self._ok(const.EXPRESS_START_URL, provider_id=self.klarna.id, **params)

    def _authorize(self, start, address="default"):
        body = {"client_id": CLIENT_ID, "options": OPTIONS, "payload": start["payload"]}
        return self._sim("/kp/sim/v1/express/authorize", {**body, "address": address})

    def _review(self, start, authorized):
        return self._ok(
            const.EXPRESS_ADDRESS_URL,
            provider_id=self.klarna.id,
            start_signature=start["start_signature"],
            client_token=authorized["client_token"],
            address=authorized["collected_shipping_address"],
        )

    def _create_payment(self, review):
        """Odoo's transaction route, as the review's *Pay with Klarna* calls it."""
        return self._ok(
            review["transaction_route"],
            **review["transaction_params"],
            amount=review["amount_total"]["value"],
        )

    def _pay(self, authorized, review, browser_returns=True):
        """Create the payment, finalize the re-priced cart in Klarna, place the order.

        :return: the transaction and the finalize answers in order
        """
        processing = self._create_payment(review)
        tx_params = {
            "reference": processing["reference"],
            "access_token": processing["klarna_access_token"],
        }
        prepared = self._ok(
            const.EXPRESS_PREPARE_URL,
            **tx_params,
            session_id=review["session_id"],
            session_signature=review["session_signature"],
        )
        finalize = {"client_token": authorized["client_token"], "data": prepared["payload"]}
        answers = [self._sim("/kp/sim/v1/finalize", finalize)]
        if answers[0].get("reauthorize_required"):
            answers.append(self._sim("/kp/sim/v1/finalize", {**finalize, "confirm": True}))
        # Klarna's authorization callback leaves on finalize: let it land before the browser
        # comes back (this thread must not write while a server request holds the cursor).
        self.simulator.wait_idle(10)
        if browser_returns:
            self._authorize_in_browser(tx_params, answers[-1]["authorization_token"])
        tx = self.env["payment.transaction"].search([("reference", "=", tx_params["reference"])])
        return tx, answers

    def _authorize_in_browser(self, tx_params, authorization_token):
        self._ok("/payment/klarna/authorize", **tx_params, authorization_token=authorization_token)

    def _cart(self):
        """The visitor's cart, as their session names it (other tests may leave carts)."""
        session_id = self.opener.cookies.get("session_id")
        session = http.root.session_store.get(session_id) if session_id else {}
        return self.env["sale.order"].browse(session.get("sale_order_id"))

    def _cart_of(self, tx):
        return tx.sale_order_ids

    def _klarna_orders(self):
        return list(self.simulator.state.orders.values())

    # === FLOWS === #

    def test_product_page_express_places_exactly_the_repriced_total(self):
        start = self._start(self.chair, 2)
        self.assertEqual(start["payload"]["order_amount"], 22000)  # 2 x 100 + 10 % tax
        self.assertNotIn("billing_address", start["payload"])  # Klarna collects it
        again = self._start(self.chair, 2)  # a second click does not add the chair twice
        self.assertEqual(again["payload"]["order_amount"], 22000)
        authorized = self._authorize(again)
        self.assertTrue(authorized["finalize_required"])
        self.assertNotIn("authorization_token", authorized)
        review = self._review(again, authorized)
        order = self._cart()
        self.assertEqual(order.partner_id.email, "express-us@example.com")
        self.assertEqual(order.partner_shipping_id.state_id, self.env.ref("base.state_us_27"))
        self.assertEqual(order.carrier_id, self.carrier)
        self.assertEqual([m["id"] for m in review["delivery_methods"]], self.carrier.ids)
        self.assertEqual(review["amount_total"]["minor"], 22500)  # + 5 delivery

        tx, finalized = self._pay(authorized, review)

        # The shopper confirmed the new total in Klarna (delivery added after authorize).
        self.assertTrue(finalized[0]["reauthorize_required"])
        self.assertEqual(tx.state, "authorized")
        (klarna_order,) = self._klarna_orders()
        self.assertEqual(klarna_order.order_amount, to_minor(order.amount_total, 2))
        self.assertEqual(klarna_order.order_amount, 22500)
        self.assertEqual(tx.klarna_order_id, klarna_order.order_id)

    def test_an_address_with_another_tax_reprices_the_cart(self):
        start = self._start(self.chair, 1)
        authorized = self._authorize(start, address="changed")  # Chicago, Illinois
        review = self._review(start, authorized)
        order = self._cart()
        self.assertEqual(order.fiscal_position_id, self.illinois)
        self.assertEqual(order.amount_tax, 5.0)  # 5 % instead of 10 %
        self.assertEqual(review["amount_total"]["minor"], 11000)  # 105 + 5 delivery

        tx, _finalized = self._pay(authorized, review)

        self.assertEqual(tx.state, "authorized")
        (klarna_order,) = self._klarna_orders()
        self.assertEqual(klarna_order.order_amount, 11000)
        self.assertEqual(klarna_order.cart["order_tax_amount"], 500)

    def test_cart_express_without_delivery_needs_no_reauthorization(self):
        self._start(self.ebook, 1)
        start = self._start()  # the cart's button: the cart as it is
        self.assertEqual(start["payload"]["order_amount"], 2200)
        authorized = self._authorize(start)
        review = self._review(start, authorized)
        self.assertEqual(review["delivery_methods"], [])

        tx, finalized = self._pay(authorized, review)

        self.assertEqual(len(finalized), 1)
        self.assertEqual(tx.state, "authorized")
        self.assertEqual(self._klarna_orders()[0].order_amount, 2200)

    def test_a_chosen_delivery_method_is_priced_in(self):
        express = self.carrier.copy({"name": "Klarna Express Delivery", "fixed_price": 15.0})
        express.is_published = True
        start = self._start(self.chair, 1)
        authorized = self._authorize(start)
        review = self._review(start, authorized)
        self.assertEqual(review["delivery_method_id"], self.carrier.id)  # the cheapest first
        chosen = self._ok(
            const.EXPRESS_DELIVERY_URL, provider_id=self.klarna.id, delivery_method_id=express.id
        )
        self.assertEqual(chosen["amount_total"]["minor"], 12500)
        tx, _finalized = self._pay(authorized, {**review, **chosen})
        self.assertEqual(self._klarna_orders()[0].order_amount, 12500)
        self.assertEqual(tx.amount, 125.0)

    def test_callback_and_recovery_place_one_order_when_the_browser_never_returns(self):
        # Klarna's callback is delivered through this test's opener: Odoo 19 serves a test
        # only requests carrying its test cookie, which the simulator does not send.
        self.simulator.faults.add("lose", target="callback")
        start = self._start(self.chair, 1)
        authorized = self._authorize(start)
        review = self._review(start, authorized)
        tx, finalized = self._pay(authorized, review, browser_returns=False)
        (callback,) = self.simulator.state.deliveries_of("callback")
        response = self.url_open(
            urlsplit(callback.url).path,
            data=json.dumps(callback.body),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 200)
        # Klarna's authorization callback stored the token for the recovery job.
        self.assertTrue(tx.klarna_authorization_token)
        self.assertFalse(self._klarna_orders())

        tx._cron_klarna_recover_authorizations()

        self.assertEqual(tx.state, "authorized")
        (klarna_order,) = self._klarna_orders()
        self.assertEqual(klarna_order.order_amount, to_minor(self._cart_of(tx).amount_total, 2))
        # The browser comes back late with the same token: nothing is placed twice.
        params = {"reference": tx.reference, "access_token": tx._klarna_access_token()}
        self._authorize_in_browser(params, finalized[-1]["authorization_token"])
        self.assertEqual(len(self._klarna_orders()), 1)
        self.assertEqual(tx.klarna_order_id, klarna_order.order_id)

    def test_recovery_reads_an_express_session_whose_callback_was_lost(self):
        self.simulator.faults.add("lose", target="callback")
        start = self._start(self.ebook, 1)
        authorized = self._authorize(start)
        review = self._review(start, authorized)
        tx, _finalized = self._pay(authorized, review, browser_returns=False)
        self.assertFalse(tx.klarna_authorization_token)  # nothing arrived
        self.env.cr.execute(  # the customer had time
            "UPDATE payment_transaction SET create_date = %s, klarna_recovery_next_at = NULL "
            "WHERE id = %s",
            [fields.Datetime.now() - timedelta(hours=1), tx.id],
        )
        tx.invalidate_recordset(["create_date", "klarna_recovery_next_at"])

        tx._cron_klarna_recover_authorizations()

        self.assertEqual(tx.state, "authorized")
        self.assertEqual(self._klarna_orders()[0].order_amount, 2200)

    def test_a_state_is_found_in_the_address_country(self):
        """Odoo 18's express address helper took the first state of that code in any
        country: Canada's Northwest Territories became Australia's Northern Territory."""
        self._start(self.chair, 1)
        address = {
            "name": "Kim Customer",
            "email": "kim@example.com",
            "street": "1 Franklin Ave",
            "zip": "X1A 2L9",
            "city": "Yellowknife",
            "country": "CA",
            "state": "NT",
        }
        self._ok("/shop/express_checkout", billing_address=address)
        self.assertEqual(self._cart().partner_id.state_id, self.env.ref("base.state_ca_nt"))

    # === HOSTILE INPUT === #

    def test_start_refuses_what_a_stranger_can_send(self):
        start = const.EXPRESS_START_URL
        self._refused(start, "cart is empty", provider_id=self.klarna.id)
        self._refused(start, "unexpected parameter 'amount'", provider_id=self.klarna.id, amount=1)
        self._refused(start, "not available", provider_id=self.klarna.id + 1000)
        self._refused(start, "not a valid id", provider_id="1; DROP")
        hidden = self._shop_product("Hidden", 10.0, "consu")
        hidden.is_published = False
        for product, quantity in (
            (hidden, 1),
            (self.chair, 0),
            (self.chair, -2),
            (self.chair, 1e9),
        ):
            self._refused(
                start, "cannot be bought", provider_id=self.klarna.id, product_id=product.id,
                quantity=quantity,
            )  # fmt: skip
        self.assertFalse(self._cart().order_line)

    def test_address_refuses_a_cart_changed_since_start(self):
        start = self._start(self.chair, 1)
        authorized = self._authorize(start)
        self._start(self.chair, 3)  # another tab
        self._refused(
            const.EXPRESS_ADDRESS_URL,
            "cart changed",
            provider_id=self.klarna.id,
            start_signature=start["start_signature"],
            client_token=authorized["client_token"],
            address=authorized["collected_shipping_address"],
        )
        self.assertTrue(self._cart().partner_id.is_public)

    def test_address_refuses_a_missing_or_partial_address(self):
        start = self._start(self.chair, 1)
        authorized = self._authorize(start)
        collected = authorized["collected_shipping_address"]
        partners = self.env["res.partner"].search_count([])
        for address, problem in (
            ({}, "given name is missing"),
            ({**collected, "email": None}, "email address is missing"),
            ({**collected, "country": "DE"}, "not the purchase country"),
            ({**collected, "region": ""}, "state is missing"),
            ({**collected, "city": ["Chicago"]}, "'city' is not valid"),
        ):
            self._refused(
                const.EXPRESS_ADDRESS_URL,
                problem,
                provider_id=self.klarna.id,
                start_signature=start["start_signature"],
                client_token=authorized["client_token"],
                address=address,
            )
        self._refused(
            const.EXPRESS_ADDRESS_URL, "not a valid object", provider_id=self.klarna.id,
            start_signature=start["start_signature"], client_token=authorized["client_token"],
            address="Chicago",
        )  # fmt: skip
        self.assertEqual(self.env["res.partner"].search_count([]), partners)
        self.assertTrue(self._cart().partner_id.is_public)

    def test_address_refuses_a_session_of_another_cart_or_none(self):
        first = self._start(self.chair, 1)
        other_cart = self._authorize(first)  # authorized for 110.00
        second = self._start(self.chair, 2)
        forged_claims = base64.urlsafe_b64encode(b'{"session_id": "not-a-session"}').decode()
        for client_token in (
            other_cart["client_token"],
            f"e30.{forged_claims.rstrip('=')}.c2ln",
            "not a token",
        ):
            self._refused(
                const.EXPRESS_ADDRESS_URL,
                "session is not valid",
                provider_id=self.klarna.id,
                start_signature=second["start_signature"],
                client_token=client_token,
                address=other_cart["collected_shipping_address"],
            )
        self.assertTrue(self._cart().partner_id.is_public)

    def test_another_visitor_cannot_prepare_a_foreign_cart(self):
        start = self._start(self.chair, 1)
        authorized = self._authorize(start)
        review = self._review(start, authorized)
        processing = self._create_payment(review)
        # A stranger holding the payment's reference and token, from a session of their own
        # (Odoo 19's test opener adds its test cookie to each request).
        stranger = requests.Session() if compat.SERIES < 19 else type(self.opener)(self)
        stranger.cookies.update({k: v for k, v in self.opener.cookies.items() if k != "session_id"})
        self.opener, owner = stranger, self.opener
        try:
            self._start(self.ebook, 1)  # the stranger's own cart
            self._refused(
                const.EXPRESS_PREPARE_URL,
                "cart changed",
                reference=processing["reference"],
                access_token=processing["klarna_access_token"],
                session_id=review["session_id"],
                session_signature=review["session_signature"],
            )
        finally:
            self.opener = owner
        self.assertFalse(self._klarna_orders())

    def test_delivery_and_payment_refuse_forged_choices(self):
        start = self._start(self.chair, 1)
        authorized = self._authorize(start)
        review = self._review(start, authorized)
        hidden = self.carrier.copy({"name": "Not offered", "is_published": False})
        self._refused(
            const.EXPRESS_DELIVERY_URL,
            "not available",
            provider_id=self.klarna.id,
            delivery_method_id=hidden.id,
        )
        # A forged amount: Odoo's transaction route compares it with the cart.
        self._refused(
            review["transaction_route"],
            "cart has been updated",
            **review["transaction_params"],
            amount=1.0,
        )
        processing = self._create_payment(review)
        params = {
            "reference": processing["reference"],
            "session_id": review["session_id"],
            "session_signature": review["session_signature"],
        }
        forged = self._rpc(const.EXPRESS_PREPARE_URL, **params, access_token="forged")
        self.assertEqual(forged["error"]["data"]["name"], "werkzeug.exceptions.Forbidden")
        self._refused(
            const.EXPRESS_PREPARE_URL,
            "payment session is not valid",
            **{**params, "session_signature": "forged"},
            access_token=processing["klarna_access_token"],
        )
        self._start(self.chair, 4)  # the cart changed after the payment was created
        self._refused(
            const.EXPRESS_PREPARE_URL,
            "cart changed",
            **params,
            access_token=processing["klarna_access_token"],
        )
        self.assertFalse(self._klarna_orders())
