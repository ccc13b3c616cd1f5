"""Who signed a webhook, and how senders of unverified requests are held back (pure).

Decisions:

* The signature is checked first. A body that an active key of a usable Klarna
  provider verifies is Klarna's, whoever relays it: no allow-list, limiter or
  counter ever refuses it, and nothing here costs it a query. Behind a proxy
  every sender shares one address, so anything address-based in front of the
  signature would let one junk sender silence Klarna.
* The allow-list and the failure limiter apply only to what is not verified:
  failed verifications and unsigned legacy fraud notifications (the only
  unverified requests that make Odoo read the database). Behind an untrusted
  proxy a junk sender can thus delay Klarna's unsigned fraud hints, which are
  only hints: the reconciliation job re-reads every open order anyway.
* Failures are counted per sender network: an IPv4 address, or the /64 of an
  IPv6 address (a host usually holds a whole /64, so fresh addresses cost it
  nothing and must not each count, or alert, anew).
* The counters live in each worker's memory, like Odoo's login cooldown: no
  query. They hold at most :data:`MAX_TRACKED` networks, the one that failed
  longest ago forgotten first. With N workers a network gets at most
  N x :data:`FAILURE_LIMIT` refusals per window before the 429s start.
* Reaching the limit asks the Odoo layer to alert the administrators. It alerts
  at most once per window per provider across workers (a durable marker, written
  on this failure path only), since every worker would otherwise alert on its own.
"""

import ipaddress
import logging
import threading
from collections import OrderedDict, deque
from functools import lru_cache
from typing import NamedTuple

from . import signature

_logger = logging.getLogger(__name__)

# The allow-list keyword standing for Klarna's published webhook addresses (EU) of the
# environments in use: production for enabled providers, playground for test ones.
KLARNA_ADDRESSES_KEYWORD = "klarna"
KLARNA_WEBHOOK_ADDRESSES = {
    "enabled": ("52.18.109.75", "63.32.138.153", "63.32.201.200"),
    "test": ("63.33.163.93", "63.34.140.6", "63.34.72.238"),
}

FAILURE_LIMIT = 10  # refusals from one network within the window before it gets 429
FAILURE_WINDOW = 600  # seconds
MAX_TRACKED = 4096  # networks a worker remembers
IPV6_PREFIX = 64

# The reason codes of the webhook's own refusals of what was not verified.
UNKNOWN_ORDER = "unknown_order"  # an unsigned fraud notification for no order of ours
NOT_ALLOWED = "address_not_allowed"
RATE_LIMITED = "rate_limited"


class VerificationFailed(signature.SignatureError):
    """No key verified the body; ``provider_id`` is the provider whose key the header
    named (a wrong signature, a stale timestamp), None when no key applies."""

    def __init__(self, error, provider_id):
        super().__init__(error.reason_code, str(error))
        self.provider_id = provider_id


def verify(body, headers, key_sets, *, now, max_age):
    """Find the provider whose key verifies ``body``: ``(provider id, VerifiedSignature)``.

    ``key_sets`` is ``[(provider id, {key id: secret}), ...]``, enabled providers first.
    Providers may reuse a key id (version 1 in test and production), so a key id alone
    does not choose the provider: each provider's keys are tried. A stale or malformed
    header fails at once, as those verdicts do not depend on the key.

    :raise VerificationFailed: when no provider's key verifies the body.
    """
    best, best_provider = None, None
    for provider_id, keys in key_sets or [(None, {})]:
        try:
            verified = signature.verify(body, headers, keys, now=now, max_age=max_age or None)
        except signature.SignatureError as error:
            if error.reason_code == signature.UNKNOWN_KEY:
                best = best or error
                continue
            if error.reason_code == signature.BAD_SIGNATURE:
                if best_provider is None:
                    best, best_provider = error, provider_id
                continue
            if error.reason_code in (signature.STALE_TIMESTAMP, signature.FUTURE_TIMESTAMP):
                raise VerificationFailed(error, provider_id) from None
            raise VerificationFailed(error, None) from None
        return provider_id, verified
    raise VerificationFailed(best, best_provider)


@lru_cache(maxsize=32)
def networks(setting):
    """Parse a comma list of addresses/networks; a bad entry is skipped with a warning."""
    parsed = []
    for item in (setting or "").split(","):
        item = item.strip()
        if not item or item == KLARNA_ADDRESSES_KEYWORD:
            continue
        try:
            parsed.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            _logger.warning("Klarna webhook: ignoring the invalid address setting %r", item)
    return tuple(parsed)


def is_in(address, parsed_networks):
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in parsed_networks)


def is_allowed(address, setting, states):
    """Whether ``address`` is in the allow-list ``setting``; the ``klarna`` keyword allows
    Klarna's published addresses of the provider ``states`` in use."""
    if is_in(address, networks(setting)):
        return True
    if KLARNA_ADDRESSES_KEYWORD in {item.strip() for item in setting.split(",")}:
        return any(address in KLARNA_WEBHOOK_ADDRESSES.get(state, ()) for state in states)
    return False


def client_address(peer, forwarded_for, trusted_setting):
    """The sender's address: the socket ``peer``, or, when the peer is a trusted proxy,
    the nearest ``X-Forwarded-For`` hop that is not itself a trusted proxy."""
    trusted = networks(trusted_setting)
    if not trusted or not is_in(peer, trusted):
        return peer
    hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_in(hop, trusted):
            return hop
    return hops[0] if hops else peer


def sender_network(address):
    """What failures are counted by: the IPv4 address, or the /64 of an IPv6 one."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return str(address)[:64]  # not an address: count it as it came
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))


class FailureTracker:
    """Refusals per sender network in a sliding window, in this worker's memory.

    ``record`` says when a network has just reached the limit (alert once). At most
    ``max_tracked`` networks are kept; the one that failed longest ago goes first.
    """

    def __init__(self, limit=FAILURE_LIMIT, window=FAILURE_WINDOW, max_tracked=MAX_TRACKED):
        self.limit = limit
        self.window = window
        self.max_tracked = max_tracked
        self._failures = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self):
        return len(self._failures)

    def is_blocked(self, network, now):
        with self._lock:
            return len(self._recent(network, now)) >= self.limit

    def record(self, network, now):
        with self._lock:
            recent = self._recent(network, now)
            recent.append(now)
            self._failures[network] = recent
            self._failures.move_to_end(network)
            while len(self._failures) > self.max_tracked:
                self._failures.popitem(last=False)
            return len(recent) == self.limit

    def _recent(self, network, now):
        recent = self._failures.get(network, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        if not recent:
            self._failures.pop(network, None)
        return recent


class Refusal(NamedTuple):
    """How to answer an unverified request: ``status`` with ``reason``; ``alert`` when its
    network has just reached the failure limit (the administrators are told, once)."""

    status: int
    reason: str
    network: str
    alert: bool = False


def screen(tracker, address, reason, *, allowed, states, now):
    """Screen an unverified request from ``address``; refusals count against its network.

    A rate-limited network gets 429 (not counted again), an address outside the
    allow-list 403, anything else refused 400 with ``reason``.

    :param FailureTracker tracker: this worker's failure counters
    :param str address: the sender (:func:`client_address`)
    :param str reason: why the request is refused; None for a request that only the
        address rules may refuse (an unsigned legacy notification)
    :param str allowed: the allow-list setting, empty for none
    :param states: the states of the usable Klarna providers (the ``klarna`` keyword)
    :param float now: the current time, in seconds
    :return: the :class:`Refusal`, or None to let the request go on
    """
    network = sender_network(address)
    if tracker.is_blocked(network, now):
        return Refusal(429, RATE_LIMITED, network)
    status = 400
    if allowed and not is_allowed(address, allowed, states):
        reason, status = NOT_ALLOWED, 403
    elif reason is None:
        return None
    return Refusal(status, reason, network, alert=tracker.record(network, now))
