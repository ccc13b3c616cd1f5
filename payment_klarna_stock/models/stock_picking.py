"""Capture a Klarna authorization when a sales order's goods leave for the customer.

With the provider's capture policy "on delivery", validating a delivery to the customer
captures the value of what it shipped, once per delivery:

* goods: each delivered line's share, its tax-included total times shipped over ordered;
* the shipping fee (the order's delivery lines) with the first captured delivery;
* the delivery that completes the order captures whatever the authorization still holds,
  which also takes services and absorbs the rounding of the earlier shares.

Klarna gets the order lines when every line of the capture ships whole, else the amount
alone; the carrier's tracking numbers on the delivery go as Klarna shipping information.
A refusal from Klarna does not undo the delivery (the goods left): it is written on the
delivery, shown to the user who validated it, and the capture stays possible from the
transaction.
"""

from odoo import fields, models
from odoo.exceptions import UserError
from odoo.tools import float_compare

from odoo.addons.payment_klarna import compat, const
from odoo.addons.payment_klarna.klarna.arguments import SHIPPING_TEXT_MAX
from odoo.addons.payment_klarna.klarna.money import from_minor, to_decimal, to_minor


class StockPicking(models.Model):
    _inherit = "stock.picking"

    klarna_capture_reference = fields.Char(
        string="Klarna Capture",
        readonly=True,
        copy=False,
        help="The Klarna capture made when this delivery was validated.",
    )

    def _action_done(self):
        """Override of `stock` to capture the delivered value with Klarna."""
        res = super()._action_done()
        for picking in self:
            picking._klarna_capture_delivery()
        return res

    def _klarna_capture_delivery(self):
        self.ensure_one()
        order = self.sale_id
        if self.klarna_capture_reference or self.picking_type_code != "outgoing" or not order:
            return
        tx = (
            order.sudo()
            .transaction_ids.filtered(
                lambda t: (
                    t.provider_code == const.PROVIDER_CODE
                    and t.state == "authorized"
                    and t.klarna_order_id
                    and t.provider_id.klarna_capture_policy == "on_delivery"
                )
            )
            .sorted("id")[:1]
        )
        # A return sent back out counts as delivered only where sale_stock counts it
        # (``to_refund`` alone is True on every move on Odoo 19).
        moves = self.move_ids.filtered(
            lambda m: (
                m.state == "done"
                and m.sale_line_id
                and m.location_dest_id.usage == "customer"
                and not (m.origin_returned_move_id and m.to_refund)
            )
        )
        if not tx or not moves:
            return
        amount_minor, lines = self._klarna_delivered_value(tx, order, moves)
        if amount_minor <= 0:
            return
        decimals = tx.currency_id.decimal_places
        try:
            with self.env.cr.savepoint():
                child = compat.capture(
                    tx.with_context(
                        klarna_capture_line_ids=lines.ids,
                        klarna_shipping_info=self._klarna_shipping_info(),
                    ),
                    float(from_minor(amount_minor, decimals)),
                )
        except UserError as error:
            self.message_post(body=str(error))
            self.env.user._bus_send(
                "simple_notification",
                {
                    "type": "danger",
                    "title": self.env._("Klarna capture failed"),
                    "message": str(error),
                    "sticky": True,
                },
            )
            return
        self.klarna_capture_reference = child.provider_reference or tx.klarna_capture_id

    def _klarna_delivered_value(self, tx, order, moves):
        """The amount to capture for this delivery (minor units) and the lines it is made of
        when they ship whole (else no lines)."""
        shipped = {}
        for move in moves:
            line = move.sale_line_id
            unit = line[compat.SALE_LINE_UOM]
            quantity = move.product_uom._compute_quantity(move.quantity, unit)
            shipped[line] = shipped.get(line, 0.0) + quantity
        decimals = tx.currency_id.decimal_places
        value = 0
        whole = True
        for line, quantity in shipped.items():
            rounding = line[compat.SALE_LINE_UOM].rounding
            whole = whole and not float_compare(
                quantity, line.product_uom_qty, precision_rounding=rounding
            )
            if line.product_uom_qty:
                share = to_decimal(line.price_total) * to_decimal(quantity)
                value += to_minor(share / to_decimal(line.product_uom_qty), decimals)
        captured_before = order.picking_ids.filtered("klarna_capture_reference")
        fees = order.order_line.filtered("is_delivery") if not captured_before else None
        lines = order.order_line.browse([line.id for line in shipped])
        if fees:
            value += sum(to_minor(fee.price_total, decimals) for fee in fees)
            lines |= fees
        remaining = tx._klarna_books().remaining
        goods = order.order_line.filtered(
            lambda line: line.product_id.type == "consu" and not line.is_delivery
        )
        complete = all(
            float_compare(
                line.qty_delivered,
                line.product_uom_qty,
                precision_rounding=line[compat.SALE_LINE_UOM].rounding,
            )
            >= 0
            for line in goods
        )
        if complete:
            services = order.order_line.filtered(
                lambda line: (
                    line.product_id.type != "consu"
                    and not line.is_delivery
                    and not line.display_type
                )
            )
            return remaining, (lines | services) if whole else lines.browse()
        return min(value, remaining), lines if whole else lines.browse()

    def _klarna_shipping_info(self):
        """Klarna shipping_info for the carrier's tracking numbers, when the carrier set some."""
        if "carrier_tracking_ref" not in self._fields or not self.carrier_tracking_ref:
            return None
        numbers = [n.strip() for n in self.carrier_tracking_ref.split(",") if n.strip()]
        url = self.carrier_tracking_url or ""
        info = []
        for number in numbers:
            entry = {"tracking_number": number[:SHIPPING_TEXT_MAX]}
            if self.carrier_id:
                entry["shipping_company"] = self.carrier_id.name[:SHIPPING_TEXT_MAX]
            if len(numbers) == 1 and url.startswith(("https://", "http://")):
                entry["tracking_uri"] = url
            info.append(entry)
        return info or None
