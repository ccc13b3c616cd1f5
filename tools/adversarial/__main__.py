"""Run the adversarial suites and print one summary line per suite.

Usage: python tools/adversarial ODOO_BIN ODOO_CONF DATABASE [--size ci|full]
[--suites storm,fuzz,crash] [--log-dir DIR] [--scan-logs PATH ...] [--json FILE]

DATABASE is a database with the addons installed; each suite works on its own
copy. The secret scan runs last, over the suites' logs and the ``--scan-logs``
files (the rest of the test run), with the secrets gathered in ``LOG_DIR/secrets.txt``
(the suites' own, and those of every simulator of the run, see
``klarna_simulator.ledger``).
"""

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

from adversarial import crash, fuzz, secret_scan, storm  # noqa: E402
from adversarial.harness import Secrets, env_secret_key  # noqa: E402

SIZES = {"storm": (2000, 10000), "fuzz": (5000, 100000), "crash": (1, 1)}
SUITES = {"storm": ("webhook storm", storm), "fuzz": ("fuzz", fuzz), "crash": ("crash", crash)}


def summary(name, passed, failed):
    return f"adversarial ({name}): {passed} passed, {failed} failed, 0 skipped"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("odoo_bin")
    parser.add_argument("conf")
    parser.add_argument("db")
    parser.add_argument("--size", choices=("ci", "full"), default="ci")
    parser.add_argument("--suites", default="storm,fuzz,crash")
    parser.add_argument("--log-dir", type=Path)
    parser.add_argument("--scan-logs", nargs="*", type=Path, default=[])
    parser.add_argument("--json", type=Path, help="write each suite's figures there")
    args = parser.parse_args(argv)
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="klarna-adversarial-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    secrets = Secrets(log_dir / "secrets.txt")
    secrets.add(env_secret_key())
    results = {}
    for key in filter(None, args.suites.split(",")):
        name, module = SUITES[key]
        size = int(os.environ.get(f"ADVERSARIAL_{key.upper()}") or SIZES[key][args.size == "full"])
        started = time.monotonic()
        try:
            passed, failed, failures, figures = module.run(
                args.odoo_bin, args.conf, args.db, size, log_dir, secrets
            )
        except Exception:  # a broken harness is a failed suite, with its traceback
            passed, failed, failures, figures = 0, 1, [traceback.format_exc()], {}
        figures = {"size": size, **figures, "seconds": round(time.monotonic() - started, 1)}
        results[name] = {
            "passed": passed,
            "failed": failed,
            "failures": failures,
            "figures": figures,
        }
        for failure in failures[:20]:
            print(f"adversarial ({name}): FAILED: {failure}")
        print(f"adversarial ({name}): {json.dumps(figures)}")
        print(summary(name, passed, failed), flush=True)
    scanned = [log_dir, *args.scan_logs]
    passed, failures, figures = secret_scan.run(scanned, [secrets.path])
    results["secret scan"] = {
        "passed": passed,
        "failed": len(failures),
        "failures": failures,
        "figures": figures,
    }
    for failure in failures[:20]:
        print(f"adversarial (secret scan): FAILED: {failure}")
    print(f"adversarial (secret scan): {json.dumps(figures)}")
    print(summary("secret scan", passed, len(failures)), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if all(not result["failed"] for result in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
