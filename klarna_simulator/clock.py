"""Simulated wall-clock time, so tests can expire sessions and orders without waiting."""

import threading
from datetime import datetime, timedelta, timezone


class Clock:
    """Real UTC time plus an offset that only ever grows (``advance``)."""

    def __init__(self):
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self):
        with self._lock:
            return datetime.now(timezone.utc) + self._offset

    def advance(self, seconds):
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
            raise ValueError("advance takes a non-negative number of seconds")
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    def reset(self):
        with self._lock:
            self._offset = timedelta()


def iso(moment):
    """Klarna's timestamp format: ISO 8601 UTC with milliseconds and a ``Z``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )
