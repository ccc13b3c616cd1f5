"""Klarna's webhooks: verify the raw body, store the event once, answer at once.

The signature is checked first and a verified body is never refused by an address
rule (see :mod:`..klarna.webhook_guard` for why). Answers: 200 for a stored or
duplicate event; 400 for anything unproven or unreadable (missing or bad signature,
unknown key, stale timestamp, bad or too deeply nested JSON, missing
``event_id``/``event_type``, oversized body), as Klarna's verification steps say, so
Klarna retries a delivery we could not check. What is not verified may also get 403
(an address outside the optional allow-list) or 429 (a network with too many recent
failures). A refusal changes nothing and logs the reason and the address, never the body.
"""

import logging
import time

from odoo import http
from odoo.http import request

from ..klarna import webhook_guard
from ..klarna.events import (
    DEFAULT_MAX_BYTES,
    EventError,
    parse_event,
    parse_legacy_notification,
)
from ..klarna.signature import MISSING_SIGNATURE
from .main import KlarnaController

_logger = logging.getLogger(__name__)
_security_logger = logging.getLogger(__name__ + ".security")

# This worker's counts of refused requests per sender network (webhook_guard.screen).
failures = webhook_guard.FailureTracker()


class KlarnaWebhookController(http.Controller):
    @http.route(
        KlarnaController._webhook_url,
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def klarna_webhook(self):
        """Store a verified event and acknowledge it; the inbox worker acts on it later.

        :return: 200 for a stored or duplicate event, else the refusal (see the module)
        :rtype: werkzeug Response
        """
        env = request.env(su=True)
        config = env["payment.klarna.signing.key"]._klarna_webhook_config()
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > DEFAULT_MAX_BYTES:
            return self._klarna_refuse(env, config, "body_too_large")
        body = httprequest.get_data(cache=False)
        headers = httprequest.headers
        if "Payload-Signature" not in headers and "Klarna-Signature" not in headers:
            return self._klarna_receive_legacy(env, config, body)
        key_sets = env["payment.klarna.signing.key"]._klarna_webhook_key_sets(config[0])
        try:
            provider_id, verified = self._klarna_verify(
                body, headers, key_sets, time.time(), config[1]
            )
        except webhook_guard.VerificationFailed as error:
            return self._klarna_refuse(env, config, error.reason_code, error.provider_id)
        try:
            event = parse_event(body)
        except EventError as error:
            # Klarna's own body, unusable: refused for Klarna to retry, never counted.
            _security_logger.warning(
                "Klarna webhook verified for provider %s refused: %s",
                provider_id,
                error.reason_code,
            )
            return self._klarna_answer(400, error.reason_code)
        provider = env["payment.provider"].browse(provider_id)
        stored = env["payment.klarna.event"]._klarna_store_event(event, provider, verified)
        return self._klarna_acknowledge(stored, f"webhook {event.event_id} ({event.event_type})")

    def _klarna_receive_legacy(self, env, config, body):
        """An unsigned Order Management fraud notification, or an unsigned forgery: only
        a sender the address rules let through may make Odoo look the order up."""
        if refused := self._klarna_refuse(env, config, None):
            return refused
        try:
            notification = parse_legacy_notification(body)
        except EventError:
            return self._klarna_refuse(env, config, MISSING_SIGNATURE)
        stored = env["payment.klarna.event"]._klarna_store_legacy(notification, time.time())
        if stored is None:
            return self._klarna_refuse(env, config, webhook_guard.UNKNOWN_ORDER)
        return self._klarna_acknowledge(
            stored,
            f"fraud notification {notification.event_type} for order {notification.order_id}",
        )

    def _klarna_acknowledge(self, stored, description):
        """200 for a stored event and for a duplicate (Klarna stops retrying either way)."""
        _logger.info("Klarna %s %s", description, "stored" if stored else "already received")
        return self._klarna_answer(200, "accepted" if stored else "duplicate", key="status")

    @staticmethod
    def _klarna_verify(body, headers, key_sets, now, max_age):
        """``(provider id, VerifiedSignature)``; see :func:`webhook_guard.verify`."""
        return webhook_guard.verify(body, headers, key_sets, now=now, max_age=max_age)

    @staticmethod
    def _klarna_client_address(trusted_setting):
        """The sender's address (:func:`webhook_guard.client_address`). Odoo's
        ``proxy_mode`` rewrites the peer from the headers unconditionally; the original
        socket peer is read here so only configured proxies are believed."""
        environ = request.httprequest.environ
        peer = environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR") or environ.get(
            "REMOTE_ADDR", ""
        )
        forwarded_for = request.httprequest.headers.get("X-Forwarded-For", "")
        return webhook_guard.client_address(peer, forwarded_for, trusted_setting)

    def _klarna_refuse(self, env, config, reason, provider_id=None):
        """Answer an unverified request as :func:`webhook_guard.screen` decides, and alert
        the administrators when it says so.

        :param env: the superuser environment
        :param tuple config: the signing keys' :meth:`_klarna_webhook_config`
        :param str reason: the refusal's reason code; None lets a request the address
            rules admit go on
        :param int provider_id: the provider whose key the header named, for the alert
        :return: the refusal, or None
        :rtype: werkzeug Response
        """
        key_rows, _max_age, allowed, trusted = config
        address = self._klarna_client_address(trusted)
        refusal = webhook_guard.screen(
            failures,
            address,
            reason,
            allowed=allowed,
            states={row[1] for row in key_rows},
            now=time.time(),
        )
        if refusal is None:
            return None
        if refusal.status == 429:
            _security_logger.warning("Klarna webhook from %s refused: rate limited", address)
        else:
            _security_logger.warning("Klarna webhook from %s refused: %s", address, refusal.reason)
        if refusal.alert:
            env["payment.klarna.event"]._klarna_alert_admins(
                refusal.network, provider_id, failures.limit, failures.window
            )
        return self._klarna_answer(refusal.status, refusal.reason)

    @staticmethod
    def _klarna_answer(status, value, key="error"):
        return request.make_json_response({key: value}, status=status)
