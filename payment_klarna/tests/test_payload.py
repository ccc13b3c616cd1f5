from odoo.exceptions import UserError
from odoo.fields import Command
from odoo.tests import tagged

from odoo.addons.payment_klarna import compat
from odoo.addons.payment_klarna import payload as payload_module
from odoo.addons.payment_klarna.klarna.money import to_minor
from odoo.addons.payment_klarna.klarna.order_lines import validate_order_amounts
from odoo.addons.payment_klarna.payload import amount_lines, order_payload
from odoo.addons.payment_klarna.tests.common import KlarnaCommon


@tagged("post_install", "-at_install")
class TestKlarnaPayload(KlarnaCommon):
    """Real sales orders and invoices, priced by Odoo's tax engine, as Klarna payloads."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pricelist_eur = cls._eur_pricelist()
        cls.tax_21 = cls._tax("VAT 21%", 21)
        cls.tax_21_included = cls._tax("VAT 21% incl.", 21, price_include_override="tax_included")
        cls.tax_6 = cls._tax("VAT 6%", 6)
        cls.tax_0 = cls._tax("VAT 0%", 0)
        cls.chair = cls.env["product.product"].create(
            {
                "name": "Chair",
                "default_code": "CHAIR-01",
                "type": "consu",
                "list_price": 100.0,
                "taxes_id": [Command.set(cls.tax_21.ids)],
            }
        )
        cls.assembly = cls.env["product.product"].create(
            {"name": "Assembly", "type": "service", "taxes_id": [Command.set(cls.tax_21.ids)]}
        )
        cls.apples = cls.env["product.product"].create(
            {
                "name": "Apples",
                "type": "consu",
                "uom_id": cls.env.ref("uom.product_uom_kgm").id,
                "taxes_id": [Command.set(cls.tax_6.ids)],
            }
        )

    def _order(self, *lines, partner=None, **values):
        """A sales order in euros; each line is ``(product, quantity, price_unit, extra)``."""
        return self.env["sale.order"].create(
            {
                "partner_id": (partner or self.partner).id,
                "pricelist_id": self.pricelist_eur.id,
                "order_line": [
                    Command.create(
                        {
                            "product_id": product.id,
                            "product_uom_qty": qty,
                            "price_unit": price,
                            **extra,
                        }
                    )
                    for product, qty, price, extra in lines
                ],
                **values,
            }
        )

    def _tx(self, documents=None, **values):
        """A transaction paying ``documents`` (sales orders or invoices) in full by default."""
        if documents is not None:
            field = "sale_order_ids" if documents._name == "sale.order" else "invoice_ids"
            values = {
                field: [Command.set(documents.ids)],
                "amount": sum(documents.mapped("amount_total")),
                "currency_id": documents.currency_id.id,
                "partner_id": documents.partner_id.id,
                **values,
            }
        return self._create_transaction(flow="direct", **values)

    def assert_pays(self, payload, tx, document=None):
        """Klarna's amount rules hold and Klarna is asked for what Odoo charges."""
        validate_order_amounts(payload)
        self.assertEqual(payload["order_amount"], to_minor(tx.amount))
        if document is not None:
            self.assertEqual(payload["order_amount"], to_minor(document.amount_total))
            self.assertEqual(payload["order_tax_amount"], to_minor(document.amount_tax))

    def test_an_unsaved_transaction_maps_the_saved_documents(self):
        """The widget's session maps the cart of a ``new()`` transaction: it reads the saved
        order (through a new record it would recompute every line) and sends the same cart."""
        order = self._order(
            (self.chair, 2, 100.0, {"discount": 10.0}), (self.assembly, 1, 40.0, {})
        )
        tx = self._tx(order)
        draft = self.env["payment.transaction"].new(
            {
                "provider_id": tx.provider_id.id,
                "payment_method_id": tx.payment_method_id.id,
                "reference": tx.reference,
                "amount": tx.amount,
                "currency_id": tx.currency_id.id,
                "partner_id": tx.partner_id.id,
                "sale_order_ids": [Command.set(order.ids)],
            }
        )
        self.assertEqual(order_payload(draft), order_payload(tx))
        documents = payload_module._documents(draft)
        self.assertEqual(documents, order)
        self.assertTrue(all(isinstance(line.id, int) for line in documents.order_line))

    def test_tax_excluded_line(self):
        order = self._order((self.chair, 2, 100.0, {}))
        tx = self._tx(order)
        payload = order_payload(tx)
        self.assert_pays(payload, tx, order)
        line = payload["order_lines"][0]
        self.assertEqual(line.pop("product_url"), order.get_base_url() + self.chair.website_url)
        self.assertDictEqual(
            line,
            {
                "type": "physical",
                "reference": "CHAIR-01",
                "name": "Chair",
                "quantity": 2,
                "quantity_unit": "Units",
                "unit_price": 12100,
                "tax_rate": 2100,
                "total_amount": 24200,
                "total_discount_amount": 0,
                "total_tax_amount": 4200,
            },
        )
        self.assertEqual(payload["purchase_country"], "BE")
        self.assertEqual(payload["purchase_currency"], "EUR")
        self.assertEqual(payload["locale"], "en-BE")
        self.assertEqual(payload["merchant_reference1"], tx.reference)
        self.assertEqual(payload["merchant_reference2"], order.name)
        self.assertEqual(payload["billing_address"]["given_name"], "Norbert")
        self.assertEqual(payload["billing_address"]["phone"], "+3212345678")
        self.assertEqual(payload["shipping_address"]["family_name"], "Buyer")
        self.assertNotIn("customer", payload)
        self.assertNotIn("merchant_urls", payload)

    def test_tax_included_line(self):
        order = self._order(
            (
                self.chair,
                1,
                121.0,
                {compat.SALE_LINE_TAXES: [Command.set(self.tax_21_included.ids)]},
            )
        )
        payload = order_payload(self._tx(order))
        self.assert_pays(payload, order.transaction_ids, order)
        line = payload["order_lines"][0]
        self.assertEqual((line["total_amount"], line["total_tax_amount"]), (12100, 2100))

    def test_two_taxes_and_a_tax_group(self):
        tax_10, tax_5 = self._tax("Tax 10%", 10), self._tax("Tax 5%", 5)
        group = self.env["account.tax"].create(
            {
                "name": "Tax 10% + 5%",
                "amount_type": "group",
                "children_tax_ids": [Command.set((tax_10 + tax_5).ids)],
            }
        )
        order = self._order(
            (self.chair, 1, 99.99, {compat.SALE_LINE_TAXES: [Command.set((tax_10 + tax_5).ids)]}),
            (self.chair, 3, 33.33, {compat.SALE_LINE_TAXES: [Command.set(group.ids)]}),
        )
        payload = order_payload(self._tx(order))
        self.assert_pays(payload, order.transaction_ids, order)
        self.assertEqual([line["tax_rate"] for line in payload["order_lines"]], [1500, 1500])
        self.assertEqual(payload["order_lines"][0]["total_tax_amount"], 1500)

    def test_fiscal_position_to_zero_tax(self):
        exempt = self.env["account.fiscal.position"].create({"name": "Tax exempt"})
        if compat.SERIES >= 19:  # the replacing tax names the fiscal position and the original
            self.tax_0.fiscal_position_ids = exempt
            self.tax_0.original_tax_ids = self.tax_21
        else:
            exempt.tax_ids = [
                Command.create({"tax_src_id": self.tax_21.id, "tax_dest_id": self.tax_0.id})
            ]
        order = self._order((self.chair, 1, 100.0, {}), fiscal_position_id=exempt.id)
        self.assertEqual(order.order_line[compat.SALE_LINE_TAXES], self.tax_0)
        payload = order_payload(self._tx(order))
        self.assert_pays(payload, order.transaction_ids, order)
        self.assertEqual(payload["order_tax_amount"], 0)
        self.assertEqual(payload["order_lines"][0]["tax_rate"], 0)

    def test_line_discount(self):
        order = self._order((self.chair, 3, 100.0, {"discount": 15}))
        payload = order_payload(self._tx(order))
        self.assert_pays(payload, order.transaction_ids, order)
        line = payload["order_lines"][0]
        self.assertEqual(
            (line["quantity"], line["unit_price"], line["total_discount_amount"]), (3, 12100, 5445)
        )
        self.assertEqual((line["total_amount"], line["total_tax_amount"]), (30855, 5355))

    def test_delivery_line_is_a_shipping_fee(self):
        carrier_product = self.env["product.product"].create(
            {"name": "Express", "type": "service", "taxes_id": [Command.set(self.tax_21.ids)]}
        )
        carrier = self.env["delivery.carrier"].create(
            {"name": "Express", "product_id": carrier_product.id, "fixed_price": 4.95}
        )
        order = self._order((self.chair, 1, 100.0, {}))
        order.set_delivery_line(carrier, 4.95)
        payload = order_payload(self._tx(order))
        self.assert_pays(payload, order.transaction_ids, order)
        fee = payload["order_lines"][1]
        self.assertEqual((fee["type"], fee["name"]), ("shipping_fee", "Express"))
        self.assertEqual((fee["total_amount"], fee["total_tax_amount"]), (599, 104))
        self.assertNotIn("product_url", fee)

    def _loyalty(self):
        if "reward_id" not in self.env["sale.order.line"]._fields:
            self.skipTest("sale_loyalty is not installed")
        self.env["loyalty.program"].search([]).write({"active": False})

    def test_loyalty_discount_reward(self):
        self._loyalty()
        program = self.env["loyalty.program"].create(
            {
                "name": "10% off",
                "program_type": "promotion",
                "trigger": "auto",
                "applies_on": "current",
                "rule_ids": [Command.create({"reward_point_mode": "order"})],
                "reward_ids": [
                    Command.create(
                        {"reward_type": "discount", "discount": 10, "discount_mode": "percent"}
                    )
                ],
            }
        )
        order = self._order((self.chair, 1, 100.0, {}), (self.assembly, 1, 19.99, {}))
        order._update_programs_and_rewards()
        coupon = order.coupon_point_ids.coupon_id
        order._apply_program_reward(program.reward_ids, coupon)
        self.assertTrue(order.order_line.filtered("is_reward_line"))
        payload = order_payload(self._tx(order))
        self.assert_pays(payload, order.transaction_ids, order)
        discount = payload["order_lines"][-1]
        self.assertEqual(discount["type"], "discount")
        self.assertEqual((discount["total_amount"], discount["total_tax_amount"]), (-1452, -252))

    def test_gift_card_reward(self):
        self._loyalty()
        gift_card_product = self.env["product.product"].create(
            {"name": "Gift Card", "type": "service", "list_price": 50.0}
        )
        program = self.env["loyalty.program"].create(
            {
                "name": "Gift cards",
                "program_type": "gift_card",
                "trigger": "auto",
                "applies_on": "future",
                "rule_ids": [
                    Command.create(
                        {
                            "product_ids": gift_card_product.ids,
                            "reward_point_amount": 1,
                            "reward_point_mode": "money",
                            "reward_point_split": True,
                        }
                    )
                ],
                "reward_ids": [
                    Command.create(
                        {
                            "reward_type": "discount",
                            "discount": 1,
                            "discount_mode": "per_point",
                            "discount_applicability": "order",
                        }
                    )
                ],
            }
        )
        card = self.env["loyalty.card"].create(
            {"program_id": program.id, "points": 50, "code": "KLARNA-GIFT-50"}
        )
        order = self._order((self.chair, 1, 100.0, {}))
        status = order._try_apply_code(card.code)
        order._apply_program_reward(status[card], card)
        payload = order_payload(self._tx(order))
        self.assert_pays(payload, order.transaction_ids, order)
        reward_line = order.order_line.filtered("is_reward_line")
        self.assertEqual(reward_line.price_tax, 0)
        gift = payload["order_lines"][-1]
        self.assertEqual(gift["type"], "gift_card")
        self.assertEqual(gift["total_amount"], to_minor(reward_line.price_total))
        self.assertLess(gift["total_amount"], 0)

    def test_fractional_quantity(self):
        order = self._order((self.apples, 1.5, 2.99, {}))
        payload = order_payload(self._tx(order))
        self.assert_pays(payload, order.transaction_ids, order)
        line = payload["order_lines"][0]
        self.assertEqual((line["name"], line["quantity"]), ("Apples (1.5 kg)", 1))
        self.assertEqual(line["unit_price"], line["total_amount"])
        self.assertEqual(line["total_amount"], to_minor(order.amount_total))

    def test_us_sales_tax(self):
        sales_tax = self._tax("CA sales tax 7.25%", 7.25)
        partner = self.env["res.partner"].create(
            {
                "name": "Jane Doe",
                "email": "jane.doe@example.com",
                "street": "1 Market Street",
                "zip": "94105",
                "city": "San Francisco",
                "state_id": self.env.ref("base.state_us_5").id,
                "country_id": self.env.ref("base.us").id,
            }
        )
        order = self.env["sale.order"].create(
            {
                "partner_id": partner.id,
                "pricelist_id": self.env["product.pricelist"]
                .create({"name": "Klarna USD", "currency_id": self.currency_usd.id})
                .id,
                "order_line": [
                    Command.create(
                        {
                            "product_id": self.chair.id,
                            "product_uom_qty": 2,
                            "price_unit": 100.0,
                            compat.SALE_LINE_TAXES: [Command.set(sales_tax.ids)],
                        }
                    )
                ],
            }
        )
        self.assertEqual(order.currency_id.name, "USD")
        payload = order_payload(self._tx(order))
        self.assert_pays(payload, order.transaction_ids, order)
        item, tax_line = payload["order_lines"]
        self.assertEqual(
            (item["total_amount"], item["tax_rate"], item["total_tax_amount"]), (20000, 0, 0)
        )
        self.assertEqual((tax_line["type"], tax_line["total_amount"]), ("sales_tax", 1450))
        self.assertEqual(payload["order_tax_amount"], 1450)
        self.assertEqual(payload["billing_address"]["region"], "CA")
        self.assertEqual(payload["locale"], "en-US")

    def _invoice(self, *lines, **values):
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.partner.id,
                "currency_id": self.currency_euro.id,
                "invoice_line_ids": [
                    Command.create(
                        {"product_id": product.id, "quantity": qty, "price_unit": price, **extra}
                    )
                    for product, qty, price, extra in lines
                ],
                **values,
            }
        )
        invoice.action_post()
        return invoice

    def test_invoice_paid_from_the_portal(self):
        invoice = self._invoice(
            (self.chair, 1, 100.0, {}), (self.assembly, 2, 25.0, {"discount": 10})
        )
        tx = self._tx(invoice)
        payload = order_payload(tx)
        self.assert_pays(payload, tx, invoice)
        self.assertEqual([line["type"] for line in payload["order_lines"]], ["physical", "digital"])
        service = payload["order_lines"][1]
        self.assertEqual((service["unit_price"], service["total_discount_amount"]), (3025, 605))
        self.assertEqual(payload["merchant_reference2"], invoice.name)
        self.assertIn("shipping_address", payload)

    def test_down_payment_then_final_invoice(self):
        order = self._order((self.chair, 2, 100.0, {}))
        order.action_confirm()
        wizard = self.env["sale.advance.payment.inv"].with_context(
            active_model="sale.order", active_ids=order.ids
        )
        down_payment = wizard.create(
            {"advance_payment_method": "percentage", "amount": 50}
        )._create_invoices(order)
        down_payment.action_post()
        tx = self._tx(down_payment, reference="DP")
        payload = order_payload(tx)
        self.assert_pays(payload, tx, down_payment)
        self.assertEqual([line["type"] for line in payload["order_lines"]], ["physical"])
        self.assertEqual(payload["order_lines"][0]["total_amount"], 12100)

        final = wizard.create({"advance_payment_method": "delivered"})._create_invoices(order)
        final.action_post()
        tx = self._tx(final, reference="FINAL")
        payload = order_payload(tx)
        self.assert_pays(payload, tx, final)
        chair, deduction = payload["order_lines"]
        self.assertEqual((chair["type"], chair["total_amount"]), ("physical", 24200))
        self.assertEqual((deduction["type"], deduction["total_amount"]), ("discount", -12100))
        self.assertEqual(deduction["total_tax_amount"], -2100)

    def test_round_globally_residual(self):
        self.env.company.tax_calculation_rounding_method = "round_globally"
        order = self._order(*[(self.chair, 1, 0.05, {})] * 10)
        self.assertNotEqual(
            to_minor(order.amount_tax),
            sum(to_minor(line.price_tax) for line in order.order_line),
        )
        payload = order_payload(self._tx(order))
        self.assert_pays(payload, order.transaction_ids, order)

    def test_partial_payment_is_one_line(self):
        order = self._order((self.chair, 2, 100.0, {}))
        tx = self._tx(order, amount=100.0)
        payload = order_payload(tx)
        self.assert_pays(payload, tx)
        (line,) = payload["order_lines"]
        self.assertEqual(line["name"], f"Payment for {order.name} (partial)")
        self.assertEqual(line["type"], "physical")
        # 42.00 of tax on 242.00, in proportion to the 100.00 paid.
        self.assertEqual((line["total_amount"], line["total_tax_amount"]), (10000, 1736))

    def test_partial_invoice_payment(self):
        invoice = self._invoice((self.assembly, 1, 80.0, {}))
        tx = self._tx(invoice, amount=48.4)
        payload = order_payload(tx)
        self.assert_pays(payload, tx)
        (line,) = payload["order_lines"]
        self.assertEqual((line["type"], line["total_tax_amount"]), ("digital", 840))

    def test_bare_transaction(self):
        tx = self._tx()
        payload = order_payload(tx)
        self.assert_pays(payload, tx)
        self.assertEqual(
            payload["order_lines"],
            [
                {
                    "type": "digital",
                    "name": tx.reference,
                    "quantity": 1,
                    "unit_price": 111111,
                    "tax_rate": 0,
                    "total_amount": 111111,
                    "total_discount_amount": 0,
                    "total_tax_amount": 0,
                }
            ],
        )
        self.assertNotIn("shipping_address", payload)
        self.assertNotIn("merchant_reference2", payload)

    def test_business_customer(self):
        company = self.env["res.partner"].create(
            {"name": "Janssens BV", "is_company": True, "vat": "BE0477472701"}
        )
        buyer = self.env["res.partner"].create(
            {
                "name": "Anna Janssens",
                "parent_id": company.id,
                "email": "anna@janssens.example.com",
                "street": "Rue Haute 5",
                "zip": "1000",
                "city": "Brussels",
                "country_id": self.country_belgium.id,
            }
        )
        order = self._order((self.chair, 1, 100.0, {}), partner=buyer)
        payload = order_payload(self._tx(order))
        self.assert_pays(payload, order.transaction_ids, order)
        self.assertEqual(
            payload["customer"],
            {"type": "organization", "organization_registration_id": "BE0477472701"},
        )
        self.assertEqual(payload["billing_address"]["organization_name"], "Janssens BV")
        self.assertEqual(payload["billing_address"]["street_number"], "5")
        if compat.SERIES < 19:  # Odoo 19 has no partner titles: none is sent
            buyer.title = self.env.ref("base.res_partner_title_madam")
            payload = order_payload(order.transaction_ids)
            self.assertEqual(payload["billing_address"]["title"], "Mrs")
        else:
            self.assertNotIn("title", payload["billing_address"])

    def test_missing_address_fields_are_listed_in_one_error(self):
        self.partner.write({"email": False, "zip": False, "city": False})
        order = self._order((self.chair, 1, 100.0, {}))
        with self.assertRaises(UserError) as caught:
            order_payload(self._tx(order))
        message = str(caught.exception)
        self.assertTrue(message.startswith("Klarna: "))
        for field in ("email address", "postal code", "city"):
            self.assertIn(f"billing address: the {field} is missing", message)
            self.assertIn(f"shipping address: the {field} is missing", message)
        for personal in ("Norbert", "Buyer", "Huge Street", "12 34 56 78"):
            self.assertNotIn(personal, message)

    def test_currency_outside_the_market_is_refused(self):
        tx = self._tx(currency_id=self.currency_usd.id)
        with self.assertRaisesRegex(
            UserError, "Klarna accepts EUR, not USD, for purchases from BE"
        ):
            order_payload(tx)

    def test_amount_lines_for_the_given_lines(self):
        order = self._order((self.chair, 1, 100.0, {}), (self.assembly, 1, 50.0, {}))
        tx = self._tx(order)
        chair_line = order.order_line.filtered(lambda line: line.product_id == self.chair)
        amounts = amount_lines(tx, 12100, chair_line)
        validate_order_amounts(amounts)
        self.assertEqual(amounts["order_amount"], 12100)
        self.assertEqual(amounts["order_lines"][0]["reference"], "CHAIR-01")

    def test_amount_lines_for_another_amount(self):
        order = self._order((self.chair, 1, 100.0, {}), (self.assembly, 1, 50.0, {}))
        tx = self._tx(order)
        amounts = amount_lines(tx, 5000, order.order_line)
        validate_order_amounts(amounts)
        (line,) = amounts["order_lines"]
        self.assertEqual((line["total_amount"], line["total_tax_amount"]), (5000, 868))
        with self.assertRaisesRegex(UserError, "order_amount must be a positive integer"):
            amount_lines(tx, 0)
