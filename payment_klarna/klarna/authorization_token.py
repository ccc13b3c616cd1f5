"""The shape of a Klarna Payments authorization token.

Klarna's tokens are UUIDs (``a6c2dd1a-6a3b-4f1c-9c6f-0e8b7b1b2c3d``). One arrives from
three places nobody vouches for: the customer's browser, the unauthenticated
authorization callback and the hosted page's return. It is then put into a Klarna URL
(``/payments/v1/authorizations/{token}/order``) and stored for the recovery job, so
anything else (``..``, slashes, very long text) is refused before it is used: it could
only point the order call at another Klarna path or fill the database.
"""

import re

PATTERN = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def is_authorization_token(value):
    """Whether ``value`` has the shape of a Klarna authorization token (any other type: no)."""
    return isinstance(value, str) and PATTERN.fullmatch(value) is not None
