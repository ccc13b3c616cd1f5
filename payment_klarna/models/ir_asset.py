"""One manifest, two payment forms: the running series' JavaScript is picked here.

Odoo 18's payment form is a publicWidget (``@payment/js/payment_form``), Odoo 19's an
interaction (``@payment/interactions/payment_form``); a JS module importing the other series'
form stops Odoo's module loader ("missing dependencies"), so each series must load only its
own adapter. The manifest is one literal dict read by both series, so it declares both:

- ``payment_klarna.assets_frontend_18`` / ``_19``: the series' payment form adapter
  (``static/src/js/`` on 18, ``static/src/interactions/`` on 19, as Odoo's own providers);
- ``payment_klarna.assets_tests_18`` / ``_19``: what the tours need to know of the series;

and ``web.assets_frontend`` / ``web.assets_tests`` include the placeholder bundles
``payment_klarna.assets_frontend_series`` / ``payment_klarna.assets_tests_series``, which this
override resolves to the running series' bundle whenever a bundle is filled (by Odoo's
``include`` directive or directly). Everything else stays Odoo's bundle machinery: asset
cache, debug=assets, bundle generation.

Why not the alternatives: ``ir.asset`` records are data, written at install, and would go
stale on an 18 -> 19 upgrade; a JS module testing the series at run time still could not
import either form (imports are static, resolved by the loader); the manifest itself has no
condition. The override is small, in the one place Odoo fills bundles on both series
(``_fill_asset_paths`` has the same signature on 18 and 19).
"""

from odoo import models

from ..compat import SERIES

# placeholder bundle -> the bundle it stands for on the running series (payment_klarna_website,
# the storefront, follows the same rule for its own bundles)
SERIES_BUNDLES = {
    f"{addon}.assets_{kind}_series": f"{addon}.assets_{kind}_{SERIES}"
    for addon in ("payment_klarna", "payment_klarna_website")
    for kind in ("frontend", "tests")
}


class IrAsset(models.Model):
    _inherit = "ir.asset"

    def _fill_asset_paths(self, bundle, *args, **kwargs):
        """Override of `base` to fill a series placeholder bundle with the running series'
        bundle (see the module's docstring)."""
        return super()._fill_asset_paths(SERIES_BUNDLES.get(bundle, bundle), *args, **kwargs)
