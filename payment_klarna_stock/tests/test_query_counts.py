"""Capture on delivery costs as many queries for 100 delivered lines as for 10 (issue 16)."""

from unittest.mock import patch

from odoo.tests import tagged

from odoo.addons.payment_klarna.klarna.client import KlarnaClient
from odoo.addons.payment_klarna.klarna.money import to_minor
from odoo.addons.payment_klarna.tests.test_order_management import klarna_order
from odoo.addons.payment_klarna.tests.test_query_counts import KlarnaQueryCountCommon


@tagged("post_install", "-at_install")
class TestDeliveryQueryCounts(KlarnaQueryCountCommon):
    def test_capture_on_delivery(self):
        """The capture a validated delivery makes, counted apart from Odoo's validation."""

        def deliver(size):
            order = self._cart(size)
            tx = self._tx(order, state="authorized", klarna_order_id=f"order-{next(self.serial)}")
            picking = order.picking_ids
            self.klarna.klarna_capture_policy = "manual"  # validating captures nothing yet
            for move in picking.move_ids:
                move.quantity = move.product_uom_qty
                move.picked = True
            picking.button_validate()
            self.assertEqual(picking.state, "done")
            self.klarna.klarna_capture_policy = "on_delivery"
            # As _action_done holds it: prefetching its own ids, not the order's pickings
            # (whose cache the count empties).
            return [tx, picking.browse(picking.ids)]

        def capture(tx, picking):
            held = klarna_order(to_minor(tx.amount))
            with (
                patch.object(KlarnaClient, "get_order", return_value=held),
                patch.object(KlarnaClient, "capture", return_value="capture-1") as call,
            ):
                picking._klarna_capture_delivery()
            self.assertEqual(call.call_args.args[1], to_minor(tx.amount))
            self.assertEqual(picking.klarna_capture_reference, "capture-1")

        self.assert_flat("capture on delivery", deliver, capture)
