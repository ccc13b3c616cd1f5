"""Module version sent in the ``User-Agent``.

Kept here rather than read from ``__manifest__.py`` so the pure package never
parses Odoo files; the manifest owner keeps the two in sync.
"""

MODULE_VERSION = "18.0.1.0.0"
