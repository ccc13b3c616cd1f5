"""How :class:`klarna.client.KlarnaClient` exchanges one call with Klarna.

:class:`Transport` sends with HTTP Basic auth, retries only calls that cannot be
applied twice (GETs and calls carrying a ``Klarna-Idempotency-Key``), stops after
repeated 401s (:mod:`klarna.lockout`), turns failures into :mod:`klarna.errors`
exceptions and logs every exchange with secrets and personal data masked
(:mod:`klarna.masking`). :class:`Answer` reads a 2xx answer: strictly where money or
identity depends on a field, tolerantly (:func:`cosmetic`) where it is only shown.
"""

import base64
import json
import logging
import random

import requests

from .errors import (
    KlarnaAuthError,
    KlarnaError,
    KlarnaProtocolError,
    KlarnaRateLimited,
    KlarnaUnavailable,
    error_from_answer,
)
from .lockout import credential_fingerprint
from .masking import mask_headers, mask_path, mask_payload

_logger = logging.getLogger(__name__)

BACKOFF_BASE = 0.5
"""Seconds; the n-th retry waits a random time in ``[0, min(BACKOFF_CAP, BACKOFF_BASE * 2**n)]``."""
BACKOFF_CAP = 8.0
_RANDOM = random.SystemRandom()


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


def cosmetic(data, key):
    """A display-only field (name, URL, date shown to people): never fails the answer."""
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value.strip() else None


class Answer:
    """A 2xx answer, read strictly: a missing or mistyped field is a KlarnaProtocolError.

    ``what`` names the answer in those errors.
    """

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

    def text(self, data, key, required=True):
        value = data.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(f"{key!r} is missing or not text")
        return value

    def identity(self, data, key):
        """An optional id or reference: absent or empty is None, anything but text is an error."""
        value = data.get(key)
        if value is None or value == "":
            return None
        return self.text(data, key)

    def amount(self, data, key, required=True):
        value = data.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self.fail(f"{key!r} is missing or not a non-negative integer")
        return value

    def objects(self, data, key):
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(f"{key!r} is not a list of objects")
        return value


class Transport:
    """Calls to the one Klarna account of a :class:`klarna.config.KlarnaConfig`.

    ``session``, ``sleep``, ``clock`` and ``lockout`` come from the client; see
    :class:`klarna.client.KlarnaClient`.
    """

    def __init__(self, config, session, sleep, clock, lockout):
        self._config = config
        self._session = session
        self._sleep = sleep
        self._clock = clock
        self._lockout = lockout
        self._account = (config.api_url, config.username)
        self._fingerprint = credential_fingerprint(config.password)
        credentials = f"{config.username}:{config.password}".encode()
        self._authorization = "Basic " + base64.b64encode(credentials).decode("ascii")

    def call(self, method, path, what, body=None, idempotency_key=None):
        """Send with retries where safe; return the 2xx :class:`Answer` or raise a KlarnaError."""
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
                return Answer(*self._send(method, path, headers, body, attempt), what)
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
