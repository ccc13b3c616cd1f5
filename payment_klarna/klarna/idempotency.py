"""Idempotency keys derived from the business operation, not drawn at random.

Klarna honours ``Klarna-Idempotency-Key`` for about 24 hours: a repeated call
with the same key returns the first outcome instead of capturing or refunding
twice. A random key per attempt would defeat that after a crash (the retry
would look new), so the key is a UUIDv5 of the operation itself: the same
capture of the same amount for the same transaction always yields the same
key, in any process, before or after a restart, and a different operation
yields a different one.
"""

import json
import uuid

from .errors import KlarnaInputError

NAMESPACE = uuid.UUID("40459780-6406-4fb8-be26-6cf915a4a2e7")
"""Fixed for payment_klarna; changing it would change every key in flight."""


def _check_text(name, value):
    if not isinstance(value, str) or not value.strip():
        raise KlarnaInputError(f"{name} must be a non-empty string, got {value!r}")


def _check_count(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise KlarnaInputError(f"{name} must be an integer of at least 0, got {value!r}")


def operation_key(reference, operation, amount_minor, sequence=0):
    """Key for one logical Klarna operation.

    ``reference`` names what is acted on (the transaction reference or Klarna
    order id), ``operation`` the action (``"capture"``, ``"refund"``...),
    ``amount_minor`` the amount in minor units (0 when there is none) and
    ``sequence`` tells apart deliberate repeats of an otherwise identical
    operation (a second partial capture of the same amount).
    """
    _check_text("reference", reference)
    _check_text("operation", operation)
    _check_count("amount_minor", amount_minor)
    _check_count("sequence", sequence)
    # A JSON array is an unambiguous encoding: no two argument tuples share it.
    canonical = json.dumps(["v1", reference, operation, amount_minor, sequence])
    return str(uuid.uuid5(NAMESPACE, canonical))
