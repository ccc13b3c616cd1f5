"""Builds the wheel ``odoo-addon-payment_klarna_website`` with the repository's ``setup.py``."""

import runpy
from pathlib import Path

HERE = Path(__file__).resolve().parent
runpy.run_path(str(HERE.parent.parent / "setup.py"))["setup_addon"]("payment_klarna_website", HERE)
