"""How long the simulator itself took to answer Klarna's API, for the benchmarks.

A bench times the merchant's server around calls to this simulator; the time spent in
here is not the merchant's, and a real Klarna takes its own. ``GET /_sim/timing`` gives
the totals so a bench can subtract them: requests counted and seconds spent, from the
request's headers parsed to its answer written (body read, faults, validation, reply).
Control calls (``/_sim/``) are not counted. ``/_sim/reset`` starts from zero.
"""

import threading


class Timing:
    """Running totals of the simulator's own handling time (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.requests = 0
        self.seconds = 0.0

    def add(self, seconds):
        with self._lock:
            self.requests += 1
            self.seconds += seconds

    def snapshot(self):
        with self._lock:
            return {"requests": self.requests, "seconds": self.seconds}

    def reset(self):
        with self._lock:
            self.requests = 0
            self.seconds = 0.0
