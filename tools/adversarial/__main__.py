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
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

from adversarial import crash, fuzz, secret_scan, storm  # noqa: E402
from adversarial.harness import STOP, Secrets, env_secret_key  # noqa: E402

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
    parser.add_argument("--report", type=Path, help="write a Markdown report there (CHAOS.md)")
    parser.add_argument(
        "--merge", action="store_true", help="keep the other suites' results found in --json"
    )
    parser.add_argument(
        "--parallel", action="store_true", help="run the crash suite beside the others"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: STOP.set())
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="klarna-adversarial-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    secrets = Secrets(log_dir / "secrets.txt")
    secrets.add(env_secret_key())
    results = {}
    if args.merge and args.json and args.json.exists():
        results = json.loads(args.json.read_text())
    load = os.getloadavg()
    lock = threading.Lock()

    def run_suite(key):
        name, module = SUITES[key]
        size = int(os.environ.get(f"ADVERSARIAL_{key.upper()}") or SIZES[key][args.size == "full"])
        started = time.monotonic()
        try:
            passed, failed, failures, figures = module.run(
                args.odoo_bin, args.conf, args.db, size, log_dir, secrets
            )
        except Exception:  # a broken harness is a failed suite, with its traceback
            passed, failed, failures, figures = 0, 1, [traceback.format_exc()], {}
        shown = "every step" if key == "crash" else size
        figures = {
            "size": shown,
            **figures,
            "seconds": round(time.monotonic() - started, 1),
            "finished": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        }
        with lock:
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
            write(args, results, load)

    keys = [key for key in args.suites.split(",") if key]
    # The crash suite mostly waits (process starts, held calls): it runs beside the others.
    beside = [key for key in keys if key == "crash" and args.parallel]
    threads = [threading.Thread(target=run_suite, args=(key,)) for key in beside]
    for thread in threads:
        thread.start()
    for key in keys:
        if key not in beside:
            run_suite(key)
    for thread in threads:
        thread.join()
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
    write(args, results, load)
    return 0 if all(not result["failed"] for result in results.values()) else 1


def write(args, results, load):
    """The results so far: a long run that is stopped still leaves its figures."""
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.report:
        args.report.write_text(report(results, args.size, load))


def machine():
    """The machine in one line: CPU, cores, memory, kernel, Python, PostgreSQL."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        (
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        "0",
    )
    postgres = subprocess.run(
        ["psql", "-d", "postgres", "-Atc", "SHOW server_version"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return (
        f"{cpu}, {os.cpu_count()} cores, {int(memory) // 1024**2} GB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"PostgreSQL {postgres.split()[0] if postgres else '?'}"
    )


def report(results, size, load):
    """``bench/CHAOS.md``: command, machine, date and one table row per suite."""
    rows = "\n".join(
        f"| {name} | {result['figures'].get('size', '')} | {result['passed']} | "
        f"{result['failed']} | {_figures(result['figures'])} |"
        for name, result in results.items()
    )
    failures = "\n".join(
        f"- {name}: {failure.splitlines()[0][:400]}"
        for name, result in results.items()
        for failure in result["failures"]
    )
    command = " ".join(
        [
            "python tools/adversarial",
            *(Path(arg).name if "/" in arg else arg for arg in sys.argv[1:]),
        ]
    )
    return f"""# Adversarial suites ({size} size)

Issue 13's adversarial suites, written by `tools/adversarial` (see its docstrings for
what each suite does and asserts). Counts are assertions; times are for information.

- Command: `{command}`
  (`make chaos` runs it on a fresh database with the CI addons installed)
- Machine: {machine()}; load average {load[0]:.1f} when the run started
- Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC

| suite | size | passed | failed | figures |
|---|---|---|---|---|
{rows}

## Failed assertions in this run

{failures or "None."}
"""


def _figures(figures):
    return ", ".join(f"{key}: {value}" for key, value in figures.items() if key != "size")


if __name__ == "__main__":
    sys.exit(main())
