from odoo import fields, models

from .. import compat, const


class SaleOrder(models.Model):
    _inherit = "sale.order"

    def _action_cancel(self):
        """Override of `sale` to void the Klarna authorizations of the cancelled orders.

        An uncaptured authorization cancels the Klarna order; a partly captured one releases
        what remains. A refusal from Klarna stops the cancellation with Klarna's message, so
        no order is cancelled while the customer's authorization still stands.
        """
        for order in self:
            txs = order.authorized_transaction_ids.filtered(
                lambda tx: tx.provider_code == const.PROVIDER_CODE
            )
            for tx in txs:
                compat.void(tx.sudo())
        return super()._action_cancel()

    def _klarna_warn_expiry(self, tx, expiry):
        """Tell the salesperson that an uncaptured Klarna authorization is about to expire."""
        for order in self:
            message = self.env._(
                "Klarna: the authorization of %(reference)s (Klarna order %(order)s) expires on "
                "%(date)s (UTC). Capture it before then, or extend it from Klarna's portal or "
                "by enabling 'Extend Authorizations' on the Klarna provider.",
                reference=tx.reference,
                order=tx.klarna_order_id,
                date=expiry,
            )
            order.message_post(body=message)
            order.activity_schedule(
                "mail.mail_activity_data_todo",
                date_deadline=fields.Date.to_date(expiry),
                summary=self.env._("Klarna authorization expires"),
                note=message,
                user_id=order.user_id.id or self.env.uid,
            )
