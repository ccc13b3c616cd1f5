"""The only code that talks HTTP to Klarna.

:class:`KlarnaClient` turns Python calls into Klarna Payments, Hosted Payment
Page and Order Management requests and Klarna's answers into
:mod:`klarna.results` values or :mod:`klarna.errors` exceptions. It validates
arguments before sending anything, retries only calls that cannot be applied
twice (GETs and calls carrying a ``Klarna-Idempotency-Key``), stops after
repeated 401s (:mod:`klarna.lockout`) and logs every exchange with secrets and
personal data masked (:mod:`klarna.masking`).

Answers are read strictly where money or identity depends on a field (ids, tokens,
amounts, statuses, fraud status, currency, references: missing or mistyped is a
:class:`KlarnaProtocolError`) and tolerantly where a field is only shown to people
(names, asset and redirect URLs, descriptions, display dates: anything odd becomes
None), so a cosmetic glitch on Klarna's side never fails a payment. Ids put into URL
paths must look like Klarna's ids (:func:`_segment`): none can add or climb a segment.
"""

import base64
import json
import logging
import random
import re
import time

import requests

from . import results
from .config import KlarnaConfig
from .errors import (
    KlarnaAuthError,
    KlarnaConfigError,
    KlarnaError,
    KlarnaInputError,
    KlarnaProtocolError,
    KlarnaRateLimited,
    KlarnaUnavailable,
    error_from_answer,
)
from .lockout import PROCESS_GUARD, credential_fingerprint
from .masking import mask_headers, mask_path, mask_payload

_logger = logging.getLogger(__name__)

BACKOFF_BASE = 0.5
"""Seconds; the n-th retry waits a random time in ``[0, min(BACKOFF_CAP, BACKOFF_BASE * 2**n)]``."""
BACKOFF_CAP = 8.0
_RANDOM = random.SystemRandom()

ORDERS = "/ordermanagement/v1/orders/"

# Klarna's ids and tokens (UUIDs, ``K123.abc``...): dots only between other characters,
# so no dot segment, separator, query, fragment or pre-encoded byte can reach a URL.
SEGMENT = re.compile(r"[A-Za-z0-9_~-]+(?:\.[A-Za-z0-9_~-]+)*")
MAX_SEGMENT_LENGTH = 256


def _segment(name, value):
    """An id that stays exactly one path segment, or KlarnaInputError before any call."""
    if (
        not isinstance(value, str)
        or len(value) > MAX_SEGMENT_LENGTH
        or not SEGMENT.fullmatch(value)
    ):
        raise KlarnaInputError(
            f"{name} must be a Klarna id: letters, digits, '-', '_', '~' and inner dots"
        )
    return value


def _positive_amount(name, value):
    if not isinstance(value, int) or isinstance(value, bool):
        raise KlarnaInputError(f"{name} must be an integer number of minor units, got {value!r}")
    if value <= 0:
        raise KlarnaInputError(f"{name} must be positive, got {value}")
    return value


def _payload(value):
    if not isinstance(value, dict) or not value:
        raise KlarnaInputError("the request payload must be a non-empty dict")
    return value


def _list_of_dicts(name, value):
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise KlarnaInputError(f"{name} must be a non-empty list of dicts")
    return value


def _text_arg(name, value, required=False):
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise KlarnaInputError(f"{name} must be a non-empty string")
    return value


def _idempotency_key(value):
    if not isinstance(value, str) or not value or not value.isprintable() or " " in value:
        raise KlarnaInputError("idempotency_key must be a non-empty string without spaces")
    return value


def _retry_after(response):
    """Seconds from a ``Retry-After`` header in seconds form; dates are ignored."""
    value = (response.headers.get("Retry-After") or "").strip()
    return float(value) if value.isascii() and value.isdigit() else None


def _proves_credentials(status):
    """Klarna authenticates before anything else, so these answers show the login worked.

    A 404 from the admin's connection check clears earlier failures; gateway
    errors (5xx) and rate limits may come before authentication and do not.
    """
    return 200 <= status < 300 or (400 <= status < 500 and status not in (401, 429))


def _decode(response):
    try:
        return response.json()
    except ValueError:
        return None


class _Answer:
    """A 2xx answer with what the readers below need to check it and name it in errors."""

    def __init__(self, response, decoded, what):
        self.response = response
        self.decoded = decoded
        self.what = what

    def fail(self, problem):
        return KlarnaProtocolError(
            f"{self.what}: {problem}",
            status=self.response.status_code,
            correlation_id=self.response.headers.get("Klarna-Correlation-Id"),
        )

    def json(self):
        if not isinstance(self.decoded, dict):
            raise self.fail("the answer is not a JSON object")
        return self.decoded

    def header(self, name):
        value = self.response.headers.get(name, "").strip()
        if not value:
            raise self.fail(f"the {name} header is missing")
        return value


def _text(answer, data, key, required=True):
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise answer.fail(f"{key!r} is missing or not text")
    return value


def _identity(answer, data, key):
    """An optional id or reference: absent or empty is None, anything but text is an error."""
    value = data.get(key)
    if value is None or value == "":
        return None
    return _text(answer, data, key)


def _cosmetic(data, key):
    """A display-only field (name, URL, date shown to people): never fails the answer."""
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value.strip() else None


def _amount(answer, data, key, required=True):
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise answer.fail(f"{key!r} is missing or not a non-negative integer")
    return value


def _objects(answer, data, key):
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise answer.fail(f"{key!r} is not a list of objects")
    return value


class KlarnaClient:
    """Client for one Klarna API account described by a :class:`KlarnaConfig`.

    ``session`` (a ``requests.Session``), ``sleep``, ``clock`` (monotonic
    seconds, for the retry budget) and ``lockout`` (a guard, by default the one
    shared by the process) are injectable for tests and special deployments.
    """

    def __init__(self, config, session=None, sleep=time.sleep, clock=time.monotonic, lockout=None):
        if not isinstance(config, KlarnaConfig):
            raise KlarnaConfigError("KlarnaClient needs a KlarnaConfig")
        self._config = config
        self._session = session if session is not None else requests.Session()
        self._sleep = sleep
        self._clock = clock
        self._lockout = PROCESS_GUARD if lockout is None else lockout
        self._account = (config.api_url, config.username)
        self._fingerprint = credential_fingerprint(config.password)
        credentials = f"{config.username}:{config.password}".encode()
        self._authorization = "Basic " + base64.b64encode(credentials).decode("ascii")

    @property
    def config(self):
        """The settings this client was built with (read-only: KlarnaConfig is frozen)."""
        return self._config

    # -- transport -----------------------------------------------------------

    def _call(self, method, path, what, body=None, idempotency_key=None):
        """Send with retries where safe; return the 2xx answer or raise a KlarnaError."""
        self._refuse_if_locked_out()
        headers = {
            "Authorization": self._authorization,
            "Accept": "application/json",
            "User-Agent": self._config.user_agent,
        }
        if idempotency_key is not None:
            headers["Klarna-Idempotency-Key"] = idempotency_key
        retry_safe = method == "GET" or idempotency_key is not None
        started = self._clock()
        attempt = 0
        while True:
            try:
                return _Answer(*self._send(method, path, headers, body, attempt), what)
            except KlarnaError as error:
                delay = self._retry_delay(error, attempt, started) if retry_safe else None
                if delay is None:
                    raise
                _logger.warning(
                    "Klarna %s %s: %s; retry %d in %.1f s",
                    method,
                    mask_path(path),
                    type(error).__name__,
                    attempt + 1,
                    delay,
                )
                self._sleep(delay)
                attempt += 1

    def _retry_delay(self, error, attempt, started):
        """Seconds to wait before the next attempt, or None to give up."""
        if not error.retryable or attempt >= self._config.max_retries:
            return None
        if isinstance(error, KlarnaRateLimited) and error.retry_after is not None:
            delay = error.retry_after
        else:
            delay = _RANDOM.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))
        if self._clock() - started + delay > self._config.max_retry_time:
            return None
        return delay

    def _send(self, method, path, headers, body, attempt):
        """One attempt: the 2xx response and its decoded JSON, or a KlarnaError."""
        shown_path = mask_path(path)
        started = self._clock()
        try:
            response = self._session.request(
                method,
                self._config.api_url + path,
                headers=headers,
                json=body,
                timeout=self._config.timeout,
                allow_redirects=False,
            )
        except requests.exceptions.RequestException as exc:
            # Never chain ``exc``: its text holds the full URL, tokens included.
            error = self._transport_error(exc)
            _logger.info(
                "Klarna %s %s -> %s after %d ms (attempt %d)",
                method,
                shown_path,
                type(exc).__name__,
                (self._clock() - started) * 1000,
                attempt + 1,
            )
            raise error from None
        duration_ms = (self._clock() - started) * 1000
        decoded = _decode(response)
        correlation_id = response.headers.get("Klarna-Correlation-Id")
        if correlation_id is None and isinstance(decoded, dict):
            body_id = decoded.get("correlation_id")
            correlation_id = body_id if isinstance(body_id, str) else None
        _logger.info(
            "Klarna %s %s -> %s in %d ms (correlation id %s, attempt %d)",
            method,
            shown_path,
            response.status_code,
            duration_ms,
            correlation_id,
            attempt + 1,
        )
        if _logger.isEnabledFor(logging.DEBUG):
            _logger.debug(
                "Klarna %s %s request headers %s body %s; response body %s",
                method,
                shown_path,
                json.dumps(mask_headers(headers)),
                json.dumps(mask_payload(body)),
                json.dumps(mask_payload(decoded))
                if decoded is not None
                else f"<{len(response.content)} bytes, not JSON>",
            )
        if _proves_credentials(response.status_code):
            self._lockout.record_success(self._account)
        if 200 <= response.status_code < 300:
            return response, decoded
        error = error_from_answer(
            response.status_code,
            decoded,
            correlation_id=correlation_id,
            retry_after=_retry_after(response),
        )
        if response.status_code == 401 and self._lockout.record_failure(
            self._account,
            self._fingerprint,
            self._config.lockout_threshold,
            self._config.lockout_window,
        ):
            raise self._locked_out_error(status=401, correlation_id=error.correlation_id)
        raise error

    def _transport_error(self, exc):
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            detail = f"no connection within {self._config.connect_timeout:g} s"
        elif isinstance(exc, requests.exceptions.Timeout):
            detail = f"no answer within {self._config.read_timeout:g} s"
        elif isinstance(
            exc, (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)
        ):
            detail = "the connection failed"
        else:
            return KlarnaError(f"the request could not be sent ({type(exc).__name__})")
        return KlarnaUnavailable(detail)

    def _locked_out_error(self, **kwargs):
        window_minutes = self._config.lockout_window / 60
        return KlarnaAuthError(
            f"{self._config.lockout_threshold} calls in a row were refused within "
            f"{window_minutes:g} minutes, so calls to Klarna are stopped before Klarna locks "
            "the account; check your API credentials (username and password) in the Klarna "
            f"provider settings. Calls resume once the password changes or after "
            f"{window_minutes:g} minutes",
            locked_out=True,
            **kwargs,
        )

    def _refuse_if_locked_out(self):
        if self._lockout.check(
            self._account,
            self._fingerprint,
            self._config.lockout_threshold,
            self._config.lockout_window,
        ):
            _logger.warning("Klarna call refused: credentials locked out after repeated 401s")
            raise self._locked_out_error()

    # -- Klarna Payments -----------------------------------------------------

    def create_session(self, payload):
        """Start a Klarna Payments session for the widget."""
        answer = self._call("POST", "/payments/v1/sessions", "session", body=_payload(payload))
        data = answer.json()
        categories = []
        for category in _objects(answer, data, "payment_method_categories"):
            assets = category.get("asset_urls")
            categories.append(
                results.PaymentMethodCategory(
                    identifier=_text(answer, category, "identifier"),
                    name=_cosmetic(category, "name"),
                    descriptive_asset_url=_cosmetic(assets, "descriptive"),
                    standard_asset_url=_cosmetic(assets, "standard"),
                )
            )
        return results.PaymentSession(
            session_id=_text(answer, data, "session_id"),
            client_token=_text(answer, data, "client_token"),
            payment_method_categories=tuple(categories),
        )

    def update_session(self, session_id, payload):
        """Replace the session's cart or addresses (the cart changed)."""
        path = "/payments/v1/sessions/" + _segment("session_id", session_id)
        self._call("POST", path, "session update", body=_payload(payload))

    def read_session(self, session_id):
        """Read a session back, e.g. to find an authorization whose callback was lost."""
        path = "/payments/v1/sessions/" + _segment("session_id", session_id)
        answer = self._call("GET", path, "session")
        data = answer.json()
        return results.SessionStatus(
            session_id=session_id,
            status=_text(answer, data, "status"),
            authorization_token=_identity(answer, data, "authorization_token"),
            expires_at=_identity(answer, data, "expires_at"),
            order_amount=_amount(answer, data, "order_amount", required=False),
            purchase_currency=_text(answer, data, "purchase_currency", required=False),
            raw=data,
        )

    def create_order(
        self, authorization_token, payload, idempotency_key=None, *, auto_capture=None
    ):
        """Place the order for an authorization.

        Retried on outages only when ``idempotency_key`` is given. ``auto_capture``
        (when not None) sets the payload's ``auto_capture`` flag.
        """
        token = _segment("authorization_token", authorization_token)
        body = dict(_payload(payload))
        if auto_capture is not None:
            if not isinstance(auto_capture, bool):
                raise KlarnaInputError("auto_capture must be True, False or None")
            if body.get("auto_capture", auto_capture) != auto_capture:
                raise KlarnaInputError("auto_capture disagrees with the payload's auto_capture")
            body["auto_capture"] = auto_capture
        if idempotency_key is not None:
            idempotency_key = _idempotency_key(idempotency_key)
        answer = self._call(
            "POST",
            f"/payments/v1/authorizations/{token}/order",
            "order placement",
            body=body,
            idempotency_key=idempotency_key,
        )
        data = answer.json()
        return results.PlacedOrder(
            order_id=_text(answer, data, "order_id"),
            fraud_status=_text(answer, data, "fraud_status"),
            redirect_url=_cosmetic(data, "redirect_url"),
            authorized_payment_method=_cosmetic(data.get("authorized_payment_method"), "type"),
        )

    def cancel_authorization(self, authorization_token):
        """Drop an authorization that will not become an order.

        Not retried: had the first attempt gone through, the retry would fail
        with "not found" and hide the success.
        """
        token = _segment("authorization_token", authorization_token)
        self._call("DELETE", f"/payments/v1/authorizations/{token}", "authorization cancel")

    def create_customer_token(self, authorization_token, payload):
        """Turn an authorization into a customer token for later charges."""
        token = _segment("authorization_token", authorization_token)
        answer = self._call(
            "POST",
            f"/payments/v1/authorizations/{token}/customer-token",
            "customer token",
            body=_payload(payload),
        )
        data = answer.json()
        return results.CustomerToken(
            token_id=_text(answer, data, "token_id"),
            redirect_url=_cosmetic(data, "redirect_url"),
        )

    # -- Hosted Payment Page -------------------------------------------------

    def create_hpp_session(self, payload):
        """Wrap a Klarna Payments session in a Hosted Payment Page."""
        answer = self._call("POST", "/hpp/v1/sessions", "HPP session", body=_payload(payload))
        data = answer.json()
        return results.HppSession(
            session_id=_text(answer, data, "session_id"),
            redirect_url=_text(answer, data, "redirect_url"),
            session_url=_cosmetic(data, "session_url"),
            expires_at=_cosmetic(data, "expires_at"),
        )

    def read_hpp_session(self, session_id):
        path = "/hpp/v1/sessions/" + _segment("session_id", session_id)
        answer = self._call("GET", path, "HPP session")
        data = answer.json()
        return results.HppSessionStatus(
            session_id=session_id,
            status=_text(answer, data, "status"),
            authorization_token=_identity(answer, data, "authorization_token"),
            order_id=_identity(answer, data, "order_id"),
            raw=data,
        )

    # -- Order Management ----------------------------------------------------

    def get_order(self, order_id):
        """Read the order; the source of truth after any doubtful notification."""
        answer = self._call("GET", ORDERS + _segment("order_id", order_id), "order")
        data = answer.json()
        captures = tuple(
            results.Capture(
                capture_id=_text(answer, item, "capture_id"),
                captured_amount=_amount(answer, item, "captured_amount"),
                captured_at=_cosmetic(item, "captured_at"),
                refunded_amount=_amount(answer, item, "refunded_amount", required=False),
                reference=_identity(answer, item, "reference"),
                description=_cosmetic(item, "description"),
            )
            for item in _objects(answer, data, "captures")
        )
        refunds = tuple(
            results.Refund(
                refund_id=_text(answer, item, "refund_id"),
                refunded_amount=_amount(answer, item, "refunded_amount"),
                refunded_at=_cosmetic(item, "refunded_at"),
                reference=_identity(answer, item, "reference"),
                description=_cosmetic(item, "description"),
            )
            for item in _objects(answer, data, "refunds")
        )
        return results.KlarnaOrder(
            order_id=_text(answer, data, "order_id"),
            status=_text(answer, data, "status"),
            fraud_status=_text(answer, data, "fraud_status", required=False),
            order_amount=_amount(answer, data, "order_amount"),
            captured_amount=_amount(answer, data, "captured_amount"),
            refunded_amount=_amount(answer, data, "refunded_amount"),
            remaining_authorized_amount=_amount(answer, data, "remaining_authorized_amount"),
            purchase_currency=_text(answer, data, "purchase_currency"),
            expires_at=_text(answer, data, "expires_at", required=False),
            captures=captures,
            refunds=refunds,
            raw=data,
        )

    def _order_call(self, method, order_id, action, what, idempotency_key, body=None):
        path = f"{ORDERS}{_segment('order_id', order_id)}/{action}"
        return self._call(
            method, path, what, body=body, idempotency_key=_idempotency_key(idempotency_key)
        )

    def capture(
        self,
        order_id,
        captured_amount,
        *,
        idempotency_key,
        order_lines=None,
        shipping_info=None,
        description=None,
        reference=None,
    ):
        """Capture all or part of the authorization; returns Klarna's ``Capture-Id``."""
        body = {"captured_amount": _positive_amount("captured_amount", captured_amount)}
        if order_lines is not None:
            body["order_lines"] = _list_of_dicts("order_lines", order_lines)
        if shipping_info is not None:
            body["shipping_info"] = _list_of_dicts("shipping_info", shipping_info)
        if _text_arg("description", description) is not None:
            body["description"] = description
        if _text_arg("reference", reference) is not None:
            body["reference"] = reference
        answer = self._order_call("POST", order_id, "captures", "capture", idempotency_key, body)
        return answer.header("Capture-Id")

    def refund(
        self,
        order_id,
        refunded_amount,
        *,
        idempotency_key,
        order_lines=None,
        description=None,
        reference=None,
    ):
        """Refund all or part of what was captured; returns Klarna's ``Refund-Id``."""
        body = {"refunded_amount": _positive_amount("refunded_amount", refunded_amount)}
        if order_lines is not None:
            body["order_lines"] = _list_of_dicts("order_lines", order_lines)
        if _text_arg("description", description) is not None:
            body["description"] = description
        if _text_arg("reference", reference) is not None:
            body["reference"] = reference
        answer = self._order_call("POST", order_id, "refunds", "refund", idempotency_key, body)
        return answer.header("Refund-Id")

    def cancel_order(self, order_id, *, idempotency_key):
        """Cancel an order that has no capture yet."""
        self._order_call("POST", order_id, "cancel", "order cancel", idempotency_key)

    def release_remaining_authorization(self, order_id, *, idempotency_key):
        """Give up the part of the authorization left after partial captures."""
        self._order_call(
            "POST", order_id, "release-remaining-authorization", "release", idempotency_key
        )

    def extend_authorization_time(self, order_id, *, idempotency_key):
        """Push back the authorization's expiry (28 days by default)."""
        self._order_call(
            "POST", order_id, "extend-authorization-time", "extension", idempotency_key
        )

    def update_authorization(
        self, order_id, order_amount, order_lines, *, idempotency_key, description=None
    ):
        """Change the authorized amount and lines before capture."""
        body = {
            "order_amount": _positive_amount("order_amount", order_amount),
            "order_lines": _list_of_dicts("order_lines", order_lines),
        }
        if _text_arg("description", description) is not None:
            body["description"] = description
        self._order_call(
            "PATCH", order_id, "authorization", "authorization update", idempotency_key, body
        )

    def update_merchant_references(
        self, order_id, merchant_reference1, merchant_reference2=None, *, idempotency_key
    ):
        body = {
            "merchant_reference1": _text_arg(
                "merchant_reference1", merchant_reference1, required=True
            )
        }
        if _text_arg("merchant_reference2", merchant_reference2) is not None:
            body["merchant_reference2"] = merchant_reference2
        self._order_call(
            "PATCH", order_id, "merchant-references", "reference update", idempotency_key, body
        )

    def add_shipping_info(self, order_id, capture_id, shipping_info, *, idempotency_key):
        """Attach tracking details to a capture."""
        action = f"captures/{_segment('capture_id', capture_id)}/shipping-info"
        body = {"shipping_info": _list_of_dicts("shipping_info", shipping_info)}
        self._order_call("POST", order_id, action, "shipping info", idempotency_key, body)
