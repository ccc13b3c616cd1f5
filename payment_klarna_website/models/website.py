from odoo import models

from odoo.addons.payment_klarna.klarna.money import from_minor, to_decimal, to_minor

from .. import const


class Website(models.Model):
    _inherit = "website"

    def _klarna_osm_values(self, page, order=None, price=None, quantity=1):
        """The attributes of the ``klarna-placement`` element ``page`` shows, or None.

        Kept here so that the templates stay thin. Nothing is shown unless the storefront's
        Klarna provider has On-Site Messaging on for ``page`` and Klarna serves the shopper's
        country in the page's currency. The amount is computed here, never read from the page.

        :param str page: a key of ``const.OSM_PLACEMENT_KEYS``
        :param order: the cart (``sale.order``): its total is the amount
        :param float price: the unit price the page displays (product page)
        :param quantity: how many units of ``price``
        :return: the element's attributes, or None
        :rtype: dict | None
        """
        self.ensure_one()
        placement = self._klarna_osm_context([page], order=order)
        if not placement:
            return None
        provider, currency, locale = placement
        values = {
            "data-key": const.OSM_PLACEMENT_KEYS[page],
            "data-locale": locale,
            "data-theme": provider.klarna_osm_theme,
        }
        if order:
            values["data-purchase-amount"] = to_minor(order.amount_total, currency.decimal_places)
        elif price is not None:
            # The unit price as displayed (rounded to the currency), then times the quantity.
            decimals = currency.decimal_places
            unit = from_minor(to_minor(price, decimals), decimals)
            values["data-purchase-amount"] = to_minor(unit * to_decimal(quantity), decimals)
        return values

    def _klarna_osm_script_values(self, page=None, order=None):
        """The attributes of the Web SDK's ``script`` tag, or None if the page shows no placement.

        :param str page: the placement ``page`` shows besides the top strip, if any
        :param order: the cart, if the page has one
        :return: the ``script`` tag's attributes, or None
        :rtype: dict | None
        """
        self.ensure_one()
        placement = self._klarna_osm_context(["top_strip", page] if page else ["top_strip"], order)
        if not placement:
            return None
        provider = placement[0]
        return {
            "src": provider._klarna_web_sdk_url(),
            "data-client-id": provider.klarna_client_id,
            "data-environment": "playground" if provider.state == "test" else "production",
        }

    def _klarna_osm_context(self, pages, order=None):
        """``(provider, currency, locale)`` if On-Site Messaging is on for one of ``pages`` and
        Klarna serves the shopper in the page's currency, else None."""
        provider = self.env["payment.provider"]._klarna_storefront_provider(self)
        if not provider or not any(provider[f"klarna_osm_{page}"] for page in pages):
            return None
        currency = order.currency_id if order else self.currency_id
        partner = order.partner_id if order else self.env.user.partner_id
        market = provider._klarna_storefront_market(currency, partner)
        return market and (provider, currency, market[1])
