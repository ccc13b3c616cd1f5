"""A shop where Klarna's storefront pieces can show: a US company selling in dollars, the
Klarna provider in test mode, published, pointed at a local simulator; and, for Express
Checkout, products, taxes, an Illinois fiscal position and a delivery method."""

from odoo.fields import Command

from odoo.addons.payment_klarna import compat
from odoo.addons.payment_klarna.tests.common import KlarnaCommon, start_simulator

CLIENT_ID = "klarna_test_client_simulator"


class KlarnaStorefrontCommon(KlarnaCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.simulator = start_simulator(
            cls, username="shop_user", password="shop_pass", retry_delay=0.1
        )
        cls.website = cls.env["website"].get_current_website()
        cls.website.company_id.country_id = cls.env.ref("base.us")
        cls.klarna.write(
            {
                "klarna_api_username": "shop_user",
                "klarna_api_password": "shop_pass",
                "klarna_base_url": cls.simulator.url,
                "klarna_checkout_flow": "embedded",
                "klarna_client_id": CLIENT_ID,
                "state": "test",
                "is_published": True,
            }
        )
        cls.klarna.payment_method_ids.active = True


class KlarnaExpressCommon(KlarnaStorefrontCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.klarna.allow_express_checkout = True
        cls.sales_tax = cls._tax("Sales Tax 10%", 10.0)
        cls.reduced_tax = cls._tax("Sales Tax 5%", 5.0)
        cls.illinois = cls.env["account.fiscal.position"].create(
            {
                "name": "Illinois",
                "auto_apply": True,
                "country_id": cls.env.ref("base.us").id,
                "state_ids": [Command.set(cls.env.ref("base.state_us_14").ids)],
            }
        )
        if compat.SERIES >= 19:  # the replacing tax names the fiscal position and the original
            cls.reduced_tax.fiscal_position_ids = cls.illinois
            cls.reduced_tax.original_tax_ids = cls.sales_tax
        else:
            cls.illinois.tax_ids = [
                Command.create({"tax_src_id": cls.sales_tax.id, "tax_dest_id": cls.reduced_tax.id})
            ]
        cls.chair = cls._shop_product("Klarna Express Chair", 100.0, "consu")
        cls.ebook = cls._shop_product("Klarna Express E-book", 20.0, "service")
        cls.env["delivery.carrier"].search([]).is_published = False
        cls.carrier = cls.env["delivery.carrier"].create(
            {
                "name": "Klarna Test Delivery",
                "delivery_type": "fixed",
                "fixed_price": 5.0,
                "is_published": True,
                "product_id": cls.env["product.product"]
                .create(
                    {
                        "name": "Klarna Test Delivery",
                        "type": "service",
                        "list_price": 5.0,
                        "taxes_id": [Command.clear()],
                    }
                )
                .id,
            }
        )

    @classmethod
    def _shop_product(cls, name, price, kind):
        return cls.env["product.product"].create(
            {
                "name": name,
                "list_price": price,
                "type": kind,
                "is_published": True,
                "website_id": cls.website.id,
                "taxes_id": [Command.set(cls.sales_tax.ids)],
            }
        )
