"""Adversarial suites (issue 13): webhook storm, fuzz of every public route, kill -9 at
each step of the two-phase operations, and a secret scan over every log of the run.

``python tools/adversarial ODOO_BIN ODOO_CONF DATABASE --size ci|full`` runs them
(``make test`` at CI size, ``make chaos`` at full size) and prints one summary line
per suite.
"""
