"""What a Klarna Payments client token names: its session.

A client token is a JWT whose payload carries the ``session_id`` it was issued for. The
browser hands it over (Klarna Express Checkout creates the session in the browser), so it is
outside input: only the payload is read, never trusted, and the session it names is read
back from Klarna with the merchant's credentials before anything relies on it.
"""

import base64
import binascii
import json
import re

# Klarna's client tokens are a few kilobytes; anything much longer is not one.
MAX_LENGTH = 16 * 1024
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def session_id_of(client_token) -> str | None:
    """The ``session_id`` a client token names, or None when it is not a readable token.

    :param str client_token: the token, as the browser sent it
    :return: the session id, a short URL-safe identifier
    """
    if not isinstance(client_token, str) or len(client_token) > MAX_LENGTH:
        return None
    parts = client_token.split(".")
    if len(parts) != 3 or not parts[1].isascii():
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    session_id = payload.get("session_id") if isinstance(payload, dict) else None
    if isinstance(session_id, str) and _SESSION_ID.fullmatch(session_id):
        return session_id
    return None
