"""Redaction of Klarna requests and answers before they reach a log.

Logs end up in files, log shippers and support tickets, so anything that lets
someone act as the merchant (credentials, tokens, callback URLs with one-time
secrets) or identifies a customer (names, addresses, emails, phones, tracking
numbers) is replaced by :data:`MASK`. Amounts, currencies, statuses, ids of
orders/captures/refunds and the shape of the data stay, because they are what
a developer needs to debug a rejected request.
"""

import os
import re
import traceback

MASK = "***"

# Keys whose value is secret or personal wherever they appear.
SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "password",
        "client_token",
        "authorization_token",
        "token_id",
        "token",
        "customer_token",
        "recurring_token",
        "redirect_url",
        "distribution_url",
        "qr_code_url",
        "email",
        "phone",
        "mobile_phone",
        "given_name",
        "family_name",
        "title",
        "street_address",
        "street_address2",
        "street_name",
        "street_number",
        "house_extension",
        "postal_code",
        "city",
        "attention",
        "care_of",
        "date_of_birth",
        "national_identification_number",
        "organization_registration_id",
        "vat_id",
        "tracking_number",
        "tracking_uri",
        "return_tracking_number",
        "return_tracking_uri",
        "attachment",
    }
)

# Keys whose whole subtree is personal or secret: every leaf is masked, the
# structure (keys, list lengths) is kept.
SENSITIVE_TREES = frozenset(
    {
        "billing_address",
        "shipping_address",
        "customer",
        "merchant_urls",
        "shipping_info",
    }
)

_EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")
# Path segments following these are bearer tokens.
_TOKEN_PATH = re.compile(r"(/(?:authorizations|tokens)/)[^/?#]+")


def _mask_leaves(value):
    if isinstance(value, dict):
        return {key: _mask_leaves(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask_leaves(item) for item in value]
    if value is None or isinstance(value, bool):
        return value
    return MASK


def mask_payload(value):
    """Return a masked copy of decoded JSON; the input is left untouched."""
    if isinstance(value, dict):
        masked = {}
        for key, item in value.items():
            lowered = key.lower() if isinstance(key, str) else key
            if lowered in SENSITIVE_TREES:
                masked[key] = _mask_leaves(item)
            elif lowered in SENSITIVE_KEYS:
                masked[key] = None if item is None else MASK
            else:
                masked[key] = mask_payload(item)
        return masked
    if isinstance(value, list):
        return [mask_payload(item) for item in value]
    if isinstance(value, str):
        return _EMAIL.sub(MASK, value)
    return value


def mask_path(path):
    """Hide authorization and customer tokens carried in a URL path."""
    return _TOKEN_PATH.sub(lambda match: match.group(1) + MASK, path)


def mask_headers(headers):
    """Copy of ``headers`` with credentials and cookies hidden."""
    hidden = {"authorization", "proxy-authorization", "cookie", "set-cookie"}
    return {key: MASK if key.lower() in hidden else value for key, value in headers.items()}


def error_origin(error):
    """An unexpected error's type, SQLSTATE and where it was raised, without its text: the
    text of a KeyError or a database error may quote customer data or secrets."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if "payment_klarna" in frame.filename] or frames
    where = f" at {os.path.basename(ours[-1].filename)}:{ours[-1].lineno}" if ours else ""
    code = getattr(error, "pgcode", None)
    return f"{type(error).__name__}{f' (SQLSTATE {code})' if code else ''}{where}"
