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

from .. import utils as klarna_utils
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

UNKNOWN_ORDER = "unknown_order"
NOT_ALLOWED = "address_not_allowed"
RATE_LIMITED = "rate_limited"


class _SecretCache:
    """Decrypted signing keys by ciphertext: a key is decrypted once per worker, and
    any change of a key changes its ciphertext, so nothing stale is ever served."""

    MAX_ENTRIES = 256

    def __init__(self):
        self._plain = {}

    def get(self, env, ciphertext):
        plain = self._plain.get(ciphertext)
        if plain is None:
            if len(self._plain) >= self.MAX_ENTRIES:
                self._plain.clear()
            plain = self._plain[ciphertext] = klarna_utils.decrypt_secret(env, ciphertext)
        return plain


failures = webhook_guard.FailureTracker()
_secrets = _SecretCache()


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
        """Store a verified event and acknowledge it; the inbox worker acts on it later."""
        env = request.env(su=True)
        config = env["payment.klarna.signing.key"]._klarna_webhook_config()
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > DEFAULT_MAX_BYTES:
            return self._klarna_refuse(env, config, "body_too_large")
        body = httprequest.get_data(cache=False)
        headers = httprequest.headers
        if "Payload-Signature" not in headers and "Klarna-Signature" not in headers:
            return self._klarna_receive_legacy(env, config, body)
        key_sets, _states = self._klarna_key_sets(env, config[0])
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
        _logger.info(
            "Klarna webhook %s (%s) %s",
            event.event_id,
            event.event_type,
            "stored" if stored else "already received",
        )
        return self._klarna_answer(200, "accepted" if stored else "duplicate", key="status")

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
            return self._klarna_refuse(env, config, UNKNOWN_ORDER)
        _logger.info(
            "Klarna fraud notification %s for order %s %s",
            notification.event_type,
            notification.order_id,
            "stored" if stored else "already received",
        )
        return self._klarna_answer(200, "accepted" if stored else "duplicate", key="status")

    @staticmethod
    def _klarna_verify(body, headers, key_sets, now, max_age):
        """``(provider id, VerifiedSignature)``; see :func:`webhook_guard.verify`."""
        return webhook_guard.verify(body, headers, key_sets, now=now, max_age=max_age)

    @staticmethod
    def _klarna_key_sets(env, key_rows):
        """The active keys of each usable Klarna provider, enabled ones first, and the
        providers' states; secrets are decrypted once per worker (:class:`_SecretCache`)."""
        key_sets = {}
        states = set()
        for provider_id, state, key_id, ciphertext in key_rows:
            states.add(state)
            if key_id:
                key_sets.setdefault(provider_id, {})[key_id] = _secrets.get(env, ciphertext)
        return list(key_sets.items()), states

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
        """Screen an unverified request: 429 for a rate-limited network, 403 outside the
        allow-list, else 400 with ``reason``; refusals are counted per network. With no
        ``reason``, None lets a request the address rules admit go on.

        The admin alert names ``provider_id``, the provider whose key the header named.
        """
        key_rows, _max_age, allowed, trusted = config
        address = self._klarna_client_address(trusted)
        network = webhook_guard.sender_network(address)
        now = time.time()
        if failures.is_blocked(network, now):
            _security_logger.warning("Klarna webhook from %s refused: rate limited", address)
            return self._klarna_answer(429, RATE_LIMITED)
        states = {row[1] for row in key_rows}
        status = 400
        if allowed and not webhook_guard.is_allowed(address, allowed, states):
            reason, status = NOT_ALLOWED, 403
        elif reason is None:
            return None
        _security_logger.warning("Klarna webhook from %s refused: %s", address, reason)
        if failures.record(network, now):
            env["payment.klarna.event"]._klarna_alert_admins(
                network, provider_id, failures.limit, failures.window
            )
        return self._klarna_answer(status, reason)

    @staticmethod
    def _klarna_answer(status, value, key="error"):
        return request.make_json_response({key: value}, status=status)
