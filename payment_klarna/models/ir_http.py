from odoo import models


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _get_translation_frontend_modules_name(cls):
        """Serve this module's JS translations to the shop, so the checkout's Klarna messages
        appear in the customer's language (as ``payment`` does for its own).
        """
        mods = super()._get_translation_frontend_modules_name()
        return [*mods, "payment_klarna"]
