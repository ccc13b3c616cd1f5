"""Each series loads its own payment form adapter and tour values, never the other's
(models/ir_asset.py)."""

from odoo.tests import TransactionCase, tagged

from odoo.addons.payment_klarna.compat import SERIES

ADAPTERS = {
    18: "/payment_klarna/static/src/js/payment_form.js",
    19: "/payment_klarna/static/src/interactions/payment_form.js",
}
TOUR_SERIES = {
    18: "/payment_klarna/static/tests/series_18/tour_series.js",
    19: "/payment_klarna/static/tests/series_19/tour_series.js",
}


@tagged("post_install", "-at_install")
class TestSeriesAssets(TransactionCase):
    def _paths(self, bundle):
        return [asset[0] for asset in self.env["ir.asset"]._get_asset_paths(bundle, {})]

    def test_frontend_loads_the_running_series_adapter_only(self):
        paths = self._paths("web.assets_frontend")
        self.assertIn("/payment_klarna/static/src/common/klarna_payment_form.js", paths)
        self.assertIn(ADAPTERS[SERIES], paths)
        for other in set(ADAPTERS) - {SERIES}:
            self.assertNotIn(ADAPTERS[other], paths)

    def test_tours_get_the_running_series_values_only(self):
        paths = self._paths("web.assets_tests")
        self.assertIn("/payment_klarna/static/tests/tours/klarna_checkout.js", paths)
        self.assertIn(TOUR_SERIES[SERIES], paths)
        for other in set(TOUR_SERIES) - {SERIES}:
            self.assertNotIn(TOUR_SERIES[other], paths)
