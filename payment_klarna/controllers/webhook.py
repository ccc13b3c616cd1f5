"""Klarna's webhooks: verify the raw body, store the event once, answer at once.

Answers: 200 for a stored or duplicate event; 400 for anything unproven or
unreadable (missing or bad signature, unknown key, stale timestamp, bad JSON,
missing ``event_id``/``event_type``, oversized body), as Klarna's verification
steps say, so Klarna retries a delivery we could not check; 403 for an address
outside the optional allow-list; 429 for an address with too many recent failures.
A refusal changes nothing and logs the reason and the address, never the body.
"""

import ipaddress
import logging
import threading
import time
from collections import deque
from functools import lru_cache

from odoo import http
from odoo.http import request

from .. import utils as klarna_utils
from ..klarna import signature as klarna_signature
from ..klarna.events import (
    DEFAULT_MAX_BYTES,
    EventError,
    parse_event,
    parse_legacy_notification,
)
from .main import KlarnaController

_logger = logging.getLogger(__name__)
_security_logger = logging.getLogger(__name__ + ".security")

# The allow-list keyword standing for Klarna's published webhook addresses (EU) of the
# environments in use: production for enabled providers, playground for test ones.
KLARNA_ADDRESSES_KEYWORD = "klarna"
KLARNA_WEBHOOK_ADDRESSES = {
    "enabled": ("52.18.109.75", "63.32.138.153", "63.32.201.200"),
    "test": ("63.33.163.93", "63.34.140.6", "63.34.72.238"),
}

FAILURE_LIMIT = 10  # refusals from one address within the window before it is blocked
FAILURE_WINDOW = 600  # seconds
UNKNOWN_ORDER = "unknown_order"
NOT_ALLOWED = "address_not_allowed"
RATE_LIMITED = "rate_limited"


class FailureTracker:
    """Refusals per address in a sliding window, in this worker's memory.

    Like Odoo's own login cooldown it is per process: with N workers an address gets
    at most N x :data:`FAILURE_LIMIT` refusals per window, and the hot path costs no
    query. ``record`` says when an address has just reached the limit (alert once).
    """

    def __init__(self, limit=FAILURE_LIMIT, window=FAILURE_WINDOW):
        self.limit = limit
        self.window = window
        self._failures = {}
        self._lock = threading.Lock()

    def is_blocked(self, address, now):
        with self._lock:
            return len(self._recent(address, now)) >= self.limit

    def record(self, address, now):
        with self._lock:
            recent = self._recent(address, now)
            recent.append(now)
            self._failures[address] = recent
            return len(recent) == self.limit

    def clear(self):
        with self._lock:
            self._failures.clear()

    def _recent(self, address, now):
        recent = self._failures.get(address, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        if not recent:
            self._failures.pop(address, None)
        return recent


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


failures = FailureTracker()
_secrets = _SecretCache()


@lru_cache(maxsize=32)
def _networks(setting):
    """Parse a comma list of addresses/networks; a bad entry is skipped with a warning."""
    networks = []
    for item in (setting or "").split(","):
        item = item.strip()
        if not item or item == KLARNA_ADDRESSES_KEYWORD:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            _logger.warning("Klarna webhook: ignoring the invalid address setting %r", item)
    return tuple(networks)


def _in(address, networks):
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


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
        key_rows, max_age, allowed, trusted = env[
            "payment.klarna.signing.key"
        ]._klarna_webhook_config()
        address = self._klarna_client_address(trusted)
        now = time.time()
        if failures.is_blocked(address, now):
            _security_logger.warning("Klarna webhook from %s refused: rate limited", address)
            return self._klarna_answer(429, RATE_LIMITED)
        key_sets, states = self._klarna_key_sets(env, key_rows)
        if allowed and not self._klarna_is_allowed(address, allowed, states):
            return self._klarna_refuse(address, now, NOT_ALLOWED, 403)
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > DEFAULT_MAX_BYTES:
            return self._klarna_refuse(address, now, "body_too_large")
        body = httprequest.get_data(cache=False)
        headers = httprequest.headers
        events = env["payment.klarna.event"]
        if "Payload-Signature" not in headers and "Klarna-Signature" not in headers:
            return self._klarna_receive_legacy(events, body, address, now)
        try:
            provider_id, verified = self._klarna_verify(body, headers, key_sets, now, max_age)
            event = parse_event(body)
        except (klarna_signature.SignatureError, EventError) as error:
            return self._klarna_refuse(address, now, error.reason_code)
        provider = env["payment.provider"].browse(provider_id)
        stored = events._klarna_store_event(event, provider, verified)
        _logger.info(
            "Klarna webhook %s (%s) %s",
            event.event_id,
            event.event_type,
            "stored" if stored else "already received",
        )
        return self._klarna_answer(200, "accepted" if stored else "duplicate", key="status")

    def _klarna_receive_legacy(self, events, body, address, now):
        """An unsigned Order Management fraud notification, or an unsigned forgery."""
        try:
            notification = parse_legacy_notification(body)
        except EventError:
            return self._klarna_refuse(address, now, klarna_signature.MISSING_SIGNATURE)
        stored = events._klarna_store_legacy(notification, now)
        if stored is None:
            return self._klarna_refuse(address, now, UNKNOWN_ORDER)
        _logger.info(
            "Klarna fraud notification %s for order %s %s",
            notification.event_type,
            notification.order_id,
            "stored" if stored else "already received",
        )
        return self._klarna_answer(200, "accepted" if stored else "duplicate", key="status")

    @staticmethod
    def _klarna_verify(body, headers, key_sets, now, max_age):
        """Try every Klarna provider's active keys: ``(provider id, VerifiedSignature)``.

        Providers may reuse a key id (version 1 in test and production), so a key id
        alone does not choose the provider. A stale or malformed header fails at once:
        those verdicts do not depend on the key.
        """
        best = None
        for provider_id, keys in key_sets or [(None, {})]:
            try:
                verified = klarna_signature.verify(
                    body, headers, keys, now=now, max_age=max_age or None
                )
            except klarna_signature.SignatureError as error:
                if error.reason_code not in (
                    klarna_signature.UNKNOWN_KEY,
                    klarna_signature.BAD_SIGNATURE,
                ):
                    raise
                if best is None or error.reason_code == klarna_signature.BAD_SIGNATURE:
                    best = error
                continue
            return provider_id, verified
        raise best

    @staticmethod
    def _klarna_key_sets(env, key_rows):
        """The active keys of each usable Klarna provider, and the providers' states;
        secrets are decrypted once per worker (:class:`_SecretCache`)."""
        key_sets = {}
        states = set()
        for provider_id, state, key_id, ciphertext in key_rows:
            states.add(state)
            if key_id:
                key_sets.setdefault(provider_id, {})[key_id] = _secrets.get(env, ciphertext)
        return list(key_sets.items()), states

    @staticmethod
    def _klarna_is_allowed(address, setting, states):
        if _in(address, _networks(setting)):
            return True
        keywords = {item.strip() for item in setting.split(",")}
        if KLARNA_ADDRESSES_KEYWORD in keywords:
            return any(address in KLARNA_WEBHOOK_ADDRESSES.get(state, ()) for state in states)
        return False

    @staticmethod
    def _klarna_client_address(trusted_setting):
        """The sender's address: the socket peer, or, behind a configured trusted proxy,
        the nearest ``X-Forwarded-For`` hop that is not itself a trusted proxy.

        Odoo's ``proxy_mode`` rewrites the peer from the headers unconditionally; the
        original socket peer is read here so only configured proxies are believed.
        """
        environ = request.httprequest.environ
        peer = environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR") or environ.get(
            "REMOTE_ADDR", ""
        )
        trusted = _networks(trusted_setting)
        if not trusted or not _in(peer, trusted):
            return peer
        hops = [
            hop.strip()
            for hop in request.httprequest.headers.get("X-Forwarded-For", "").split(",")
            if hop.strip()
        ]
        for hop in reversed(hops):
            if not _in(hop, trusted):
                return hop
        return hops[0] if hops else peer

    def _klarna_refuse(self, address, now, reason, status=400):
        _security_logger.warning("Klarna webhook from %s refused: %s", address, reason)
        if failures.record(address, now):
            request.env["payment.klarna.event"].sudo()._klarna_alert_admins(
                address, failures.limit, failures.window
            )
        return self._klarna_answer(status, reason)

    @staticmethod
    def _klarna_answer(status, value, key="error"):
        return request.make_json_response({key: value}, status=status)
