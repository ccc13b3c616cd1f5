"""Make the pure ``klarna`` package and the simulator importable without Odoo.

``payment_klarna/__init__.py`` imports Odoo, so the pure suite imports the inner
package as a top-level ``klarna`` instead of ``payment_klarna.klarna``.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (ROOT, os.path.join(ROOT, "payment_klarna")):
    if path not in sys.path:
        sys.path.insert(0, path)
