"""Checks on what browsers and callers send, before any of it is parsed or used.

Decisions:

- Each JSON route declares its parameters and their kinds once (``const``), and one
  place (the addon's ``ir.http``) checks them before the route runs: a route never
  meets a wrong type, a missing parameter or extra junk, and answers none with a
  traceback.
- Kinds are few and accept what Odoo's payment form really sends: its context values
  are strings (``"12.5"``, ``"3"``), so numbers and ids may come as digit strings.
- JSON nesting is measured on the raw bytes without recursion, so a deeply nested
  body is refused before Python's parser can raise ``RecursionError``.
- Problems name the parameter, never its value: values may be tokens.
- Text is refused when PostgreSQL or UTF-8 cannot hold it (NUL, lone surrogates): it
  would fail in a query or in the answer, never match a record, and only a stranger
  sends it. Secrets are compared as ASCII in constant time; anything else is no match.
"""

import hmac
import math
import re

MAX_TEXT_LENGTH = 1024
MAX_NUMBER_LENGTH = 32
MAX_RECORD_ID = 2**31 - 1  # PostgreSQL's integer: larger ids fail in SQL, not here


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def is_text(value, max_length=MAX_TEXT_LENGTH):
    """Whether ``value`` is a string a query, a log line and a UTF-8 answer can all hold.

    :param value: anything received
    :param int max_length: the longest accepted string
    :return: bool
    """
    return isinstance(value, str) and len(value) <= max_length and not _UNSTORABLE.search(value)


def same_secret(expected, given):
    """Compare a received secret with the expected one in constant time.

    :param str expected: the secret as the server computes it (ASCII)
    :param given: what was received, of any type
    :return: bool; False for anything that is not an ASCII string
    """
    return (
        isinstance(given, str)
        and given.isascii()
        and hmac.compare_digest(expected.encode(), given.encode())
    )


def _is_record_id(value):
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_RECORD_ID


def _is_number(value):
    if isinstance(value, str) and len(value) <= MAX_NUMBER_LENGTH:
        try:
            value = float(value)
        except ValueError:
            return False
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value)


KINDS = {
    "text": is_text,
    # Tokens and signatures are ASCII: Odoo's own comparisons (``consteq``) raise on others.
    "secret": lambda value: is_text(value) and value.isascii(),
    "id": _is_record_id,
    "number": _is_number,
    "flag": lambda value: isinstance(value, bool),
    "object": lambda value: isinstance(value, dict),
    "any": lambda value: True,
}
"""A kind ending in ``?`` is optional and may be null."""


def param_problem(params, spec):
    """What is wrong with a route's parameters, or None.

    :param dict params: the parameters as received
    :param dict spec: name -> kind (a key of :data:`KINDS`, ``?`` for optional)
    :return: a short English description naming the parameter, or None
    """
    unexpected = sorted(str(name) for name in set(params) - set(spec))
    if unexpected:
        return f"unexpected parameter {unexpected[0][:40]!r}"
    for name, kind in spec.items():
        optional = kind.endswith("?")
        if name not in params:
            if optional:
                continue
            return f"missing {name!r}"
        value = params[name]
        if value is None and optional:
            continue
        if not KINDS[kind.rstrip("?")](value):
            return f"{name!r} is not a valid {kind.rstrip('?')}"
    return None


def json_depth(raw):
    """The deepest nesting of arrays and objects in a JSON text, counted without recursion.

    Brackets inside strings do not count. Invalid JSON gives some number; the parser
    refuses it afterwards.

    :param bytes raw: the body
    :return: int
    """
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def read_bounded(stream, limit, chunk=8192):
    """Read a body of unknown length (chunked), but never more than ``limit + 1`` bytes.

    :param stream: a file-like object with ``read(n)``
    :param int limit: the largest accepted body, in bytes
    :return: the body, or None when it is larger than ``limit``
    """
    parts = []
    size = 0
    while size <= limit:
        part = stream.read(min(chunk, limit + 1 - size))
        if not part:
            return b"".join(parts)
        parts.append(part)
        size += len(part)
    return None


def body_limit(path, limits):
    """The body limit of the first prefix that ``path`` starts with, or None.

    :param str path: the request path
    :param limits: ``(prefix, bytes)`` pairs
    """
    for prefix, limit in limits:
        if path.startswith(prefix):
            return limit
    return None
