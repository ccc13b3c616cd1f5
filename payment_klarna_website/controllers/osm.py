from odoo.http import request, route

from odoo.addons.website_sale.controllers.variant import WebsiteSaleVariantController


class KlarnaOsmVariantController(WebsiteSaleVariantController):
    @route()
    def get_combination_info_website(self, *args, **kwargs):
        """Override of `website_sale` to give the product page's Klarna placement its amount.

        The page asks for the combination information whenever the variant or the quantity
        changes; the answer's ``klarna_osm_amount`` is the price it displays times the
        quantity, in minor units (absent when the product page shows no placement).
        """
        combination_info = super().get_combination_info_website(*args, **kwargs)
        placement = request.website._klarna_osm_values(
            "product",
            price=combination_info["price"],
            quantity=float(kwargs.get("add_qty") or 1),
        )
        if placement:
            combination_info["klarna_osm_amount"] = placement["data-purchase-amount"]
        return combination_info
