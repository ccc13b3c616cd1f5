from odoo import models


class ProductProduct(models.Model):
    _inherit = "product.product"

    def _klarna_express_on_product_page(self):
        """Whether the product page's Klarna button may put this variant in the cart as it
        is: a product the shop sells, needing no choice the button cannot carry (a combo's
        items, an attribute that makes no variant, a custom value).

        :return: whether the button is offered
        :rtype: bool
        """
        self.ensure_one()
        lines = self.product_tmpl_id.attribute_line_ids
        return bool(
            self._is_add_to_cart_allowed()
            and self.type != "combo"
            and not lines.filtered(lambda line: line.attribute_id.create_variant == "no_variant")
            and not lines.product_template_value_ids.filtered("is_custom")
        )
