"""Klarna's requests before dispatch: bounded bodies, checked JSON parameters; and the
shop's JS translations of this module.

Decisions:

- One mechanism for every Klarna route, whoever owns the route: ``_pre_dispatch`` runs
  after the route is matched and before the dispatcher reads the body (JSON-RPC's
  ``get_json_data``, a form, or the route's own ``get_data``).
- A declared length above the limit is refused unread. Werkzeug 2.x reads a chunked body
  unbounded, whatever length it declares ("Chunked" keeps the header believed): it is
  read here, at most one byte past the limit, and handed on from memory.
- JSON routes declare their parameters in their route (``klarna_params``); the body is
  checked for depth, envelope and parameter kinds here, so routes never meet malformed
  input. Errors are answers (413, 400, or a JSON-RPC error "Klarna: ..."), never
  tracebacks, and nothing is read or changed past them.
"""

import io
import json
import logging

from werkzeug.exceptions import abort

from odoo import models
from odoo.exceptions import ValidationError
from odoo.http import request

from .. import const
from ..controllers.main import KlarnaController
from ..klarna import inbound
from ..klarna.events import DEFAULT_MAX_BYTES as WEBHOOK_MAX_BYTES

_security_logger = logging.getLogger(__name__ + ".security")

BODY_LIMITS = (
    (KlarnaController._webhook_url, WEBHOOK_MAX_BYTES),
    (const.ROUTES_PREFIX, const.ROUTES_MAX_BYTES),
)


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _get_translation_frontend_modules_name(cls):
        """Override of `http_routing` to serve this module's JS translations to the shop, so the
        checkout's Klarna messages appear in the customer's language (as ``payment`` does).
        """
        mods = super()._get_translation_frontend_modules_name()
        return [*mods, "payment_klarna"]

    @classmethod
    def _pre_dispatch(cls, rule, args):
        """Override of `base` to bound and check Klarna's requests before their body is read.

        :param rule: the matched routing rule
        :param dict args: the arguments taken from the URL
        """
        limit = inbound.body_limit(request.httprequest.path, BODY_LIMITS)
        if limit is not None:
            cls._klarna_bound_body(limit)
            spec = rule.endpoint.routing.get("klarna_params")
            if spec is not None:
                cls._klarna_check_json_params(spec)
        return super()._pre_dispatch(rule, args)

    @classmethod
    def _klarna_answer(cls, status, reason):
        """Stop here, answering as the webhook does: no dispatcher error handling, no
        traceback."""
        abort(request.make_json_response({"error": reason}, status=status))

    @classmethod
    def _klarna_bound_body(cls, limit):
        httprequest = request.httprequest
        length = httprequest.content_length
        # Odoo's bus reads the raw WSGI environ the same way.
        environ = httprequest._HTTPRequest__environ
        if (length is None or length <= limit) and environ.get("wsgi.input_terminated"):
            # Chunked: Werkzeug reads the stream to its end, whatever Content-Length says
            # (its request ignores that header only for a lowercase "chunked").
            try:
                body = inbound.read_bounded(environ["wsgi.input"], limit)
            except (OSError, ValueError):
                cls._klarna_answer(400, "malformed_body")
            if body is not None:
                environ["wsgi.input"] = io.BytesIO(body)
                return
        elif length is None or length <= limit:
            return  # Werkzeug reads no body of unknown, unterminated length, nor past length
        _security_logger.warning(
            "Klarna route %s refused a body over %d bytes from %s",
            httprequest.path,
            limit,
            httprequest.remote_addr,
        )
        cls._klarna_answer(413, "body_too_large")

    @classmethod
    def _klarna_check_json_params(cls, spec):
        raw = request.httprequest.get_data()  # bounded above; cached for the dispatcher
        if inbound.json_depth(raw) > const.JSON_ROUTE_MAX_DEPTH:
            cls._klarna_answer(400, "invalid_json")
        try:
            envelope = json.loads(raw)
        except ValueError:
            cls._klarna_answer(400, "invalid_json")
        params = envelope.get("params", {}) if isinstance(envelope, dict) else None
        if not isinstance(params, dict):
            cls._klarna_answer(400, "invalid_json_rpc")
        if problem := inbound.param_problem(params, spec):
            raise ValidationError(
                request.env._(
                    "Klarna: the request is not valid (%(problem)s). Reload the page and "
                    "try again.",
                    problem=problem,
                )
            )
