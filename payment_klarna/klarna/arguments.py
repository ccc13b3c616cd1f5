"""Checks on what callers pass to :class:`klarna.client.KlarnaClient`.

Each check returns the value unchanged or raises :class:`KlarnaInputError` before
anything is sent, so a bad argument never becomes a request Klarna might apply.
"""

import re

from .errors import KlarnaInputError

# Klarna's ids and tokens (UUIDs, ``K123.abc``...): dots only between other characters,
# so no dot segment, separator, query, fragment or pre-encoded byte can reach a URL.
SEGMENT = re.compile(r"[A-Za-z0-9_~-]+(?:\.[A-Za-z0-9_~-]+)*")
MAX_SEGMENT_LENGTH = 256
# Klarna's limit on a capture's shipping_info shipping_company and tracking_number.
SHIPPING_TEXT_MAX = 100


def segment(name, value):
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


def positive_amount(name, value):
    if not isinstance(value, int) or isinstance(value, bool):
        raise KlarnaInputError(f"{name} must be an integer number of minor units, got {value!r}")
    if value <= 0:
        raise KlarnaInputError(f"{name} must be positive, got {value}")
    return value


def payload(value):
    if not isinstance(value, dict) or not value:
        raise KlarnaInputError("the request payload must be a non-empty dict")
    return value


def order_payload(value, auto_capture):
    """A copy of the order payload, its ``auto_capture`` flag set unless that is None."""
    body = dict(payload(value))
    if auto_capture is not None:
        if not isinstance(auto_capture, bool):
            raise KlarnaInputError("auto_capture must be True, False or None")
        if body.get("auto_capture", auto_capture) != auto_capture:
            raise KlarnaInputError("auto_capture disagrees with the payload's auto_capture")
        body["auto_capture"] = auto_capture
    return body


def list_of_dicts(name, value):
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise KlarnaInputError(f"{name} must be a non-empty list of dicts")
    return value


def optional_text(name, value):
    """None, or a string with more than blanks."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise KlarnaInputError(f"{name} must be a non-empty string")
    return value


def idempotency_key(value):
    if not isinstance(value, str) or not value or not value.isprintable() or " " in value:
        raise KlarnaInputError("idempotency_key must be a non-empty string without spaces")
    return value
