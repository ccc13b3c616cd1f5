import re

from odoo import Command, api, fields, models
from odoo.exceptions import ValidationError
from odoo.http import request

from odoo.addons.payment_klarna import compat
from odoo.addons.payment_klarna import const as klarna_const
from odoo.addons.payment_klarna.klarna.locale import MARKETS, klarna_locale
from odoo.addons.payment_klarna.payload import cart_payload

from .. import const


class PaymentProvider(models.Model):
    _inherit = "payment.provider"

    klarna_client_id = fields.Char(
        string="Client Identifier",
        help="Klarna's public client identifier of this environment (Merchant portal, "
        "Settings > Client identifiers). Register the shop's domain as an allowed origin.",
    )
    klarna_osm_product = fields.Boolean(string="On the product page")
    klarna_osm_cart = fields.Boolean(string="In the cart")
    klarna_osm_checkout = fields.Boolean(string="At checkout")
    klarna_osm_top_strip = fields.Boolean(string="Top strip on every page")
    klarna_osm_theme = fields.Selection(
        string="Messaging Theme", selection=const.OSM_THEMES, default="default", required=True
    )
    klarna_express_theme = fields.Selection(
        string="Button Theme", selection=const.EXPRESS_THEMES, default="default", required=True
    )
    klarna_express_shape = fields.Selection(
        string="Button Shape", selection=const.EXPRESS_SHAPES, default="default", required=True
    )

    # === COMPUTE METHODS === #

    def _compute_feature_support_fields(self):
        """Override of `payment` to offer Klarna Express Checkout."""
        res = super()._compute_feature_support_fields()
        self.filtered(
            lambda p: p.code == klarna_const.PROVIDER_CODE
        ).support_express_checkout = True
        return res

    # === CONSTRAINT METHODS === #

    @api.constrains(
        "klarna_client_id",
        "klarna_osm_product",
        "klarna_osm_cart",
        "klarna_osm_checkout",
        "klarna_osm_top_strip",
        "allow_express_checkout",
    )
    def _check_klarna_client_id(self):
        for provider in self.filtered(lambda p: p.code == klarna_const.PROVIDER_CODE):
            client_id = provider.klarna_client_id
            if client_id and not re.match(const.CLIENT_ID_PATTERN, client_id):
                raise ValidationError(
                    self.env._(
                        "Klarna: the client identifier is not valid. Copy it from the Merchant "
                        "portal (Settings > Client identifiers)."
                    )
                )
            if not client_id and (
                provider._klarna_osm_enabled() or provider.allow_express_checkout
            ):
                raise ValidationError(
                    self.env._(
                        "Klarna: enter the client identifier to show On-Site Messaging or the "
                        "Express Checkout button."
                    )
                )

    # === BUSINESS METHODS === #

    def _klarna_osm_enabled(self):
        self.ensure_one()
        return any(self[f"klarna_osm_{page}"] for page in const.OSM_PLACEMENT_KEYS)

    @api.model
    def _klarna_storefront_provider(self, website, express=False):
        """The Klarna provider the storefront shows, or an empty recordset.

        The payment form's own rules: enabled, or in test mode; published, unless the visitor
        is an internal user (who previews a provider in test mode); the website's company.

        :param website: the ``website`` the page belongs to
        :param bool express: the provider must allow Express Checkout
        :return: a ``payment.provider``, sudoed, at most one
        """
        domain = [
            ("code", "=", klarna_const.PROVIDER_CODE),
            ("state", "in", ("enabled", "test")),
            ("company_id", "=", website.company_id.id),
            ("website_id", "in", (False, website.id)),
            ("klarna_client_id", "!=", False),
        ]
        if not self.env.user._is_internal():
            domain.append(("is_published", "=", True))
        if express:
            domain.append(("allow_express_checkout", "=", True))
        return self.sudo().search(domain, limit=1)

    def _klarna_storefront_market(self, currency, partner=None):
        """Klarna's market for a shopper: ``(country code, locale)``, or None.

        The country is the shopper's (the cart's customer), else the visitor's (GeoIP), else
        the company's; Klarna must serve it in the page's currency, or nothing is shown.

        :param currency: the ``res.currency`` of the prices shown
        :param partner: the cart's customer, if any
        :return: ``(country_code, locale)`` or None
        """
        self.ensure_one()
        country = partner and not partner.is_public and partner.country_id.code
        if not country and request:
            country = request.geoip.country_code
        country = (country or self.company_id.country_id.code or "").upper()
        if country not in MARKETS or MARKETS[country].currency != currency.name:
            return None
        lang = (request and request.lang and request.lang.code) or self.env.lang
        return country, klarna_locale(lang, country)

    def _klarna_web_sdk_url(self):
        """On-Site Messaging's script: Klarna's Web SDK, or the simulator's stand-in."""
        return self._klarna_sdk_url(const.OSM_SDK_PATH, const.OSM_SDK_URL)

    def _klarna_express_button_values(self, order=None):
        """What Klarna's express button needs, or None where it is not offered: no market
        for the page's currency in the shopper's country.

        :param order: the cart, if any
        :return: the button container's ``data-*`` values
        :rtype: dict
        """
        self.ensure_one()
        currency = order.currency_id if order else request.website.currency_id
        partner = order.partner_id if order else self.env.user.partner_id
        found = self._klarna_storefront_market(currency, partner)
        if not found:
            return None
        return {
            "data-provider-id": self.id,
            "data-sdk-url": self._klarna_sdk_url(),
            "data-client-id": self.klarna_client_id,
            "data-theme": self.klarna_express_theme,
            "data-shape": self.klarna_express_shape,
            "data-locale": found[1],
        }

    @api.model
    def _klarna_express_product_button_values(self, product_template):
        """The product page's express button, or None: the website's Klarna provider must
        offer Express Checkout, and the product be bought as it is (no configurator).

        :param product_template: the page's ``product.template``
        :return: the button container's attributes
        :rtype: dict
        """
        provider = self._klarna_storefront_provider(request.website, express=True)
        variant = product_template.product_variant_id
        if not provider or not variant or not variant._klarna_express_on_product_page():
            return None
        values = provider._klarna_express_button_values(compat.website_cart(request))
        return values and {**values, "data-product-page": "1"}

    def _klarna_express_cart_payload(self, order):
        """The cart Klarna Express Checkout authorizes: amounts and lines, in the shopper's
        market, without any party (Klarna collects the address).

        :param order: the cart, a sudoed ``sale.order``
        :return: the payload for Klarna's ``authorize``
        :rtype: dict
        :raise ValidationError: Klarna does not serve the cart's currency for the shopper
        """
        self.ensure_one()
        found = self._klarna_storefront_market(order.currency_id, order.partner_id)
        if not found:
            raise ValidationError(
                self.env._(
                    "Klarna: Klarna Express Checkout is not available for this currency in your "
                    "country. Check out without it."
                )
            )
        draft_tx = self.env["payment.transaction"].new(
            {
                "provider_id": self.id,
                "payment_method_id": self._klarna_express_payment_method().id,
                "amount": order.amount_total,
                "currency_id": order.currency_id.id,
                "partner_id": order.partner_id.id,
                "sale_order_ids": [Command.set(order.ids)],
                "reference": order.name,
            }
        )
        lang = request.lang.code if request else order.partner_id.lang
        return cart_payload(draft_tx, found[0], lang)

    def _klarna_express_payment_method(self):
        """Klarna's own payment method ("Pay with Klarna"): Klarna's button offers every
        category the shopper may use."""
        return self.env["payment.method"].sudo()._get_from_code(const.EXPRESS_PAYMENT_METHOD_CODE)
