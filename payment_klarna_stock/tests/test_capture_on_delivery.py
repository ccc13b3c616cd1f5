from odoo.fields import Command
from odoo.tests import tagged

from odoo.addons.payment_klarna.klarna.errors import KlarnaConflict
from odoo.addons.payment_klarna.klarna.idempotency import operation_key
from odoo.addons.payment_klarna.tests.test_order_management import (
    ORDER_ID,
    KlarnaManagementCommon,
    capture,
    klarna_order,
)


@tagged("post_install", "-at_install")
class TestCaptureOnDelivery(KlarnaManagementCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.klarna.klarna_capture_policy = "on_delivery"
        cls.shipping = cls.env["product.product"].create(
            {
                "name": "Express Shipping",
                "type": "service",
                "taxes_id": [Command.set(cls.tax_21.ids)],
            }
        )

    def _order_with_shipping(self):
        """Two chairs (242.00), a lamp (60.50) and shipping (12.10): 314.60 EUR."""
        order = self._order()
        self.env["sale.order.line"].create(
            {
                "order_id": order.id,
                "product_id": self.shipping.id,
                "product_uom_qty": 1,
                "price_unit": 10.0,
                "is_delivery": True,
            }
        )
        return order

    def _ship(self, picking, quantities, tracking=None):
        """Validate ``picking`` delivering ``{product: quantity}``; the rest goes to a backorder."""
        for move in picking.move_ids:
            move.quantity = quantities.get(move.product_id, 0)
            move.picked = True
        if tracking:
            picking.carrier_tracking_ref = tracking
        picking.with_context(skip_backorder=True, picking_ids_not_to_backorder=[]).button_validate()
        self.assertEqual(picking.state, "done")
        return picking.backorder_ids

    def test_two_partial_deliveries_then_the_rest(self):
        tx = self._authorized_tx(self._order_with_shipping())
        self.assertEqual(tx.amount, 314.6)
        order = tx.sale_order_ids
        first = order.picking_ids
        captures = ["capture-1", "capture-2", "capture-3"]
        # Klarna's order as each delivery reads it: the earlier captures in it.
        answers = [
            klarna_order(
                31460,
                "PART_CAPTURED" if done else "AUTHORIZED",
                [capture(capture_id, amount) for capture_id, amount in done],
            )
            for done in ([], [("capture-1", 7260)], [("capture-1", 7260), ("capture-2", 12100)])
        ]
        with self._klarna(*answers, capture=captures) as klarna:
            second = self._ship(first, {self.lamp: 1}, tracking="TRACK-1")
            third = self._ship(second, {self.chair: 1})
            self.assertFalse(self._ship(third, {self.chair: 1}))
        calls = klarna["capture"].call_args_list
        # 1: the lamp, shipped whole, and the shipping fee, as order lines, with tracking.
        self.assertEqual(calls[0].args, (ORDER_ID, 7260))
        self.assertEqual(
            [(line["type"], line["total_amount"]) for line in calls[0].kwargs["order_lines"]],
            [("physical", 6050), ("shipping_fee", 1210)],
        )
        self.assertEqual(calls[0].kwargs["shipping_info"], [{"tracking_number": "TRACK-1"}])
        self.assertEqual(
            calls[0].kwargs["idempotency_key"], operation_key(tx.reference, "capture", 7260, 0)
        )
        # 2: one chair of two, half the line: the amount alone.
        self.assertEqual(calls[1].args, (ORDER_ID, 12100))
        self.assertIsNone(calls[1].kwargs["order_lines"])
        self.assertIsNone(calls[1].kwargs["shipping_info"])
        # 3: the last chair completes the order: the rest of the authorization.
        self.assertEqual(calls[2].args, (ORDER_ID, 12100))
        self.assertEqual(
            calls[2].kwargs["idempotency_key"], operation_key(tx.reference, "capture", 12100, 2)
        )
        self.assertEqual((first | second | third).mapped("klarna_capture_reference"), captures)
        self.assertEqual(sorted(tx.child_transaction_ids.mapped("provider_reference")), captures)
        self.assertEqual(tx.state, "done")
        # Once per delivery, whatever happens to it later.
        with self._klarna(answers[0], capture="capture-4") as klarna:
            first._klarna_capture_delivery()
        klarna["capture"].assert_not_called()

    def test_a_single_delivery_captures_the_whole_order_with_its_lines(self):
        tx = self._authorized_tx(self._order_with_shipping())
        picking = tx.sale_order_ids.picking_ids
        with self._klarna(klarna_order(31460), capture="capture-1") as klarna:
            self._ship(picking, {self.chair: 2, self.lamp: 1})
        args, kwargs = klarna["capture"].call_args
        self.assertEqual(args, (ORDER_ID, 31460))
        self.assertEqual(len(kwargs["order_lines"]), 3)
        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.klarna_capture_id, "capture-1")
        self.assertEqual(picking.klarna_capture_reference, "capture-1")

    def test_manual_capture_policy_captures_nothing_on_delivery(self):
        self.klarna.klarna_capture_policy = "manual"
        tx = self._authorized_tx(self._order_with_shipping())
        with self._klarna(klarna_order(31460), capture="capture-1") as klarna:
            self._ship(tx.sale_order_ids.picking_ids, {self.chair: 2, self.lamp: 1})
        klarna["capture"].assert_not_called()
        self.assertEqual(tx.state, "authorized")

    def test_a_refused_capture_does_not_undo_the_delivery(self):
        tx = self._authorized_tx(self._order_with_shipping())
        picking = tx.sale_order_ids.picking_ids
        refusal = KlarnaConflict(error_code="CAPTURE_NOT_ALLOWED", correlation_id="corr-5")
        with self._klarna(klarna_order(31460), capture=refusal):
            self._ship(picking, {self.lamp: 1})
        self.assertFalse(picking.klarna_capture_reference)
        self.assertIn("corr-5", self._chatter(picking))
        self.assertEqual(tx.state, "authorized")
        self.assertFalse(tx.child_transaction_ids)
