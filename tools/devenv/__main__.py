"""``python3 -m tools.devenv <command>``, run from the repository (the Makefile does)."""

import contextlib
import signal
import sys
import time

from .cli import main

if __name__ == "__main__":
    with contextlib.suppress(AttributeError):
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    time.tzset()
    sys.exit(main())
