"""Klarna's two webhook signing schemes, computed over the exact bytes sent."""

import hashlib
import hmac

SCHEMES = ("payload-signature", "klarna-signature")


def signature_headers(scheme, raw_body, key_id, secret, timestamp_ms):
    """Headers that sign ``raw_body`` with the key ``key_id``/``secret``.

    ``payload-signature``: ``Payload-Signature: ts=<ms>,sig=<hex HMAC-SHA512>,v=<key id>``.
    ``klarna-signature``: ``Klarna-Signature: <hex HMAC-SHA256>`` + ``Klarna-Signing-Key-Id``.
    """
    key = secret.encode()
    if scheme == "payload-signature":
        digest = hmac.new(key, raw_body, hashlib.sha512).hexdigest()
        return {"Payload-Signature": f"ts={timestamp_ms},sig={digest},v={key_id}"}
    if scheme == "klarna-signature":
        digest = hmac.new(key, raw_body, hashlib.sha256).hexdigest()
        return {"Klarna-Signature": digest, "Klarna-Signing-Key-Id": key_id}
    raise ValueError(f"unknown webhook scheme {scheme!r}; use one of {SCHEMES}")
