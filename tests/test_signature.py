import hashlib
import hmac
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from klarna import signature
from klarna.signature import (
    SignatureError,
    VerifiedSignature,
    sign_klarna_signature,
    sign_payload_signature,
    verify,
)

BODY = (
    b'{"event_id":"a48e85ea-0c24-478f-9d8d-89a8a96d137a",'
    b'"event_type":"non_guaranteed_payment.updated"}'
)
KEY = "klarna-test-signing-key"
# Computed once with hmac/hashlib, independently of the module under test.
SHA512_SIG = (
    "9373ce2816264d0024de5fa296f5ff6379fb25b4d10b977546408474c4169e19"
    "ebebf716c9ce08d830c35af9c27d1d8869b7abfe3f4e70d3d7b7d6e1ab536dbb"
)
SHA256_SIG = "794746fc6fb9098c64009673ba8607a5ad85888d3485d01459568310abe16612"
TS_MS = 1_700_000_000_000
NOW = TS_MS / 1000
KEYS = {"1": KEY}


def payload_headers(sig=SHA512_SIG, ts=TS_MS, version="1"):
    return {"Payload-Signature": f"ts={ts},sig={sig},v={version}"}


def klarna_headers(sig=SHA256_SIG, key_id="1"):
    return {"Klarna-Signature": sig, "Klarna-Signing-Key-Id": key_id}


def reason(body, headers, keys=KEYS, **kwargs):
    with pytest.raises(SignatureError) as info:
        verify(body, headers, keys, now=kwargs.pop("now", NOW), **kwargs)
    return info.value.reason_code


def flip(body, index, mask=0x01):
    return body[:index] + bytes([body[index] ^ mask]) + body[index + 1 :]


# Known-answer vectors


def test_helpers_reproduce_independent_vectors():
    assert sign_payload_signature(BODY, KEY, 1, TS_MS) == f"ts={TS_MS},sig={SHA512_SIG},v=1"
    assert sign_klarna_signature(BODY, KEY) == SHA256_SIG


def test_payload_signature_vector_verifies():
    result = verify(BODY, payload_headers(), KEYS, now=NOW)
    assert result == VerifiedSignature(
        "payload-signature", "1", datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    )


def test_klarna_signature_vector_verifies():
    result = verify(BODY, klarna_headers(), KEYS, now=NOW)
    assert result == VerifiedSignature("klarna-signature", "1", None)


def test_klarna_signature_does_not_need_a_fresh_clock():
    assert verify(BODY, klarna_headers(), KEYS, now=0).key_id == "1"


def test_bytes_and_str_keys_are_equivalent():
    assert verify(BODY, payload_headers(), {"1": KEY.encode()}, now=NOW).key_id == "1"
    assert verify(BODY, klarna_headers(), {"1": KEY.encode()}, now=NOW).key_id == "1"


@pytest.mark.parametrize("headers", [payload_headers(), klarna_headers()])
def test_uppercase_hex_is_accepted(headers):
    upper = {name: value.replace(SHA512_SIG, SHA512_SIG.upper()) for name, value in headers.items()}
    upper = {name: value.replace(SHA256_SIG, SHA256_SIG.upper()) for name, value in upper.items()}
    assert upper != headers
    assert verify(BODY, upper, KEYS, now=NOW).key_id == "1"


def test_header_names_are_case_insensitive():
    headers = {"PAYLOAD-SIGNATURE": payload_headers()["Payload-Signature"]}
    assert verify(BODY, headers, KEYS, now=NOW).scheme == "payload-signature"
    headers = {"klarna-signature": SHA256_SIG, "KLARNA-SIGNING-KEY-ID": "1"}
    assert verify(BODY, headers, KEYS, now=NOW).scheme == "klarna-signature"


# Rejections


@pytest.mark.parametrize("headers", [payload_headers(), klarna_headers()])
def test_wrong_key_is_a_bad_signature(headers):
    assert reason(BODY, headers, {"1": "another-key"}) == "bad_signature"


def test_unknown_version_and_key_id():
    assert reason(BODY, payload_headers(version="2"), KEYS) == "unknown_key"
    assert reason(BODY, klarna_headers(key_id="kid-2"), KEYS) == "unknown_key"


@pytest.mark.parametrize("index", [0, len(BODY) // 2, len(BODY) - 1])
@pytest.mark.parametrize("headers", [payload_headers(), klarna_headers()])
def test_one_tampered_byte_is_a_bad_signature(headers, index):
    assert reason(flip(BODY, index), headers) == "bad_signature"


def test_appended_byte_is_a_bad_signature():
    assert reason(BODY + b" ", payload_headers()) == "bad_signature"
    assert reason(BODY + b" ", klarna_headers()) == "bad_signature"


def test_stale_and_future_timestamps():
    assert reason(BODY, payload_headers(), now=NOW + 301) == "stale_timestamp"
    assert reason(BODY, payload_headers(), now=NOW - 301) == "future_timestamp"


def test_window_edges_are_inclusive():
    assert verify(BODY, payload_headers(), KEYS, now=NOW + 300).key_id == "1"
    assert verify(BODY, payload_headers(), KEYS, now=NOW - 300).key_id == "1"


def test_window_is_configurable_and_can_be_disabled():
    assert reason(BODY, payload_headers(), now=NOW + 61, max_age=60) == "stale_timestamp"
    assert verify(BODY, payload_headers(), KEYS, now=NOW + 86400, max_age=None).key_id == "1"


def test_default_clock_is_the_real_clock():
    # TS_MS lies in 2023, so with the real clock the genuine body is stale.
    with pytest.raises(SignatureError) as info:
        verify(BODY, payload_headers(), KEYS)
    assert info.value.reason_code == "stale_timestamp"


def test_forged_body_with_stale_timestamp_reports_the_forgery():
    assert reason(flip(BODY, 3), payload_headers(), now=NOW + 10_000) == "bad_signature"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Content-Type": "application/json"}, {"Klarna-Signing-Key-Id": "1"}],
)
def test_missing_signature(headers):
    assert reason(BODY, headers) == "missing_signature"


@pytest.mark.parametrize(
    "headers",
    [
        {"Klarna-Signature": SHA256_SIG},
        {"Klarna-Signature": SHA256_SIG, "Klarna-Signing-Key-Id": "  "},
        {"Klarna-Signature": SHA256_SIG, "Klarna-Signing-Key-Id": "a b"},
        {"Klarna-Signature": SHA256_SIG, "Klarna-Signing-Key-Id": "k" * 129},
        klarna_headers(sig=SHA256_SIG[:-1]),
        klarna_headers(sig=SHA256_SIG + "0"),
        klarna_headers(sig=SHA512_SIG),
        klarna_headers(sig="g" + SHA256_SIG[1:]),
        klarna_headers(sig=""),
    ],
)
def test_malformed_klarna_signature_headers(headers):
    assert reason(BODY, headers) == "malformed_header"


@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        f"ts={TS_MS},sig={SHA512_SIG},v=1,",
        f"ts={TS_MS},,sig={SHA512_SIG},v=1",
        f"ts={TS_MS};sig={SHA512_SIG};v=1",
        f"ts={TS_MS} sig={SHA512_SIG} v=1",
        f"TS={TS_MS},sig={SHA512_SIG},v=1",
        f"ts={TS_MS},sig={SHA512_SIG}",
        f"sig={SHA512_SIG},v=1",
        f"ts={TS_MS},v=1",
        f"ts,sig={SHA512_SIG},v=1",
        f"ts=?1,sig={SHA512_SIG},v=1",
        f"ts=1700000000.5,sig={SHA512_SIG},v=1",
        f"ts=-1,sig={SHA512_SIG},v=1",
        f"ts=1234567890123456,sig={SHA512_SIG},v=1",
        f'ts="{TS_MS}",sig={SHA512_SIG},v=1',
        f"ts={TS_MS},sig={SHA512_SIG},v=?1",
        f"ts={TS_MS},sig={SHA512_SIG},v=-1",
        f"ts={TS_MS},sig={SHA512_SIG},v=(1 2)",
        f'ts={TS_MS},sig={SHA512_SIG},v="a b"',
        f"ts={TS_MS},sig=({SHA512_SIG}),v=1",
        f"ts={TS_MS},sig=:{SHA512_SIG}:,v=1",
        f"ts={TS_MS},sig={SHA512_SIG[:-2]},v=1",
        f"ts={TS_MS},sig={SHA256_SIG},v=1",
        f"ts={TS_MS},sig={SHA512_SIG[:-1]}g,v=1",
        f'ts={TS_MS},sig="{SHA512_SIG},v=1',
        f'ts={TS_MS},sig="{SHA512_SIG}\\n",v=1',
        f"ts={TS_MS},sig={SHA512_SIG},v=1,x=\u00e9",
        f"ts={TS_MS},sig={SHA512_SIG},v=1,x=@123",
        f"ts={TS_MS},sig={SHA512_SIG},v=1,x=(1 2",
        f"ts={TS_MS},sig={SHA512_SIG},v=1,x=:not base64!:",
        f"ts={TS_MS},sig={SHA512_SIG},v=1,x=?2",
        f"ts={TS_MS},sig={SHA512_SIG},v=1,x=1.2345",
        f"ts={TS_MS},sig={SHA512_SIG},v=1,x=-",
        f"ts={TS_MS},sig={SHA512_SIG},v=1,x=",
        f"ts={TS_MS},sig={SHA512_SIG},v=1;=2",
        f"ts={TS_MS},sig={SHA512_SIG},v=1,x={'1' * 4096}",
    ],
)
def test_malformed_payload_signature_headers(value):
    assert reason(BODY, {"Payload-Signature": value}) == "malformed_header"


def test_timestamp_beyond_datetime_range_is_malformed():
    value = f"ts=999999999999999,sig={SHA512_SIG},v=1"
    assert reason(BODY, {"Payload-Signature": value}, max_age=None) == "malformed_header"


# RFC 8941 dictionary details


@pytest.mark.parametrize(
    "value",
    [
        f"  ts={TS_MS} ,\tsig={SHA512_SIG} ,  v=1",
        f'ts={TS_MS},sig="{SHA512_SIG}",v=1',
        f'ts={TS_MS},sig={SHA512_SIG},v="1"',
        f"v=1,sig={SHA512_SIG},ts={TS_MS}",
        f"ts={TS_MS};unit=ms,sig={SHA512_SIG};alg=sha512;x,v=1;a=?0",
        f'alg=hmac-sha512,ts={TS_MS},n=-4.5,sig={SHA512_SIG},b=?1,v=1,l=(a "b" 1);p=1,e=:aGk=:,f',
        f'ts={TS_MS},sig={SHA512_SIG},v=1,note="a \\"quoted\\" \\\\ word",*x=*tok/en:1',
        f"ts={TS_MS},sig=0000,v=7,sig={SHA512_SIG},v=1",
        f"ts={TS_MS},sig={SHA512_SIG},v=1,empty=()",
    ],
)
def test_valid_dictionary_spellings_verify(value):
    assert verify(BODY, {"Payload-Signature": value}, KEYS, now=NOW).key_id == "1"


def test_duplicate_member_last_one_wins():
    value = f"ts={TS_MS},sig={SHA512_SIG},v=1,sig={'ab' * 64}"
    assert reason(BODY, {"Payload-Signature": value}) == "bad_signature"


def test_token_version_names_the_key():
    key = "rotated-key"
    header = sign_payload_signature(BODY, key, "k-2024", TS_MS)
    result = verify(BODY, {"Payload-Signature": header}, {"k-2024": key}, now=NOW)
    assert result.key_id == "k-2024"


def test_signature_starting_with_a_digit_is_read_as_a_token():
    # SHA512_SIG starts with "9": strict RFC 8941 would read a number and fail.
    assert SHA512_SIG[0].isdigit()
    assert verify(BODY, payload_headers(), KEYS, now=NOW).key_id == "1"


def test_signature_starting_with_a_letter_is_a_plain_token():
    body = next(b for b in (b"body-%d" % i for i in range(100)) if sig_starts_with_letter(b))
    header = sign_payload_signature(body, KEY, 1, TS_MS)
    assert verify(body, {"Payload-Signature": header}, KEYS, now=NOW).key_id == "1"


def sig_starts_with_letter(body):
    return hmac.new(KEY.encode(), body, hashlib.sha512).hexdigest()[0] in "abcdef"


def test_seed_example_header_parses():
    value = (
        "ts=1663750989096,sig=c4031d6fdc01e66542079b0608a3886788e1cb4e7c7201de4f1fbeedf4193491"
        "e2fffe2178a04387534bd168d902751e0546bf2ffb11628e9e5f1aa5cdfc8c3a,v=1"
    )
    # The seed does not publish its body or key: parsing succeeds, the HMAC cannot.
    assert reason(BODY, {"Payload-Signature": value}, now=1663750989.096) == "bad_signature"
    assert reason(BODY, {"Payload-Signature": value}, {"2": KEY}) == "unknown_key"


# Choosing between the schemes


def test_payload_signature_is_preferred_when_both_are_present():
    headers = {**payload_headers(), "Klarna-Signature": "deprecated", "Klarna-Signing-Key-Id": "x"}
    assert verify(BODY, headers, KEYS, now=NOW).scheme == "payload-signature"


def test_a_broken_payload_signature_does_not_fall_back():
    headers = {"Payload-Signature": "garbage!", **klarna_headers()}
    assert reason(BODY, headers) == "malformed_header"


class RepeatedHeaders:
    """Like werkzeug's Headers: items() may yield a name more than once."""

    def __init__(self, pairs):
        self.pairs = pairs

    def items(self):
        return iter(self.pairs)


def test_repeated_header_lines_are_combined_like_http():
    ts, sig = f"ts={TS_MS}", f"sig={SHA512_SIG},v=1"
    headers = RepeatedHeaders([("Payload-Signature", ts), ("payload-signature", sig)])
    assert verify(BODY, headers, KEYS, now=NOW).key_id == "1"
    doubled = RepeatedHeaders(
        [("Klarna-Signature", SHA256_SIG)] * 2 + [("Klarna-Signing-Key-Id", "1")]
    )
    assert reason(BODY, doubled) == "malformed_header"


# Rotation


def test_two_active_keys_during_rotation():
    keys = {"1": "old-key", "2": "new-key"}
    for version, key in keys.items():
        header = sign_payload_signature(BODY, key, version, TS_MS)
        assert verify(BODY, {"Payload-Signature": header}, keys, now=NOW).key_id == version
        sig = sign_klarna_signature(BODY, key)
        assert verify(BODY, klarna_headers(sig, version), keys, now=NOW).key_id == version
    crossed = sign_payload_signature(BODY, "old-key", "2", TS_MS)
    assert reason(BODY, {"Payload-Signature": crossed}, keys) == "bad_signature"


# Hygiene


def test_messages_never_carry_key_body_or_signature():
    secret_key = "super-secret-signing-key"
    cases = [
        (BODY, payload_headers(), {"1": secret_key}),
        (BODY, klarna_headers(), {"1": secret_key}),
        (BODY, payload_headers(version="9"), {"1": secret_key}),
        (BODY, {"Payload-Signature": f"ts={TS_MS},sig={SHA512_SIG[:-2]},v=1"}, KEYS),
    ]
    for body, headers, keys in cases:
        with pytest.raises(SignatureError) as info:
            verify(body, headers, keys, now=NOW)
        text = str(info.value)
        assert info.value.reason_code in signature.REASON_CODES
        for secret in (secret_key, SHA512_SIG, SHA256_SIG, SHA512_SIG[:16], "event_id"):
            assert secret not in text


@pytest.mark.parametrize("empty", ["", b""])
def test_empty_key_is_a_configuration_error(empty):
    with pytest.raises(ValueError, match="non-empty"):
        verify(BODY, payload_headers(), {"1": empty}, now=NOW)


def test_body_must_be_bytes():
    with pytest.raises(TypeError):
        verify(BODY.decode(), payload_headers(), KEYS, now=NOW)


# Properties

bodies = st.binary(min_size=1, max_size=512)
keys = st.one_of(st.binary(min_size=1, max_size=64), st.text(min_size=1, max_size=32))
versions = st.one_of(
    st.integers(min_value=0, max_value=10**9).map(str),
    st.from_regex(r"[a-z][a-z0-9_-]{0,20}", fullmatch=True),
)


@given(body=bodies, key=keys, version=versions, ts=st.integers(0, 10**13))
def test_any_signed_body_verifies(body, key, version, ts):
    header = sign_payload_signature(body, key, version, ts)
    result = verify(body, {"Payload-Signature": header}, {version: key}, now=ts / 1000)
    assert (result.scheme, result.key_id) == ("payload-signature", version)
    headers = {
        "Klarna-Signature": sign_klarna_signature(body, key),
        "Klarna-Signing-Key-Id": version,
    }
    assert verify(body, headers, {version: key}).key_id == version


@given(body=bodies, key=keys, data=st.data())
def test_any_one_byte_flip_fails(body, key, data):
    index = data.draw(st.integers(0, len(body) - 1))
    mask = data.draw(st.integers(1, 255))
    tampered = flip(body, index, mask)
    header = sign_payload_signature(body, key, 1, TS_MS)
    assert reason(tampered, {"Payload-Signature": header}, {"1": key}) == "bad_signature"
    sig = sign_klarna_signature(body, key)
    assert reason(tampered, klarna_headers(sig), {"1": key}) == "bad_signature"


@given(value=st.text(max_size=300))
def test_arbitrary_header_text_only_ever_raises_signature_error(value):
    with pytest.raises(SignatureError) as info:
        verify(BODY, {"Payload-Signature": value}, KEYS, now=NOW)
    assert info.value.reason_code in {"malformed_header", "unknown_key", "bad_signature"}


def test_verification_uses_constant_time_comparison(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signature.hmac, "compare_digest", spy)
    verify(BODY, payload_headers(), KEYS, now=NOW)
    verify(BODY, klarna_headers(), KEYS, now=NOW)
    expected = [
        hmac.new(KEY.encode(), BODY, hashlib.sha512).digest(),
        hmac.new(KEY.encode(), BODY, hashlib.sha256).digest(),
    ]
    assert [a for a, _ in calls] == expected
