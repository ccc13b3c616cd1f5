"""The per-transaction secret in the authorization callback URL.

Klarna's authorization callback carries no credentials, so the URL we give in
``merchant_urls.authorization`` holds a random token that only Klarna learns. Only
its SHA-256 is stored, so a database leak does not reveal live callback URLs.

"One-time" means one token per payment session, not one use: Klarna retries a
failed callback and may call again with a new authorization token for the same
session, so the transaction keeps accepting its token until it is final.
"""

import hashlib
import hmac
import re
import secrets

_TOKEN_BYTES = 32
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # what token_urlsafe(32) always yields
_HASH = re.compile(r"[0-9a-f]{64}")


def new_token():
    """A fresh URL-safe token for one transaction's callback URL."""
    return secrets.token_urlsafe(_TOKEN_BYTES)


def hash_token(token):
    """The value to store for ``token``; raises ValueError if it is not one of ours."""
    if not is_token(token):
        raise ValueError("not a callback token")
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def token_matches(token, stored_hash):
    """Whether a token taken from a request path matches the stored hash.

    Any garbage (wrong length or characters, no stored hash) is simply a mismatch.
    """
    if not is_token(token) or not isinstance(stored_hash, str) or not _HASH.fullmatch(stored_hash):
        return False
    return hmac.compare_digest(hash_token(token), stored_hash)


def is_token(value):
    """Whether ``value`` has the shape of a token from :func:`new_token`."""
    return isinstance(value, str) and _TOKEN.fullmatch(value) is not None
