"""Klarna On-Site Messaging on the shop: the rendered placements, and tours against the
simulator's stand-in library over real HTTP."""

import logging
import re

from lxml import html

from odoo.tests import HttpCase, tagged

from odoo.addons.payment_klarna.klarna.money import to_minor
from odoo.addons.payment_klarna_website import const

from .common import CLIENT_ID, KlarnaStorefrontCommon

_logger = logging.getLogger(__name__)

OSM_ON = {
    "klarna_client_id": CLIENT_ID,
    "klarna_osm_product": True,
    "klarna_osm_cart": True,
    "klarna_osm_checkout": True,
    "klarna_osm_top_strip": True,
}
# The stand-in and its configuration answer are a few kilobytes; Klarna's own library is
# larger, but must stay far below what would slow the page (it loads async anyway).
MAX_PAGE_WEIGHT = 64_000


@tagged("post_install", "-at_install")
class TestOsm(KlarnaStorefrontCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.klarna.write(OSM_ON)
        size = cls.env["product.attribute"].create(
            {
                "name": "Size",
                "display_type": "select",
                "create_variant": "always",
                "value_ids": [(0, 0, {"name": "Small"}), (0, 0, {"name": "Large"})],
            }
        )
        cls.lamp = cls._product("Klarna OSM Lamp", 12.5)
        cls.env["product.template.attribute.line"].create(
            {
                "product_tmpl_id": cls.lamp.id,
                "attribute_id": size.id,
                "value_ids": size.value_ids.ids,
            }
        )
        cls.lamp.attribute_line_ids.product_template_value_ids.filtered(
            lambda v: v.name == "Large"
        ).price_extra = 10.0
        cls.chair = cls._product("Klarna OSM Chair", 30.0)
        cls.stool = cls._product("Klarna OSM Stool", 15.0)

    @classmethod
    def _product(cls, name, price):
        return cls.env["product.template"].create(
            {
                "name": name,
                "list_price": price,
                "type": "consu",
                "is_published": True,
                "website_id": cls.website.id,
                "taxes_id": [(5, 0, 0)],
            }
        )

    def setUp(self):
        super().setUp()
        self.simulator.reset()

    def _page(self, url):
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200)
        return html.fromstring(response.content)

    # === RENDERED HTML === #

    def test_product_page_renders_the_placement_and_the_async_script(self):
        page = self._page(self.lamp.website_url)
        (placement,) = page.xpath("//klarna-placement[contains(@class, 'o_klarna_osm_product')]")
        self.assertEqual(placement.get("data-key"), const.OSM_PLACEMENT_KEYS["product"])
        self.assertEqual(placement.get("data-locale"), "en-US")
        self.assertEqual(placement.get("data-purchase-amount"), "1250")
        self.assertEqual(placement.get("data-theme"), "default")
        (strip,) = page.xpath("//klarna-placement[contains(@class, 'o_klarna_osm_top_strip')]")
        self.assertEqual(strip.get("data-key"), "top-strip-promotion-badge")
        self.assertIsNone(strip.get("data-purchase-amount"))
        (script,) = page.xpath("//script[contains(@src, 'klarna.js')]")
        self.assertEqual(script.get("src"), f"{self.simulator.url}/web-sdk/v1/klarna.js")
        self.assertEqual(script.get("data-client-id"), CLIENT_ID)
        self.assertEqual(script.get("data-environment"), "playground")
        self.assertIn("async", script.attrib)

    def test_production_loads_klarna_own_library(self):
        self.klarna.write(
            {"state": "enabled", "klarna_base_url": False, "klarna_osm_theme": "dark"}
        )
        page = self._page(self.lamp.website_url)
        (script,) = page.xpath("//script[contains(@src, 'klarna.js')]")
        self.assertEqual(script.get("src"), "https://js.klarna.com/web-sdk/v1/klarna.js")
        self.assertEqual(script.get("data-environment"), "production")
        self.assertEqual({p.get("data-theme") for p in page.xpath("//klarna-placement")}, {"dark"})

    def test_top_strip_alone_loads_the_script_everywhere(self):
        self.klarna.write({"klarna_osm_product": False, "klarna_osm_cart": False})
        page = self._page("/contactus")
        self.assertEqual(len(page.xpath("//klarna-placement")), 1)
        self.assertEqual(len(page.xpath("//script[contains(@src, 'klarna.js')]")), 1)
        self.klarna.klarna_osm_top_strip = False
        page = self._page(self.lamp.website_url)
        self.assertFalse(page.xpath("//klarna-placement | //script[contains(@src, 'klarna.js')]"))

    def test_nothing_without_a_market_for_the_currency(self):
        """Klarna does not serve euros in the United States: no placement, no script."""
        self.website.company_id.country_id = self.env.ref("base.de")
        page = self._page(self.lamp.website_url)
        self.assertFalse(page.xpath("//klarna-placement | //script[contains(@src, 'klarna.js')]"))

    def test_locale_follows_the_language_and_the_shopper_country(self):
        """A German shopper paying in euros: de-DE in German, en-DE in another language."""
        order = self._eur_order(40.0)
        order.partner_id.country_id = self.env.ref("base.de")
        self.env.ref("base.lang_de").active = True
        for lang, locale in (("de_DE", "de-DE"), ("en_US", "en-DE")):
            values = self.website.with_context(lang=lang)._klarna_osm_values("cart", order=order)
            self.assertEqual(values["data-locale"], locale)
            self.assertEqual(values["data-purchase-amount"], to_minor(order.amount_total, 2))
        order.partner_id.country_id = self.env.ref("base.us")
        self.assertIsNone(self.website._klarna_osm_values("cart", order=order))

    def test_product_amount_is_the_displayed_price_times_the_quantity(self):
        values = self.website._klarna_osm_values("product", price=22.499, quantity=3)
        self.assertEqual(values["data-purchase-amount"], 6750)  # 3 x 22.50, as displayed

    def test_combination_info_gives_the_amount(self):
        large = self.lamp.product_variant_ids.filtered(
            lambda p: p.product_template_attribute_value_ids.name == "Large"
        )
        payload = {
            "product_template_id": self.lamp.id,
            "product_id": large.id,
            "combination": large.product_template_attribute_value_ids.ids,
            "add_qty": 3,
        }
        info = self.make_jsonrpc_request("/website_sale/get_combination_info", payload)
        self.assertEqual(info["klarna_osm_amount"], 6750)
        self.klarna.klarna_osm_product = False
        info = self.make_jsonrpc_request("/website_sale/get_combination_info", payload)
        self.assertNotIn("klarna_osm_amount", info)

    # === TOURS === #

    def test_tour_product_amount_follows_variant_and_quantity(self):
        # The tour logs the figure through the browser's console (a child of this module's logger).
        with self.assertLogs(__name__.rpartition(".tests")[0], "DEBUG") as logs:
            self.start_tour("/shop", "klarna_osm_product")
        weights = [m for m in logs.output if "klarna_osm_page_weight=" in m]
        self.assertTrue(weights, "the tour did not report the page weight")
        weight = int(re.search(r"klarna_osm_page_weight=(\d+)", weights[-1]).group(1))
        _logger.info("Klarna On-Site Messaging adds %d bytes to the page (%s)", weight, weights[-1])
        self.assertLess(weight, MAX_PAGE_WEIGHT)

    def test_tour_cart_amount_follows_the_cart(self):
        self.start_tour("/shop", "klarna_osm_cart")

    def test_tour_nothing_loaded_when_off_or_provider_disabled(self):
        self.klarna.write(dict.fromkeys(OSM_ON, False) | {"klarna_client_id": CLIENT_ID})
        self.start_tour("/shop", "klarna_osm_off")
        self.klarna.write(OSM_ON | {"state": "disabled"})
        self.start_tour("/shop", "klarna_osm_off")
