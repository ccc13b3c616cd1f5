"""Verify Klarna webhook signatures on the raw body, before anything parses it.

Two schemes are live and both are accepted (KLARNA.md, "Webhooks"):

* ``Payload-Signature: ts=<ms>,sig=<hex>,v=<key version>``, an RFC 8941 dictionary;
  ``sig`` is the hex HMAC-SHA512 of the body with the key of version ``v``
  (Pay Now standalone payment status webhooks).
* ``Klarna-Signature: <hex>`` with ``Klarna-Signing-Key-Id: <id>``; the hex
  HMAC-SHA256 of the body with the key of that id (notification webhooks).

When both are present, ``Payload-Signature`` decides alone (the bare
``Klarna-Signature`` sent next to it is deprecated): a broken preferred header is
rejected rather than retried with the other scheme.

Replays: Klarna's HMAC covers the body only, not ``ts``. The timestamp window is
therefore a freshness check on the header, not a cryptographic one: someone who
captured a genuine delivery can resend the body with a fresh ``ts``. What stops a
replay from having an effect is the unique ``event_id`` in the body (the inbox
accepts each event once) and the rule that no event moves a transaction
backwards. It is unknown whether Klarna refreshes ``ts`` on its retries (which
last up to about 12 h); if it does not, a narrow window rejects late retries, so
``max_age=None`` turns the window off.

Failures raise :class:`SignatureError` with a ``reason_code`` from
:data:`REASON_CODES`, meant for a security log line; messages never contain the
body, the signature or a key.
"""

import hashlib
import hmac
import re
import time
from base64 import b64decode
from binascii import Error as Base64Error
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .errors import RejectedInput

SCHEME_PAYLOAD_SIGNATURE = "payload-signature"
SCHEME_KLARNA_SIGNATURE = "klarna-signature"

MISSING_SIGNATURE = "missing_signature"
MALFORMED_HEADER = "malformed_header"
UNKNOWN_KEY = "unknown_key"
BAD_SIGNATURE = "bad_signature"
STALE_TIMESTAMP = "stale_timestamp"
FUTURE_TIMESTAMP = "future_timestamp"
REASON_CODES = frozenset(
    {
        MISSING_SIGNATURE,
        MALFORMED_HEADER,
        UNKNOWN_KEY,
        BAD_SIGNATURE,
        STALE_TIMESTAMP,
        FUTURE_TIMESTAMP,
    }
)

DEFAULT_MAX_AGE = 300  # seconds, either side of the receiver's clock

_PAYLOAD_SIGNATURE = "payload-signature"
_KLARNA_SIGNATURE = "klarna-signature"
_KLARNA_KEY_ID = "klarna-signing-key-id"
_MAX_HEADER_LENGTH = 4096
_MAX_KEY_ID_LENGTH = 128
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MAX_TS_MS = 253402300799999  # 9999-12-31T23:59:59.999Z, the last instant datetime holds
_KEY_ID = re.compile(r"[\x21-\x7e]+")


class SignatureError(RejectedInput):
    """A webhook whose origin cannot be proven; answer non-2xx and do nothing else."""


@dataclass(frozen=True)
class VerifiedSignature:
    """Which scheme and key proved the body; ``timestamp`` only for Payload-Signature."""

    scheme: str
    key_id: str
    timestamp: datetime | None


def verify(body, headers, keys, *, now=None, max_age=DEFAULT_MAX_AGE):
    """Prove ``body`` (raw bytes) came from Klarna, or raise :class:`SignatureError`.

    ``headers`` is any mapping of header names to values (names matched without
    case; repeated names are combined with ", " as HTTP does). ``keys`` maps key
    ids/versions to signing keys (``str`` keys are UTF-8 encoded); several may be
    active during a rotation. ``now`` is the current epoch time in seconds (the
    real clock when None); ``max_age`` is the timestamp window in seconds, None to
    skip it. The HMAC is checked before the timestamp, so ``stale_timestamp`` and
    ``future_timestamp`` only ever describe genuine bodies.
    """
    if not isinstance(body, bytes):
        raise TypeError("the webhook body must be the raw request bytes")
    found = _lower_headers(headers)
    if _PAYLOAD_SIGNATURE in found:
        return _verify_payload_signature(body, found[_PAYLOAD_SIGNATURE], keys, now, max_age)
    if _KLARNA_SIGNATURE in found:
        return _verify_klarna_signature(body, found, keys)
    raise SignatureError(MISSING_SIGNATURE, "no Payload-Signature or Klarna-Signature header")


def sign_payload_signature(body, key, version, ts_ms):
    """The ``Payload-Signature`` header value Klarna would send for ``body``."""
    digest = hmac.new(_key_bytes(key), body, hashlib.sha512).hexdigest()
    return f"ts={ts_ms},sig={digest},v={version}"


def sign_klarna_signature(body, key):
    """The ``Klarna-Signature`` header value Klarna would send for ``body``."""
    return hmac.new(_key_bytes(key), body, hashlib.sha256).hexdigest()


def _verify_payload_signature(body, value, keys, now, max_age):
    try:
        members = _parse_dictionary(value)
    except ValueError as exc:
        raise SignatureError(MALFORMED_HEADER, f"Payload-Signature: {exc}") from None
    ts = members.get("ts")
    sig = members.get("sig")
    version = members.get("v")
    if type(ts) is not int or not 0 <= ts <= _MAX_TS_MS:
        raise SignatureError(MALFORMED_HEADER, "Payload-Signature: ts must be epoch milliseconds")
    if type(version) is int and version >= 0:
        version = str(version)
    if not isinstance(version, str) or not _is_key_id(version):
        raise SignatureError(MALFORMED_HEADER, "Payload-Signature: v must name a key version")
    if not isinstance(sig, str):
        raise SignatureError(MALFORMED_HEADER, "Payload-Signature: sig must be a hex string")
    received = _hex_digest(sig, hashlib.sha512().digest_size, "Payload-Signature sig")
    _check_hmac(body, received, _lookup_key(keys, version), hashlib.sha512)
    if max_age is not None:
        _check_fresh(ts, now, max_age)
    return VerifiedSignature(SCHEME_PAYLOAD_SIGNATURE, version, _EPOCH + timedelta(milliseconds=ts))


def _verify_klarna_signature(body, found, keys):
    key_id = found.get(_KLARNA_KEY_ID, "").strip(" \t")
    if not key_id:
        raise SignatureError(MALFORMED_HEADER, "Klarna-Signature without Klarna-Signing-Key-Id")
    if not _is_key_id(key_id):
        raise SignatureError(MALFORMED_HEADER, "Klarna-Signing-Key-Id is not a key id")
    sig = found[_KLARNA_SIGNATURE].strip(" \t")
    received = _hex_digest(sig, hashlib.sha256().digest_size, "Klarna-Signature")
    _check_hmac(body, received, _lookup_key(keys, key_id), hashlib.sha256)
    return VerifiedSignature(SCHEME_KLARNA_SIGNATURE, key_id, None)


def _lower_headers(headers):
    found = {}
    for name, value in headers.items():
        lower = name.lower()
        found[lower] = f"{found[lower]}, {value}" if lower in found else value
    return found


def _is_key_id(text):
    return len(text) <= _MAX_KEY_ID_LENGTH and _KEY_ID.fullmatch(text) is not None


def _lookup_key(keys, key_id):
    key = keys.get(key_id)
    if key is None:
        raise SignatureError(UNKNOWN_KEY, "the signing key id/version is not configured")
    return _key_bytes(key)


def _key_bytes(key):
    raw = key.encode() if isinstance(key, str) else key
    if not isinstance(raw, bytes) or not raw:
        # An empty key would let anyone sign; this is a configuration error, not a bad request.
        raise ValueError("a webhook signing key must be non-empty bytes or str")
    return raw


def _hex_digest(text, size, label):
    if len(text) != 2 * size or not all(c in "0123456789abcdefABCDEF" for c in text):
        raise SignatureError(MALFORMED_HEADER, f"{label} is not a {2 * size}-digit hex digest")
    return bytes.fromhex(text)


def _check_hmac(body, received, key, algorithm):
    if not hmac.compare_digest(hmac.new(key, body, algorithm).digest(), received):
        raise SignatureError(BAD_SIGNATURE, "the signature does not match the body")


def _check_fresh(ts_ms, now, max_age):
    current = time.time() if now is None else now
    age = current - ts_ms / 1000
    if age > max_age:
        raise SignatureError(STALE_TIMESTAMP, f"signature timestamp is {age:.0f} s old")
    if -age > max_age:
        raise SignatureError(FUTURE_TIMESTAMP, f"signature timestamp is {-age:.0f} s ahead")


# RFC 8941 dictionary parsing (section 4.2). Items are returned as Python values:
# int/float for Integer/Decimal, str for String and Token, bytes for Byte Sequence,
# bool for Boolean, list for Inner List; parameters are parsed and dropped.
# One deliberate leniency: Klarna writes ``sig`` as a bare hex run, which is a
# valid Token only when it starts with a letter. A bare item made of hex digits
# that starts with a digit and contains a letter is read as a Token, so the 10 in
# 16 genuine signatures that start with a digit are not rejected. The HMAC check
# that follows is unaffected.

_LCALPHA = "abcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"
_ALPHA = _LCALPHA + _LCALPHA.upper()
_KEY_FIRST = _LCALPHA + "*"
_KEY_REST = _LCALPHA + _DIGITS + "_-.*"
_TCHAR = _ALPHA + _DIGITS + "!#$%&'*+-.^_`|~"
_TOKEN_REST = _TCHAR + ":/"
_BASE64 = _ALPHA + _DIGITS + "+/="
_OWS = " \t"
_HEX_WITH_LETTER = re.compile(r"[0-9][0-9]*[a-fA-F][0-9a-fA-F]*")


def _parse_dictionary(text):
    if len(text) > _MAX_HEADER_LENGTH:
        raise ValueError("header too long")
    if not text.isascii():
        raise ValueError("header is not ASCII")
    pos = _skip(text, 0, " ")
    members = {}
    while pos < len(text):
        key, pos = _parse_key(text, pos)
        if pos < len(text) and text[pos] == "=":
            value, pos = _parse_item_or_inner_list(text, pos + 1)
        else:
            value = True
            pos = _parse_parameters(text, pos)
        members[key] = value  # RFC 8941: a repeated key overwrites the earlier value
        pos = _skip(text, pos, _OWS)
        if pos == len(text):
            return members
        if text[pos] != ",":
            raise ValueError("members must be separated by commas")
        pos = _skip(text, pos + 1, _OWS)
        if pos == len(text):
            raise ValueError("trailing comma")
    raise ValueError("empty dictionary")


def _skip(text, pos, chars):
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _parse_key(text, pos):
    if pos >= len(text) or text[pos] not in _KEY_FIRST:
        raise ValueError("a key must start with a lowercase letter or '*'")
    end = pos + 1
    while end < len(text) and text[end] in _KEY_REST:
        end += 1
    return text[pos:end], end


def _parse_item_or_inner_list(text, pos):
    if pos < len(text) and text[pos] == "(":
        return _parse_inner_list(text, pos + 1)
    value, pos = _parse_bare_item(text, pos)
    return value, _parse_parameters(text, pos)


def _parse_inner_list(text, pos):
    items = []
    while pos < len(text):
        pos = _skip(text, pos, " ")
        if pos < len(text) and text[pos] == ")":
            return items, _parse_parameters(text, pos + 1)
        item, pos = _parse_bare_item(text, pos)
        pos = _parse_parameters(text, pos)
        items.append(item)
        if pos < len(text) and text[pos] not in " )":
            raise ValueError("inner list items must be separated by spaces")
    raise ValueError("unterminated inner list")


def _parse_parameters(text, pos):
    while pos < len(text) and text[pos] == ";":
        pos = _skip(text, pos + 1, " ")
        _, pos = _parse_key(text, pos)
        if pos < len(text) and text[pos] == "=":
            _, pos = _parse_bare_item(text, pos + 1)
    return pos


def _parse_bare_item(text, pos):
    if pos >= len(text):
        raise ValueError("missing value")
    first = text[pos]
    if first in _DIGITS:
        lenient = _HEX_WITH_LETTER.match(text, pos)
        if lenient and (lenient.end() == len(text) or text[lenient.end()] not in _TOKEN_REST):
            return lenient.group(), lenient.end()
    if first == "-" or first in _DIGITS:
        return _parse_number(text, pos)
    if first == '"':
        return _parse_string(text, pos + 1)
    if first in _ALPHA or first == "*":
        end = _skip(text, pos + 1, _TOKEN_REST)
        return text[pos:end], end
    if first == ":":
        return _parse_byte_sequence(text, pos + 1)
    if first == "?":
        if text[pos + 1 : pos + 2] in ("0", "1"):
            return text[pos + 1] == "1", pos + 2
        raise ValueError("a boolean must be ?0 or ?1")
    raise ValueError("unrecognised value")


def _parse_number(text, pos):
    start = pos
    if text[pos] == "-":
        pos += 1
    digits_start = pos
    end = _skip(text, pos, _DIGITS)
    if end == digits_start:
        raise ValueError("a number needs digits")
    if end < len(text) and text[end] == ".":
        if end - digits_start > 12:
            raise ValueError("decimal too long")
        frac_end = _skip(text, end + 1, _DIGITS)
        if not 1 <= frac_end - end - 1 <= 3:
            raise ValueError("a decimal needs 1 to 3 fractional digits")
        return float(text[start:frac_end]), frac_end
    if end - digits_start > 15:
        raise ValueError("integer too long")
    return int(text[start:end]), end


def _parse_string(text, pos):
    chars = []
    while pos < len(text):
        char = text[pos]
        if char == "\\":
            if text[pos + 1 : pos + 2] not in ('"', "\\"):
                raise ValueError("bad escape in string")
            chars.append(text[pos + 1])
            pos += 2
        elif char == '"':
            return "".join(chars), pos + 1
        elif not " " <= char <= "~":
            raise ValueError("control character in string")
        else:
            chars.append(char)
            pos += 1
    raise ValueError("unterminated string")


def _parse_byte_sequence(text, pos):
    end = text.find(":", pos)
    if end < 0 or any(c not in _BASE64 for c in text[pos:end]):
        raise ValueError("bad byte sequence")
    try:
        return b64decode(text[pos:end], validate=True), end + 1
    except Base64Error:
        raise ValueError("bad byte sequence") from None
