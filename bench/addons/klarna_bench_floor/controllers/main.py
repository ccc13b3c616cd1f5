"""The durable floor of the webhook bench, installed only in the bench's database.

It does what no verified, durable acknowledgement can skip, and nothing else: Odoo's
``auth='public'`` dispatch, the same signature check and parse as ``/klarna/webhook``,
one row of one text column appended, and Odoo's commit before the 200. Our route
costs this plus what makes the inbox useful: the unique ``event_id``, the indexed
columns, and the cron wake-up.
"""

import time

from odoo import http
from odoo.http import request

from odoo.addons.payment_klarna.controllers.webhook import KlarnaWebhookController
from odoo.addons.payment_klarna.klarna.events import parse_event

DURABLE_FLOOR_URL = "/klarna_bench/durable_floor"


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
