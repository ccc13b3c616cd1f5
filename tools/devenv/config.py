"""The repository's layout, its CI declaration ``.odoo-ci.yml``, and what every module shares."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADDON = "payment_klarna"
# The bridges: capture on delivery, and the storefront (On-Site Messaging, Express Checkout);
# installed through .odoo-ci.yml, each packaged as its own wheel (setup/<addon>/).
BRIDGES = ("payment_klarna_stock", "payment_klarna_website")
ADDONS = (ADDON, *BRIDGES)
BENCH_ADDON = "bench/addons/klarna_bench_floor"  # the webhook bench's durable floor; linted only
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "payment-klarna"


class SetupError(RuntimeError):
    """Something the environment lacks, with what to do about it."""


def say(message):
    """Progress on stderr, so ``env``'s JSON on stdout stays parseable."""
    print(f"[devenv] {message}", file=sys.stderr, flush=True)


def run(cmd, check=True, **kwargs):
    return subprocess.run(cmd, check=check, **kwargs)


def read_ci_config(path=ROOT / ".odoo-ci.yml"):
    """Parse the flat YAML subset ``.odoo-ci.yml`` uses: scalars and lists of scalars.

    The file is read before any virtual environment exists, so no YAML library
    can be assumed; anything outside the subset is refused, not guessed.
    ``odoo_series`` comes back as a list (a scalar is a list of one): the first series is
    the default one, of ``make demo`` and of the checks run on one series only.
    """
    config, key = {}, None
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        item = re.fullmatch(r"\s+-\s+(.+)", line)
        pair = re.fullmatch(r"([A-Za-z_][\w-]*):\s*(.*)", line)
        if item and isinstance(config.get(key), list):
            config[key].append(_scalar(item.group(1)))
        elif pair:
            key, value = pair.group(1), pair.group(2)
            config[key] = _scalar(value) if value else []
        else:
            raise SetupError(f"{path.name}:{number}: unsupported syntax: {raw.strip()!r}")
    for required in ("odoo_series", "python", "postgresql", "install", "test_tags", "lint"):
        if required not in config:
            raise SetupError(f"{path.name}: missing key {required!r}")
    series = config["odoo_series"]
    config["odoo_series"] = series if isinstance(series, list) else [series]
    if not config["odoo_series"] or not all(
        re.fullmatch(r"\d+\.0", value) for value in config["odoo_series"]
    ):
        raise SetupError(f'{path.name}: odoo_series must name Odoo series such as "18.0"')
    return config


def _scalar(text):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text
