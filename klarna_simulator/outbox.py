"""Outbound calls to the merchant, always from a background thread.

The request that triggers a callback or webhook gets its answer first: Odoo's
test server shares one database cursor with the test, so a synchronous call
back into it would deadlock. One worker sends in order, retrying non-2xx
answers ``max_attempts`` times with delays ``retry_delay * 2**n``, and records
every attempt in ``state.deliveries``.
"""

import heapq
import itertools
import json
import threading
import time
import urllib.error
import urllib.request

from .clock import iso
from .state import Delivery

USER_AGENT = "klarna-simulator"


class _Job:
    def __init__(self, kind, url, body, raw, headers):
        self.kind = kind
        self.url = url
        self.body = body
        self.raw = raw
        self.headers = headers
        self.attempt = 1


class Outbox:
    def __init__(self, state, faults, config, clock):
        self._state = state
        self._faults = faults
        self._config = config
        self._clock = clock
        self._queue = []
        self._held = {}
        self._busy = False
        self._stopping = False
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread = None

    def start(self):
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="klarna-sim-outbox", daemon=True)
        self._thread.start()

    def stop(self):
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread:
            self._thread.join(timeout=10)

    def clear(self):
        with self._cond:
            self._queue.clear()
            self._held.clear()
            self._cond.notify_all()

    def send(self, kind, url, body, signer=None):
        """Queue ``body`` (a dict) for ``url``; ``signer(raw)`` returns signature headers.

        The body is serialised and signed once, so retries and duplicates carry the
        same bytes and signature.
        """
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **(signer(raw) if signer else {})}
        job = _Job(kind, url, body, raw, headers)
        fired = {rule.kind for rule in self._faults.take_for_delivery(kind)}
        if "lose" in fired:
            self._record(job, error="lost")
            return
        with self._cond:
            held = self._held.pop(kind, None)
            if "reorder" in fired:
                self._held[kind] = (time.monotonic() + self._config.reorder_hold, job)
            else:
                self._push(job, 0)
                if "duplicate" in fired:
                    self._push(_Job(kind, url, body, raw, job.headers), 0)
            if held:
                self._push(held[1], 0)
            self._cond.notify_all()

    def wait_idle(self, timeout=10.0):
        """Block until nothing is queued, held or in flight; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._held or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def _push(self, job, delay):
        heapq.heappush(self._queue, (time.monotonic() + delay, next(self._seq), job))

    def _next_job(self):
        """Wait for the next due job (or stop); called with the condition held."""
        while not self._stopping:
            now = time.monotonic()
            for kind, (deadline, job) in list(self._held.items()):
                if deadline <= now:
                    del self._held[kind]
                    self._push(job, 0)
            if self._queue and self._queue[0][0] <= now:
                return heapq.heappop(self._queue)[2]
            waits = [due for due, _, _ in self._queue[:1]] + [d for d, _ in self._held.values()]
            self._cond.wait(max(0.0, min(waits) - now) if waits else None)
        return None

    def _run(self):
        while True:
            with self._cond:
                job = self._next_job()
                if job is None:
                    return
                self._busy = True
            status, error = self._post(job)
            self._record(job, status=status, error=error)
            with self._cond:
                if not (status and 200 <= status < 300) and job.attempt < self._config.max_attempts:
                    delay = self._config.retry_delay * 2 ** (job.attempt - 1)
                    job.attempt += 1
                    self._push(job, delay)
                self._busy = False
                self._cond.notify_all()

    def _post(self, job):
        request = urllib.request.Request(  # noqa: S310 - merchant URLs are checked http(s)
            job.url,
            data=job.raw,
            method="POST",
            headers={**job.headers, "User-Agent": USER_AGENT},
        )
        try:
            with urllib.request.urlopen(  # noqa: S310 - merchant URLs are checked http(s)
                request, timeout=self._config.delivery_timeout
            ) as answer:
                return answer.status, None
        except urllib.error.HTTPError as error:
            return error.code, None
        except (OSError, ValueError) as error:
            return None, f"{type(error).__name__}: {error}"

    def _record(self, job, *, status=None, error=None):
        self._state.record(
            Delivery(
                kind=job.kind,
                url=job.url,
                body=job.body,
                headers=dict(job.headers),
                attempt=job.attempt,
                at=iso(self._clock.now()),
                status=status,
                error=error,
            )
        )
