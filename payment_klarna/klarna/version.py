"""Module version sent in the ``User-Agent``.

Kept here rather than read from ``__manifest__.py`` so the pure package never
parses Odoo files; ``tests/test_packaging.py`` holds the two equal. Like the
manifest's, it has no Odoo series: the ``User-Agent`` names the running one.
"""

MODULE_VERSION = "1.0.0"
