"""Bench-only routes, installed only in the bench's database: the durable floor of the
webhook bench, and order management for the order-management section.

The durable floor does what no verified, durable acknowledgement can skip, and nothing else: Odoo's
``auth='public'`` dispatch, the same signature check and parse as ``/klarna/webhook``,
one row of one text column appended, and Odoo's commit before the 200. Our route
costs this plus what makes the inbox useful: the unique ``event_id``, the indexed
columns, and the cron wake-up.
"""

import time

from werkzeug.exceptions import BadRequest, Forbidden

from odoo import http
from odoo.http import request

from odoo.addons.payment_klarna import compat
from odoo.addons.payment_klarna.controllers.webhook import KlarnaWebhookController
from odoo.addons.payment_klarna.klarna.events import parse_event

DURABLE_FLOOR_URL = "/klarna_bench/durable_floor"
ORDER_MANAGEMENT_URL = "/klarna_bench/order_management"


class KlarnaBenchFloorController(http.Controller):
    @http.route(
        DURABLE_FLOOR_URL,
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def klarna_bench_durable_floor(self):
        env = request.env(su=True)
        keys = env["payment.klarna.signing.key"]
        key_rows, max_age, _allowed, _trusted = keys._klarna_webhook_config()
        key_sets = keys._klarna_webhook_key_sets(key_rows)
        body = request.httprequest.get_data(cache=False)
        KlarnaWebhookController._klarna_verify(
            body, request.httprequest.headers, key_sets, time.time(), max_age
        )
        parse_event(body)
        env.cr.execute("INSERT INTO klarna_bench_floor_row (body) VALUES (%s)", [body.decode()])
        return KlarnaWebhookController._klarna_answer(200, "accepted", key="status")


class KlarnaBenchOrderManagementController(http.Controller):
    @http.route(ORDER_MANAGEMENT_URL, type=compat.JSON_ROUTE, auth="user")
    def klarna_bench_order_management(self, reference, action, lines=None):
        """Capture or refund a Klarna payment as Odoo's buttons do, for the bench.

        The order-management section times this route from Odoo's access line (time and
        queries of every cursor); the route adds Odoo's dispatch and one search to what the
        buttons run.

        :param str reference: the transaction to capture (authorized) or refund (done)
        :param str action: ``capture`` or ``refund``
        :param int lines: capture only the first ``lines`` lines of the sale order, as a
            delivery does; the whole remainder when not given
        :return: the ``reference`` and ``state`` of the capture (the child of a partial
            one) or of the refund
        :rtype: dict
        :raise Forbidden: for anyone but a system administrator
        """
        if not request.env.user._is_system():
            raise Forbidden()
        tx = request.env["payment.transaction"].search([("reference", "=", reference)], limit=1)
        if action == "capture":
            order_lines = tx.sale_order_ids.order_line[:lines] if lines else None
            amount = sum(order_lines.mapped("price_total")) if lines else None
            tx = tx.with_context(klarna_capture_line_ids=order_lines.ids if lines else None)
            result = compat.capture(tx, amount) or tx
        elif action == "refund":
            result = compat.refund(tx)
        else:
            raise BadRequest()
        return {"reference": result.reference, "state": result.state}
