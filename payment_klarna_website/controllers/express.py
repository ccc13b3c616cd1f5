"""Klarna Express Checkout: the button on the product page and in the cart.

Klarna's flow (docs/klarna-storefront.md §2): the browser authorizes the cart with
``collect_shipping_address`` and no automatic finalization; Klarna answers with the address
it collected and a client token. The shop then re-prices the cart for that address (taxes,
fiscal position, delivery method), the shopper confirms, and ``finalize`` with the re-priced
cart gives the authorization token the order is placed with, as at the regular checkout.

The routes only translate HTTP. The cart is always the visitor's own
(``compat.website_cart``): no order id is taken from the browser. Every step that relies on
an earlier one checks a signature of what that step saw, so a stranger can only replay their
own cart.
"""

import logging

from odoo.exceptions import ValidationError
from odoo.http import request, route
from odoo.tools import float_compare, format_amount
from odoo.tools.misc import hmac as hmac_tool

from odoo.addons.payment_klarna import compat
from odoo.addons.payment_klarna import const as klarna_const
from odoo.addons.payment_klarna.controllers.main import KlarnaController
from odoo.addons.payment_klarna.klarna import client_token as klarna_client_token
from odoo.addons.payment_klarna.klarna import inbound
from odoo.addons.payment_klarna.klarna.address import party_from_klarna
from odoo.addons.payment_klarna.klarna.errors import KlarnaError
from odoo.addons.payment_klarna.klarna.mapping_errors import KlarnaMappingError
from odoo.addons.payment_klarna.klarna.money import to_minor
from odoo.addons.website_sale.controllers.delivery import Delivery

from .. import const

_logger = logging.getLogger(__name__)


class KlarnaExpressController(Delivery, KlarnaController):
    @route(
        const.EXPRESS_START_URL,
        type=compat.JSON_ROUTE,
        auth="public",
        website=True,
        klarna_params=const.EXPRESS_START_PARAMS,
    )
    def klarna_express_start(self, provider_id, product_id=None, quantity=None):
        """The cart Klarna authorizes, before Klarna knows the shopper.

        From the product page, the product is first put in the cart in the page's quantity
        (a second click does not add it twice).

        :param int provider_id: the Klarna provider of the button
        :param int product_id: the product page's variant, as a ``product.product`` id
        :param float quantity: the product page's quantity
        :return: ``payload`` for Klarna's ``authorize`` and the ``start_signature`` of the
            cart it holds
        :rtype: dict
        :raise ValidationError: Klarna Express Checkout is not offered for this cart
        """
        provider_sudo = self._klarna_express_provider(provider_id)
        if product_id is not None:
            product = self._klarna_express_product(product_id, quantity)  # before any cart
            order_sudo = compat.website_cart(request, create=True)
            compat.cart_set_quantity(order_sudo, product, float(quantity))
        order_sudo = self._klarna_express_cart(provider_sudo)
        payload = provider_sudo._klarna_express_cart_payload(order_sudo)
        return {"payload": payload, "start_signature": self._klarna_express_sign(order_sudo)}

    @route(
        const.EXPRESS_ADDRESS_URL,
        type=compat.JSON_ROUTE,
        auth="public",
        website=True,
        klarna_params=const.EXPRESS_ADDRESS_PARAMS,
    )
    def klarna_express_address(self, provider_id, start_signature, client_token, address):
        """Record the address Klarna collected on the cart and re-price it for that address.

        :param int provider_id: the Klarna provider of the button
        :param str start_signature: the start route's signature of the cart
        :param str client_token: the client token Klarna's authorize gave
        :param dict address: Klarna's ``collected_shipping_address``
        :return: the review: delivery methods, amounts, and what the payment steps need
        :rtype: dict
        :raise ValidationError: the cart changed, the session or the address is not valid
        """
        provider_sudo = self._klarna_express_provider(provider_id)
        order_sudo = self._klarna_express_cart(provider_sudo)
        if not inbound.same_secret(self._klarna_express_sign(order_sudo), start_signature):
            raise ValidationError(
                request.env._(
                    "Klarna: your cart changed while Klarna was open. Click the Klarna button "
                    "again."
                )
            )
        payload = provider_sudo._klarna_express_cart_payload(order_sudo)
        try:
            party = party_from_klarna(address, payload["purchase_country"])
        except KlarnaMappingError as error:
            raise ValidationError(
                request.env._(
                    "Klarna: the address from Klarna cannot be used (%(problems)s). Click the "
                    "Klarna button again, or check out without it.",
                    problems="; ".join(error.problems),
                )
            ) from None
        session_id = self._klarna_express_session(provider_sudo, order_sudo, payload, client_token)
        odoo_address = {
            "name": party.name,
            "email": party.email,
            "phone": party.phone or "",
            "street": party.street,
            "street2": party.street2 or "",
            "zip": party.postal_code,
            "city": party.city,
            "country": party.country_code,
            "state": party.state_code or "",
        }
        if party.organization_name:
            odoo_address["company_name"] = party.organization_name
        # Klarna collected one address: the plugins of Klarna use it to bill and to deliver.
        self.process_express_checkout(
            billing_address=dict(odoo_address), shipping_address=dict(odoo_address)
        )
        order_sudo._recompute_taxes()
        methods = self._klarna_express_delivery_methods(order_sudo)
        if order_sudo._has_deliverable_products():
            if not methods:
                raise ValidationError(
                    request.env._(
                        "Klarna: we cannot deliver to this address. Check out without Klarna "
                        "Express Checkout to choose another address."
                    )
                )
            chosen = (
                order_sudo.carrier_id
                if order_sudo.carrier_id in methods
                else min(methods, key=methods.get)
            )
            order_sudo._set_delivery_method(chosen)
        return {
            **self._klarna_express_review(order_sudo, methods),
            "session_id": session_id,
            "session_signature": self._klarna_sign_session(session_id),
            "transaction_route": f"/shop/payment/transaction/{order_sudo.id}",
            "transaction_params": {
                "provider_id": provider_sudo.id,
                "payment_method_id": provider_sudo._klarna_express_payment_method().id,
                "token_id": None,
                "flow": "direct",
                "tokenization_requested": False,
                "landing_route": "/shop/payment/validate",
                "access_token": order_sudo._portal_ensure_token(),
            },
        }

    @route(
        const.EXPRESS_DELIVERY_URL,
        type=compat.JSON_ROUTE,
        auth="public",
        website=True,
        klarna_params=const.EXPRESS_DELIVERY_PARAMS,
    )
    def klarna_express_delivery(self, provider_id, delivery_method_id):
        """Change the delivery method to one offered for the address.

        :param int provider_id: the Klarna provider of the button
        :param int delivery_method_id: the chosen ``delivery.carrier``
        :return: the review: delivery methods and amounts
        :rtype: dict
        :raise ValidationError: the method is not offered for this cart
        """
        provider_sudo = self._klarna_express_provider(provider_id)
        order_sudo = self._klarna_express_cart(provider_sudo)
        methods = self._klarna_express_delivery_methods(order_sudo)
        chosen = next((method for method in methods if method.id == delivery_method_id), None)
        if chosen is None:
            raise ValidationError(
                request.env._("Klarna: this delivery method is not available. Choose another.")
            )
        order_sudo._set_delivery_method(chosen)
        return self._klarna_express_review(order_sudo, methods)

    @route(
        const.EXPRESS_PREPARE_URL,
        type=compat.JSON_ROUTE,
        auth="public",
        website=True,
        klarna_params=const.EXPRESS_PREPARE_PARAMS,
    )
    def klarna_express_prepare(self, reference, access_token, session_id, session_signature):
        """Put the re-priced cart into Klarna's session: the cart ``finalize`` confirms.

        The transaction pays the whole cart, as it is now: the amount placed is always the
        order's total.

        :param str reference: the transaction's reference
        :param str access_token: the transaction's Klarna access token
        :param str session_id: the Express Checkout session, from the address route
        :param str session_signature: the address route's signature of ``session_id``
        :return: ``payload`` for Klarna's ``finalize`` and the ``payment_method_category``
        :rtype: dict
        :raise ValidationError: the cart changed since the transaction was created
        :raise Forbidden: unknown reference or wrong token
        """
        tx_sudo = self._klarna_get_tx(reference, access_token)
        order_sudo = tx_sudo.sale_order_ids
        if (
            len(order_sudo) != 1
            or order_sudo != compat.website_cart(request)
            or float_compare(
                tx_sudo.amount,
                order_sudo.amount_total,
                precision_rounding=tx_sudo.currency_id.rounding,
            )
        ):
            raise ValidationError(
                request.env._(
                    "Klarna: your cart changed. Click the Klarna button again to pay the new total."
                )
            )
        prepared = self.klarna_prepare(reference, access_token, session_id, session_signature)
        return {**prepared, "payload": tx_sudo._klarna_order_payload()}

    def _include_country_and_state_in_address(self, address):
        """Override of `website_sale` to find the state in the address's own country.

        Odoo 18 looks the code up in every country ("CA" may be a Spanish province for an
        address in California); Odoo 19 already looks in the country, where this changes
        nothing.

        :param dict address: an address with its country and state as ISO 3166 codes
        :return: None: ``address`` is completed in place
        """
        state_code = address.get("state")
        res = super()._include_country_and_state_in_address(address)
        states = request.env["res.country.state"]
        if state_code and states.browse(address["state_id"]).country_id.id != address["country_id"]:
            address["state_id"] = states.search(
                [("country_id", "=", address["country_id"]), ("code", "=", state_code)], limit=1
            ).id
        return res

    # === HELPERS === #

    def _klarna_express_provider(self, provider_id):
        provider_sudo = request.env["payment.provider"]._klarna_storefront_provider(
            request.website, express=True
        )
        if not provider_sudo or provider_sudo.id != provider_id:
            raise ValidationError(
                request.env._("Klarna: Klarna Express Checkout is not available here.")
            )
        return provider_sudo

    def _klarna_express_product(self, product_id, quantity):
        # As the visitor's cart reads it: a stranger's id may name a product they cannot read.
        product = request.env["product.product"].sudo().browse(product_id).exists()
        if (
            not product
            or quantity is None
            or not 0 < float(quantity) <= const.EXPRESS_MAX_QUANTITY
            or not product._klarna_express_on_product_page()
        ):
            raise ValidationError(
                request.env._("Klarna: this product cannot be bought with Klarna Express Checkout.")
            )
        return product

    def _klarna_express_cart(self, provider_sudo):
        order_sudo = compat.website_cart(request)
        if not order_sudo or not order_sudo.order_line or not order_sudo.amount_total > 0:
            raise ValidationError(
                request.env._(
                    "Klarna: your cart is empty. Add a product, then click the Klarna button."
                )
            )
        return order_sudo

    def _klarna_express_sign(self, order_sudo):
        """Signs the cart as the start route saw it: its id, total and currency."""
        minor = to_minor(order_sudo.amount_total, order_sudo.currency_id.decimal_places)
        return hmac_tool(
            request.env(su=True),
            "payment_klarna_express_start",
            f"{order_sudo.id}:{minor}:{order_sudo.currency_id.name}",
        )

    def _klarna_express_session(self, provider_sudo, order_sudo, payload, client_token):
        """The Express Checkout session a client token names, read back from Klarna with
        the shop's credentials: it must be one of the shop's, for ``payload`` (the cart's
        start payload, whose amount the start route signed).

        :return: the session id
        :raise ValidationError: the token names no session of the shop for this cart
        """
        refused = ValidationError(
            request.env._("Klarna: the Klarna session is not valid. Click the Klarna button again.")
        )
        session_id = klarna_client_token.session_id_of(client_token)
        if not session_id:
            raise refused
        sessions = request.env["payment.klarna.session"].sudo()
        sessions._klarna_count_call(
            provider_sudo,
            "session",
            f"express,{order_sudo.id}",
            request.httprequest.remote_addr,
            klarna_const.SESSIONS_PER_CART,
            sessions._klarna_payload_hash(provider_sudo, payload),
        )
        try:
            session = provider_sudo._klarna_get_client().read_session(session_id)
        except KlarnaError as error:
            _logger.info(
                "Klarna express session of %s not read: %s", order_sudo.name, type(error).__name__
            )
            raise refused from None
        if (session.order_amount, session.purchase_currency) != (
            payload["order_amount"],
            payload["purchase_currency"],
        ):
            raise refused
        return session_id

    def _klarna_express_delivery_methods(self, order_sudo):
        """The delivery methods offered for the cart's address, with their prices."""
        if not order_sudo._has_deliverable_products():
            return {}
        return self._get_delivery_methods_express_checkout(order_sudo)

    def _klarna_express_review(self, order_sudo, methods):
        currency = order_sudo.currency_id
        env = request.env

        def money(amount):
            return {
                "value": amount,
                "minor": to_minor(amount, currency.decimal_places),
                "text": format_amount(env, amount, currency),
            }

        return {
            "delivery_methods": [
                {"id": method.id, "name": method.name, "amount": money(price)}
                for method, price in sorted(methods.items(), key=lambda item: item[1])
            ],
            "delivery_method_id": order_sudo.carrier_id.id or False,
            "amount_untaxed": money(order_sudo.amount_untaxed),
            "amount_tax": money(order_sudo.amount_tax),
            "amount_total": money(order_sudo.amount_total),
        }
