"""One exception hierarchy for everything that can go wrong talking to Klarna.

Callers catch :class:`KlarnaError` and show ``str(error)`` to a shop admin, so
every message is plain language and never holds credentials, tokens or
personal data. ``retryable`` says whether the same call may succeed later
without anyone changing anything; whether a retry is *safe* is the client's
business (idempotency keys), not the error's.

Mapping from Klarna answers (see :func:`error_from_answer`):

===============================================  =========================  =========
status / error_code                              class                      retryable
===============================================  =========================  =========
any status with ``*NOT_ALLOWED``,                KlarnaConflict             no
``READ_ONLY_ORDER``
409                                              KlarnaConflict             no
400                                              KlarnaValidationError      no
401, 403                                         KlarnaAuthError            no
404                                              KlarnaNotFound             no
429                                              KlarnaRateLimited          yes
5xx                                              KlarnaUnavailable          yes
other 4xx                                        KlarnaError                no
1xx, 3xx, unusable 2xx                           KlarnaProtocolError        no
timeout, connection failure                      KlarnaUnavailable          yes
===============================================  =========================  =========
"""


class KlarnaError(Exception):
    """Base class; carries what Klarna told us, where known."""

    retryable = False
    lead = "Klarna request failed"

    def __init__(
        self,
        detail=None,
        *,
        status=None,
        error_code=None,
        error_messages=(),
        correlation_id=None,
    ):
        self.status = status
        self.error_code = error_code
        self.error_messages = tuple(error_messages)
        self.correlation_id = correlation_id
        self.detail = detail
        super().__init__(self._compose())

    def _compose(self):
        text = self.lead
        if self.error_code:
            text += f" ({self.error_code})"
        elif self.status is not None:
            text += f" (HTTP {self.status})"
        parts = [self.detail] if self.detail else []
        parts.extend(self.error_messages)
        if parts:
            text += ": " + "; ".join(parts)
        if self.correlation_id:
            text += f" [correlation id {self.correlation_id}]"
        return text


class KlarnaConfigError(KlarnaError, ValueError):
    """The provider settings cannot produce a working client."""

    lead = "Invalid Klarna configuration"


class KlarnaInputError(KlarnaError, ValueError):
    """A caller passed arguments Klarna would reject; nothing was sent."""

    lead = "Invalid Klarna request"


class KlarnaAuthError(KlarnaError):
    """Credentials refused, or calls stopped to avoid Klarna locking them."""

    lead = "Klarna refused the API credentials"

    def __init__(self, detail=None, *, locked_out=False, **kwargs):
        self.locked_out = locked_out
        super().__init__(detail, **kwargs)


class KlarnaValidationError(KlarnaError):
    lead = "Klarna rejected the request"


class KlarnaNotFound(KlarnaError):
    lead = "Klarna does not know this session, authorization or order"


class KlarnaConflict(KlarnaError):
    """The resource's state forbids the operation (captured, cancelled, expired...)."""

    lead = "Klarna does not allow this operation in the order's current state"


class KlarnaUnavailable(KlarnaError):
    retryable = True
    lead = "Klarna is temporarily unavailable"


class KlarnaRateLimited(KlarnaUnavailable):
    """Subclass of unavailable so callers that back off on outages also back off here."""

    lead = "Klarna is limiting the request rate"

    def __init__(self, detail=None, *, retry_after=None, **kwargs):
        self.retry_after = retry_after
        if retry_after is not None and not detail:
            detail = f"retry after {retry_after:g} s"
        super().__init__(detail, **kwargs)


class KlarnaProtocolError(KlarnaError):
    """Klarna answered, but not with what its API promises; treated as bad input."""

    lead = "Klarna sent an unexpected answer"


CONFLICT_CODES = frozenset({"NOT_ALLOWED", "READ_ONLY_ORDER"})


def _is_conflict_code(code):
    return bool(code) and (code.endswith("_NOT_ALLOWED") or code in CONFLICT_CODES)


def _error_class_for(status, error_code):
    """Pick the class for a non-2xx HTTP status and Klarna error code."""
    if _is_conflict_code(error_code) or status == 409:
        return KlarnaConflict
    if status == 400:
        return KlarnaValidationError
    if status in (401, 403):
        return KlarnaAuthError
    if status == 404:
        return KlarnaNotFound
    if status == 429:
        return KlarnaRateLimited
    if 500 <= status <= 599:
        return KlarnaUnavailable
    if 400 <= status <= 499:
        return KlarnaError
    return KlarnaProtocolError


def parse_error_body(body):
    """Return ``(error_code, error_messages, correlation_id)`` from a decoded error body.

    Anything not shaped like Klarna's error object yields empty values: a proxy's
    HTML 502 page must still become a clean error.
    """
    if not isinstance(body, dict):
        return None, (), None
    code = body.get("error_code")
    messages = body.get("error_messages")
    correlation_id = body.get("correlation_id")
    return (
        code if isinstance(code, str) and code else None,
        tuple(m for m in messages if isinstance(m, str)) if isinstance(messages, list) else (),
        correlation_id if isinstance(correlation_id, str) and correlation_id else None,
    )


_AUTH_HINTS = {
    401: "check the API username and password in the Klarna provider settings",
    403: "these API credentials may not make this call; check the Klarna merchant account",
}


def error_from_answer(status, body, *, correlation_id=None, retry_after=None):
    """Build the error for a non-2xx answer; ``body`` is the decoded JSON or ``None``."""
    code, messages, body_correlation_id = parse_error_body(body)
    cls = _error_class_for(status, code)
    kwargs = {
        "status": status,
        "error_code": code,
        "error_messages": messages,
        "correlation_id": correlation_id or body_correlation_id,
    }
    if cls is KlarnaRateLimited:
        return KlarnaRateLimited(retry_after=retry_after, **kwargs)
    if cls is KlarnaAuthError:
        return KlarnaAuthError(_AUTH_HINTS[status], **kwargs)
    if cls is KlarnaProtocolError:
        return KlarnaProtocolError("the API never answers with this status", **kwargs)
    return cls(**kwargs)


class RejectedInput(ValueError):
    """Inbound data (a webhook, a callback) we refuse; ``reason_code`` names why for logs."""

    def __init__(self, reason_code, message):
        super().__init__(message)
        self.reason_code = reason_code
