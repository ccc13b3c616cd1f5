"""Parse what Klarna POSTs to us: webhook events, legacy notifications, authorization callbacks.

Webhook bodies are parsed only after :mod:`.signature` has verified the raw bytes.
Every rejection raises :class:`EventError` with a ``reason_code`` from
:data:`REASON_CODES`; messages name the offending field but never quote a value,
so they can be logged. :func:`minimise_payload` gives the GDPR-minimised copy of a
body that may be stored (the event inbox); the full payload stays in memory only.
:func:`classify` tells what a stored event asks of the Odoo layer.
"""

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum

from . import authorization_token
from .errors import RejectedInput
from .status import Outcome

DEFAULT_MAX_BYTES = 256 * 1024
_SMALL_BODY_MAX_BYTES = 16 * 1024
# Containers nested in a body, the body itself included. Klarna's nest about six deep;
# the bound keeps every walk of a decoded body (minimisation, storage) far from
# Python's recursion limit, however deep a signed body is.
MAX_DEPTH = 32

BODY_TOO_LARGE = "body_too_large"
NOT_UTF8 = "not_utf8"
MALFORMED_JSON = "malformed_json"
TOO_DEEP = "too_deep"
NOT_AN_OBJECT = "not_an_object"
MISSING_EVENT_ID = "missing_event_id"
INVALID_EVENT_ID = "invalid_event_id"
MISSING_EVENT_TYPE = "missing_event_type"
INVALID_EVENT_TYPE = "invalid_event_type"
INVALID_OCCURRED_AT = "invalid_occurred_at"
INVALID_PAYLOAD = "invalid_payload"
MISSING_FIELD = "missing_field"
INVALID_FIELD = "invalid_field"
NOT_LEGACY_NOTIFICATION = "not_legacy_notification"
REASON_CODES = frozenset(
    {
        BODY_TOO_LARGE,
        NOT_UTF8,
        MALFORMED_JSON,
        TOO_DEEP,
        NOT_AN_OBJECT,
        MISSING_EVENT_ID,
        INVALID_EVENT_ID,
        MISSING_EVENT_TYPE,
        INVALID_EVENT_TYPE,
        INVALID_OCCURRED_AT,
        INVALID_PAYLOAD,
        MISSING_FIELD,
        INVALID_FIELD,
        NOT_LEGACY_NOTIFICATION,
    }
)

LEGACY_EVENT_TYPES = frozenset({"FRAUD_RISK_ACCEPTED", "FRAUD_RISK_REJECTED", "FRAUD_RISK_STOPPED"})

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_EVENT_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
# Klarna ids and tokens end up as URL path segments of API calls: no '/', no dot segments.
_KLARNA_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_STATUS = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
_MAX_REFERENCE_LENGTH = 255
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})"
)


class EventError(RejectedInput):
    """A body that is not a usable Klarna event; nothing may be done with it."""


@dataclass(frozen=True)
class WebhookEvent:
    """A signed webhook event. Store ``raw`` (minimised); ``payload`` holds personal data."""

    event_id: str
    event_type: str
    occurred_at: datetime | None
    payload: dict = field(repr=False)
    order_id: str | None
    session_id: str | None
    payment_status: str | None
    merchant_reference1: str | None
    merchant_reference2: str | None
    klarna_reference: str | None
    raw: dict


@dataclass(frozen=True)
class LegacyNotification:
    """An unsigned Order Management push. Anyone can forge one, so it is only a hint:
    the Odoo layer re-reads the order from the API and acts on that, never on this."""

    order_id: str
    event_type: str


@dataclass(frozen=True)
class AuthorizationCallback:
    """Klarna's server-side authorization callback; the token can place an order: keep it
    out of logs."""

    authorization_token: str = field(repr=False)
    session_id: str


def parse_event(body, *, max_bytes=DEFAULT_MAX_BYTES):
    """Parse a verified webhook body of either shape Klarna sends.

    ``{"event_id", "event_type", "occurred_at", "payload": {...}}`` (Pay Now standalone),
    or ``{"metadata": {"event_id", "event_type", "occurred_at", ...}, ...}`` where the
    event's fields sit under ``payload`` when present, else beside ``metadata``.
    Reference fields are looked up in the payload, then in ``metadata``.
    """
    obj = _decode_object(body, max_bytes)
    metadata = obj.get("metadata")
    if "event_id" in obj or "event_type" in obj or not isinstance(metadata, dict):
        envelope = obj
        payload = obj.get("payload", {})
        metadata = metadata if isinstance(metadata, dict) else {}
    else:
        envelope = metadata
        payload = obj.get("payload", {k: v for k, v in obj.items() if k != "metadata"})
    if not isinstance(payload, dict):
        raise EventError(INVALID_PAYLOAD, "the event payload must be a JSON object")
    return WebhookEvent(
        event_id=_event_id(envelope),
        event_type=_event_type(envelope),
        occurred_at=_occurred_at(envelope),
        payload=payload,
        order_id=_optional(payload, metadata, "order_id", _KLARNA_ID.fullmatch),
        session_id=_optional(payload, metadata, "session_id", _KLARNA_ID.fullmatch),
        payment_status=_optional(payload, metadata, "payment_status", _STATUS.fullmatch),
        merchant_reference1=_optional(payload, metadata, "merchant_reference1", _is_reference),
        merchant_reference2=_optional(payload, metadata, "merchant_reference2", _is_reference),
        klarna_reference=_optional(payload, metadata, "klarna_reference", _is_reference),
        raw=minimise_payload(obj),
    )


def is_legacy_notification(obj):
    """Whether a decoded body has the shape of an unsigned Order Management push."""
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("event_type"), str)
        and obj["event_type"] in LEGACY_EVENT_TYPES
        and "order_id" in obj
        and "event_id" not in obj
        and "metadata" not in obj
    )


def parse_legacy_notification(body):
    """Parse an unsigned ``{"order_id", "event_type": "FRAUD_RISK_*"}`` push (a hint only)."""
    obj = _decode_object(body, _SMALL_BODY_MAX_BYTES)
    if not is_legacy_notification(obj):
        raise EventError(NOT_LEGACY_NOTIFICATION, "not an Order Management fraud notification")
    order_id = obj["order_id"]
    if not isinstance(order_id, str) or not _KLARNA_ID.fullmatch(order_id):
        raise EventError(INVALID_FIELD, "order_id is not a Klarna order id")
    return LegacyNotification(order_id=order_id, event_type=obj["event_type"])


def parse_authorization_callback(body):
    """Parse ``{"authorization_token", "session_id"}`` from Klarna's authorization callback."""
    obj = _decode_object(body, _SMALL_BODY_MAX_BYTES)
    return AuthorizationCallback(
        authorization_token=_required(obj, "authorization_token", authorization_token.PATTERN),
        session_id=_required(obj, "session_id", _KLARNA_ID),
    )


class EventKind(Enum):
    """What an event type asks of the transaction it names (see :func:`classify`)."""

    PAYMENT_STATUS = "payment_status"  # Pay Now standalone: the bank transfer's status
    FRAUD_NOTIFICATION = "fraud_notification"  # unsigned: only a reason to re-read the order
    PAYMENT_REQUEST = "payment_request"  # a payment request's state, maybe before any order
    DISPUTE = "dispute"  # followed up in Klarna's Merchant Portal, noted in Odoo
    ORDER_CHANGE = "order_change"  # a capture, refund or cancellation made on Klarna's side


PAYMENT_STATUS_EVENT = "non_guaranteed_payment.updated"
PAYMENT_REQUEST_PREFIX = "payment.request.state-change."
DISPUTE_PREFIX = "payment.dispute."
# Words in an event type that name a change of the order made on Klarna's side; the
# order is re-read rather than the event believed.
ORDER_CHANGE_WORDS = frozenset(
    {"capture", "captured", "refund", "refunded", "cancel", "canceled", "cancelled"}
)
_EVENT_TYPE_SEPARATORS = re.compile(r"[._:-]")
# Payment request states that end a payment before any order exists.
PAYMENT_REQUEST_OUTCOMES = {
    "expired": Outcome.CANCELED,
    "canceled": Outcome.CANCELED,
    "cancelled": Outcome.CANCELED,
    "declined": Outcome.ERROR,
}


def classify(event_type):
    """The :class:`EventKind` of an event type, None when it asks nothing.

    Exact types and prefixes come first (``payment.request.state-change.canceled`` is a
    payment request, not an order change); any other type naming one of
    :data:`ORDER_CHANGE_WORDS`, in any case and between any of ``. _ : -``, is an order
    change: whatever Klarna calls it, the answer is to re-read the order.
    """
    if event_type == PAYMENT_STATUS_EVENT:
        return EventKind.PAYMENT_STATUS
    if event_type in LEGACY_EVENT_TYPES:
        return EventKind.FRAUD_NOTIFICATION
    if event_type.startswith(PAYMENT_REQUEST_PREFIX):
        return EventKind.PAYMENT_REQUEST
    if event_type.startswith(DISPUTE_PREFIX):
        return EventKind.DISPUTE
    if ORDER_CHANGE_WORDS.intersection(_EVENT_TYPE_SEPARATORS.split(event_type.lower())):
        return EventKind.ORDER_CHANGE
    return None


def payment_request_state(event_type):
    """The state a payment request event type reports, lower-cased
    (``payment.request.state-change.EXPIRED``: ``expired``)."""
    return event_type.removeprefix(PAYMENT_REQUEST_PREFIX).lower()


def outcome_for_payment_request(state):
    """The outcome of a payment request state for a payment without an order yet: None
    for a state that only reports progress (an order, once placed, is re-read instead)."""
    return PAYMENT_REQUEST_OUTCOMES.get(state)


# Minimisation keeps a scalar only when its key says it is an id, amount, status,
# type or timestamp (an allowlist, so an unforeseen personal field is dropped), and
# drops whole subtrees under keys that name people, contacts or secrets, even when
# a key inside them looks harmless (the ``id`` of a ``customer``).
_KEEP_KEYS = frozenset(
    {
        "id",
        "status",
        "state",
        "type",
        "currency",
        "reference",
        "merchant_reference1",
        "merchant_reference2",
        "klarna_reference",
        "purchase_country",
        "quantity",
        "tax_rate",
        "intent",
        "live",
        "event_version",
    }
)
_KEEP_SUFFIXES = ("_id", "_ids", "_amount", "_status", "_state", "_type", "_at", "_currency")
_DROP_WORDS = frozenset(
    {
        "customer",
        "consumer",
        "debtor",
        "payer",
        "holder",
        "person",
        "personal",
        "national",
        "registration",
        "birth",
        "name",
        "email",
        "phone",
        "address",
        "iban",
        "ip",
        "device",
        "token",
        "password",
        "secret",
        "attachment",
    }
)
_KEY_WORD_SEPARATORS = re.compile(r"[_.-]")
_DROP_KEYS = frozenset({"tax_id", "vat_id", "merchant_data"})
_SCALARS = (str, int, float, bool, type(None))
_DROPPED = object()


def minimise_payload(obj):
    """A copy of a decoded body keeping only ids, amounts, statuses, types and timestamps."""
    if not isinstance(obj, dict):
        raise TypeError("only a JSON object can be minimised")
    return _minimise_dict(obj)


def _minimise_dict(obj):
    kept = {}
    for key, value in obj.items():
        lower = key.lower()
        if lower in _DROP_KEYS or _DROP_WORDS.intersection(_KEY_WORD_SEPARATORS.split(lower)):
            continue
        minimised = _minimise_value(lower, value)
        if minimised is not _DROPPED:
            kept[key] = minimised
    return kept


def _minimise_value(key, value):
    if isinstance(value, dict):
        kept = _minimise_dict(value)
        return kept or _DROPPED
    if isinstance(value, list):
        kept = [m for m in (_minimise_value(key, item) for item in value) if m is not _DROPPED]
        return kept or _DROPPED
    if isinstance(value, _SCALARS) and (key in _KEEP_KEYS or key.endswith(_KEEP_SUFFIXES)):
        return value
    return _DROPPED


def _decode_object(body, max_bytes):
    if not isinstance(body, bytes):
        raise TypeError("the body must be the raw request bytes")
    if len(body) > max_bytes:
        raise EventError(BODY_TOO_LARGE, f"body is larger than {max_bytes} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise EventError(NOT_UTF8, "body is not UTF-8") from None
    try:
        obj = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except ValueError:
        raise EventError(MALFORMED_JSON, "body is not valid JSON") from None
    except RecursionError:
        # Only nesting makes the C parser recurse; it unwinds cleanly.
        raise EventError(TOO_DEEP, f"body nests deeper than {MAX_DEPTH} levels") from None
    if not isinstance(obj, dict):
        raise EventError(NOT_AN_OBJECT, "body is not a JSON object")
    _check_depth(obj)
    return obj


def _check_depth(obj):
    """Refuse a body nesting more than :data:`MAX_DEPTH` containers, walking it level by
    level (no recursion): the parser alone accepts a few hundred levels."""
    level = [obj]
    for _depth in range(MAX_DEPTH):
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, (dict, list))
        ]
        if not level:
            return
    raise EventError(TOO_DEEP, f"body nests deeper than {MAX_DEPTH} levels")


def _unique_keys(pairs):
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate key")  # two parsers could read two different events
    return obj


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def _event_id(envelope):
    value = envelope.get("event_id")
    if value is None:
        raise EventError(MISSING_EVENT_ID, "event_id is missing")
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise EventError(INVALID_EVENT_ID, "event_id is not a UUID")
    return str(uuid.UUID(value))


def _event_type(envelope):
    value = envelope.get("event_type")
    if value is None:
        raise EventError(MISSING_EVENT_TYPE, "event_type is missing")
    if not isinstance(value, str) or not _EVENT_TYPE.fullmatch(value):
        raise EventError(INVALID_EVENT_TYPE, "event_type is not an event type name")
    return value


def _occurred_at(envelope):
    value = envelope.get("occurred_at")
    if value is None:
        return None
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise EventError(INVALID_OCCURRED_AT, "occurred_at is not an RFC 3339 timestamp")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        if offset in "Zz":
            tz = timezone.utc
        else:
            sign = -1 if offset[0] == "-" else 1
            tz = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=tz,
        )
        return moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise EventError(INVALID_OCCURRED_AT, "occurred_at is not a valid instant") from None


def _optional(payload, metadata, key, valid):
    value = payload.get(key, metadata.get(key))
    if value is None:
        return None
    if not isinstance(value, str) or not valid(value):
        raise EventError(INVALID_FIELD, f"{key} has an unexpected format")
    return value


def _required(obj, key, pattern):
    value = obj.get(key)
    if value is None or value == "":
        raise EventError(MISSING_FIELD, f"{key} is missing")
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise EventError(INVALID_FIELD, f"{key} has an unexpected format")
    return value


def _is_reference(value):
    return 0 < len(value) <= _MAX_REFERENCE_LENGTH and value.isprintable()
