import hashlib
import hmac

import pytest

from klarna import signature, webhook_guard
from klarna.webhook_guard import (
    FailureTracker,
    Refusal,
    VerificationFailed,
    client_address,
    is_allowed,
    screen,
    sender_network,
    verify,
)

BODY = b'{"event_id": "a48e85ea-0c24-478f-9d8d-89a8a96d137a", "event_type": "x.y"}'
NOW = 1_700_000_000


def payload_signature(key, version="1", ts_ms=NOW * 1000, body=BODY):
    sig = hmac.new(key.encode(), body, hashlib.sha512).hexdigest()
    return {"Payload-Signature": f"ts={ts_ms},sig={sig},v={version}"}


# === Provider selection === #

LIVE, PLAYGROUND = 1, 2
KEY_SETS = [(LIVE, {"1": "live-key"}), (PLAYGROUND, {"1": "playground-key", "2": "rotated"})]


@pytest.mark.parametrize(
    ("key", "version", "provider"),
    [("live-key", "1", LIVE), ("playground-key", "1", PLAYGROUND), ("rotated", "2", PLAYGROUND)],
)
def test_the_provider_is_the_one_whose_key_verifies(key, version, provider):
    """Both providers have a key version 1: the key id alone does not choose."""
    provider_id, verified = verify(
        BODY, payload_signature(key, version), KEY_SETS, now=NOW, max_age=300
    )
    assert (provider_id, verified.key_id) == (provider, version)


@pytest.mark.parametrize(
    ("headers", "reason", "provider"),
    [
        (payload_signature("forged"), signature.BAD_SIGNATURE, LIVE),
        (payload_signature("forged", "2"), signature.BAD_SIGNATURE, PLAYGROUND),
        (payload_signature("forged", "9"), signature.UNKNOWN_KEY, None),
        (payload_signature("live-key", ts_ms=(NOW - 900) * 1000), signature.STALE_TIMESTAMP, LIVE),
        ({"Payload-Signature": "ts=1,sig=zz,v=1"}, signature.MALFORMED_HEADER, None),
        ({}, signature.MISSING_SIGNATURE, None),
    ],
)
def test_failures_name_the_provider_whose_key_the_header_named(headers, reason, provider):
    with pytest.raises(VerificationFailed) as info:
        verify(BODY, headers, KEY_SETS, now=NOW, max_age=300)
    assert (info.value.reason_code, info.value.provider_id) == (reason, provider)


def test_no_provider_no_key():
    with pytest.raises(VerificationFailed) as info:
        verify(BODY, payload_signature("live-key"), [], now=NOW, max_age=300)
    assert info.value.reason_code == signature.UNKNOWN_KEY


def test_a_zero_window_turns_the_timestamp_check_off():
    old = payload_signature("live-key", ts_ms=1000)
    assert verify(BODY, old, KEY_SETS, now=NOW, max_age=0)[0] == LIVE


# === Addresses === #


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("not an address", "not an address"),
        ("", ""),
    ],
)
def test_failures_are_counted_per_ipv4_address_or_ipv6_64(address, network):
    assert sender_network(address) == network


def test_sender_network_of_a_long_junk_value_is_bounded():
    assert len(sender_network("x" * 10_000)) == 64


@pytest.mark.parametrize(
    ("address", "setting", "states", "allowed"),
    [
        ("10.1.2.3", "10.0.0.0/8", {"enabled"}, True),
        ("11.1.2.3", "10.0.0.0/8", {"enabled"}, False),
        ("52.18.109.75", "klarna", {"enabled"}, True),
        ("52.18.109.75", "klarna", {"test"}, False),
        ("63.33.163.93", " klarna ,10.0.0.0/8", {"test"}, True),
        ("10.1.2.3", "bogus, 10.1.2.3", {"test"}, True),
        ("junk", "10.0.0.0/8", {"test"}, False),
    ],
)
def test_allow_list(address, setting, states, allowed):
    assert is_allowed(address, setting, states) is allowed


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "trusted", "address"),
    [
        ("127.0.0.1", "63.33.163.93", "", "127.0.0.1"),
        ("198.51.100.1", "63.33.163.93", "127.0.0.0/8", "198.51.100.1"),
        ("127.0.0.1", "63.33.163.93", "127.0.0.0/8", "63.33.163.93"),
        ("127.0.0.1", "63.33.163.93, 198.51.100.7", "127.0.0.0/8", "198.51.100.7"),
        ("127.0.0.1", "63.33.163.93, 127.0.0.2", "127.0.0.0/8", "63.33.163.93"),
        ("127.0.0.1", "127.0.0.3, 127.0.0.2", "127.0.0.0/8", "127.0.0.3"),
        ("127.0.0.1", "", "127.0.0.0/8", "127.0.0.1"),
        ("127.0.0.1", " , ,", "127.0.0.0/8", "127.0.0.1"),
    ],
)
def test_forwarded_for_is_believed_from_trusted_proxies_only(peer, forwarded_for, trusted, address):
    assert client_address(peer, forwarded_for, trusted) == address


# === Failure limiter === #


def test_the_limit_is_reached_once_then_blocks_until_the_window_passes():
    tracker = FailureTracker(limit=3, window=60)
    assert [tracker.record("a", NOW + i) for i in range(4)] == [False, False, True, False]
    assert tracker.is_blocked("a", NOW + 10)
    assert not tracker.is_blocked("b", NOW + 10)
    assert not tracker.is_blocked("a", NOW + 70)


def test_new_ipv6_addresses_of_one_64_share_one_count():
    tracker = FailureTracker(limit=3, window=60)
    reached = [
        tracker.record(sender_network(f"2001:db8::{index:x}"), NOW) for index in range(1, 10)
    ]
    assert reached.count(True) == 1
    assert len(tracker) == 1


def test_memory_is_bounded_and_the_longest_quiet_network_goes_first():
    tracker = FailureTracker(limit=2, window=60, max_tracked=100)
    tracker.record("first", NOW)
    for index in range(1_000):
        tracker.record(f"net-{index}", NOW)
    assert len(tracker) == 100
    tracker.record("first", NOW)  # forgotten: it counts from one again
    assert not tracker.is_blocked("first", NOW)
    tracker.record("net-999", NOW)  # remembered: its second failure blocks it
    assert tracker.is_blocked("net-999", NOW)


def test_defaults():
    tracker = FailureTracker()
    assert (tracker.limit, tracker.window, tracker.max_tracked) == (
        webhook_guard.FAILURE_LIMIT,
        webhook_guard.FAILURE_WINDOW,
        webhook_guard.MAX_TRACKED,
    )


# === Screening of unverified requests === #


def _screen(tracker, reason, address="198.51.100.7", allowed="", states=("test",), now=NOW):
    return screen(tracker, address, reason, allowed=allowed, states=set(states), now=now)


def test_a_refusal_is_400_with_its_reason_and_counted():
    tracker = FailureTracker(limit=3, window=60)
    assert _screen(tracker, "bad_signature") == Refusal(400, "bad_signature", "198.51.100.7")
    assert len(tracker) == 1


def test_without_a_reason_an_admitted_request_goes_on_uncounted():
    tracker = FailureTracker(limit=3, window=60)
    assert _screen(tracker, None) is None
    assert _screen(tracker, None, allowed="198.51.100.0/24") is None
    assert len(tracker) == 0


def test_outside_the_allow_list_is_403_whatever_the_reason():
    tracker = FailureTracker(limit=3, window=60)
    for reason in (None, "bad_signature"):
        refusal = _screen(tracker, reason, allowed="192.0.2.0/24")
        assert (refusal.status, refusal.reason) == (403, webhook_guard.NOT_ALLOWED)
    # The keyword admits Klarna's published addresses of the providers' states only.
    test_address = webhook_guard.KLARNA_WEBHOOK_ADDRESSES["test"][0]
    assert _screen(tracker, None, address=test_address, allowed="klarna") is None
    refused = _screen(tracker, None, address=test_address, allowed="klarna", states=("enabled",))
    assert refused.status == 403


def test_the_limit_alerts_once_then_rate_limits_without_counting():
    tracker = FailureTracker(limit=3, window=60)
    refusals = [_screen(tracker, "bad_signature", now=NOW + i) for i in range(5)]
    assert [(r.status, r.alert) for r in refusals] == [
        (400, False),
        (400, False),
        (400, True),
        (429, False),
        (429, False),
    ]
    assert refusals[-1].reason == webhook_guard.RATE_LIMITED
    assert _screen(tracker, None, now=NOW + 10).status == 429  # even an unsigned request
    assert _screen(tracker, "bad_signature", now=NOW + 70).status == 400  # window passed


def test_ipv6_refusals_are_counted_per_64():
    tracker = FailureTracker(limit=2, window=60)
    first = _screen(tracker, "bad_signature", address="2001:db8::1")
    second = _screen(tracker, "bad_signature", address="2001:db8::2")
    assert first.network == second.network == "2001:db8::/64"
    assert second.alert
    assert _screen(tracker, "bad_signature", address="2001:db8::3").status == 429
