"""Stop calling Klarna after repeated 401s, before Klarna locks the credentials.

Klarna locks an API account after a handful of failed logins within ten
minutes (the integration guide says five), and unlocking takes a call to
Klarna support. A wrong password typed into the provider form would otherwise
burn through that allowance on the next checkouts and crons. So after
``threshold`` consecutive 401s within ``window`` seconds for the same
``(API URL, username)``, the client refuses to send anything for that account
and raises :class:`~klarna.errors.KlarnaAuthError` with ``locked_out=True``,
until the password changes or the oldest failure leaves the window. Any
successful call clears the count.

Why per process is enough, and where it is not: the state lives in this
process's memory (guarded by a lock for threaded servers). Odoo's prefork
server runs several worker processes, each with its own guard, so with ``W``
workers the worst case is ``W x threshold`` failing calls before every worker
stops (plus cron workers). Workers that idle do not fail at all, and in
practice a bad password is noticed by the admin's first test call, but the
bound is ``W x threshold``, not ``threshold``. Lower ``threshold`` (config
``lockout_threshold``) on deployments with many workers. A deployment that
needs a hard global bound can pass its own guard to the client: any object
with :meth:`LockoutGuard.check`, :meth:`LockoutGuard.record_failure` and
:meth:`LockoutGuard.record_success` works, e.g. one backed by a shared cache.

The password itself is never stored: only an HMAC of it under a key drawn at
process start, enough to notice that it changed.
"""

import hashlib
import hmac
import secrets
import threading
import time

_FINGERPRINT_KEY = secrets.token_bytes(32)


def credential_fingerprint(password):
    """Opaque, process-local stand-in for a password, for change detection only."""
    return hmac.new(_FINGERPRINT_KEY, password.encode("utf-8"), hashlib.sha256).hexdigest()


class LockoutGuard:
    """Thread-safe count of consecutive authentication failures per account."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        # account -> (fingerprint, [monotonic times of consecutive failures])
        self._failures = {}

    def _recent(self, account, fingerprint, window, now):
        """Failures still counting; caller holds the lock."""
        entry = self._failures.get(account)
        if entry is None or entry[0] != fingerprint:
            self._failures.pop(account, None)
            return []
        times = [t for t in entry[1] if now - t < window]
        if times:
            self._failures[account] = (fingerprint, times)
        else:
            del self._failures[account]
        return times

    def check(self, account, fingerprint, threshold, window):
        """True when calls for ``account`` with this password must be refused."""
        with self._lock:
            return len(self._recent(account, fingerprint, window, self._clock())) >= threshold

    def record_failure(self, account, fingerprint, threshold, window):
        """Count a 401; True when this failure locks the account out."""
        with self._lock:
            now = self._clock()
            times = self._recent(account, fingerprint, window, now)
            times.append(now)
            self._failures[account] = (fingerprint, times)
            return len(times) >= threshold

    def record_success(self, account):
        with self._lock:
            self._failures.pop(account, None)


PROCESS_GUARD = LockoutGuard()
"""Shared by every client in this process unless one is given another guard."""
