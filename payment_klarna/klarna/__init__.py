"""Plain-Python Klarna layer: HTTP client, wire-format mapping, signatures, status tables.

Nothing in this package imports Odoo or the addon's other folders, so it can be
unit-tested on its own (top-level ``tests/``) and reused by any Odoo version.
"""
