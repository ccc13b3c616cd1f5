"""Make the pure ``klarna`` package and the simulator importable without Odoo; the shared ``sim``.

``payment_klarna/__init__.py`` imports Odoo, so the pure suite imports the inner
package as a top-level ``klarna`` instead of ``payment_klarna.klarna``.
"""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (ROOT, os.path.join(ROOT, "payment_klarna")):
    if path not in sys.path:
        sys.path.insert(0, path)

from klarna_simulator import Simulator  # noqa: E402 - importable once the path is set


@pytest.fixture
def sim():
    """A simulator on a free port, for ``AUTH = ("sim_user", "sim_pass")``, retrying at once."""
    with Simulator("sim_user", "sim_pass", port=0, retry_delay=0.01) as simulator:
        yield simulator
