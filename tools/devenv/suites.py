"""The suites ``make test`` runs, their ``Result``, and how they run Odoo (the demo's too)."""

import base64
import dataclasses
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from .config import ADDON, ADDONS, ROOT, run, say
from .postgres import current_user


def skip_line(series, variable):
    """The summary line of a series whose source is not found (a skip does not fail)."""
    return f"odoo {series} suite: SKIPPED (no Odoo {series} source; set {variable})"


@dataclasses.dataclass(frozen=True)
class Result:
    """One suite's figures, as the summary prints them; ``ok`` is the suite's verdict."""

    passed: int
    failed: int
    skipped: int
    ok: bool

    @classmethod
    def check(cls, passed):
        """A suite that is a single check: one pass or one failure."""
        return cls(int(passed), int(not passed), 0, passed)

    @classmethod
    def counted(cls, passed, failed, skipped, ok):
        """A failed suite in which no test failed (the install broke, pytest crashed or found
        no test) counts one failure, so the totals never say 0 failed for it."""
        return cls(passed, failed or int(not ok and not skipped), skipped, ok)

    def line(self, label):
        """The summary line ``make test`` prints for this suite."""
        return f"{label}: {self.passed} passed, {self.failed} failed, {self.skipped} skipped"


def pure_suite(vpython):
    say("pure suite: pytest tests/")
    junit = Path(tempfile.mkstemp(suffix=".xml")[1])
    proc = run(
        [
            str(vpython),
            "-m",
            "pytest",
            "tests",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit}",
        ],
        cwd=ROOT,
        check=False,
    )
    result = _junit_result(junit, proc.returncode)
    junit.unlink()
    return result


def _junit_result(path, returncode):
    """pytest's figures from its JUnit XML; exit 5 (no test ran) is a failure, never a pass."""
    passed = failed = skipped = 0
    if path.exists() and path.stat().st_size:
        for suite in ET.parse(path).getroot().iter("testsuite"):  # noqa: S314
            tests, suite_skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
            suite_failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            failed += suite_failed
            skipped += suite_skipped
            passed += tests - suite_failed - suite_skipped
    return Result.counted(passed, failed, skipped, returncode == 0 and passed > 0)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def odoo_conf(odoo_src, db, pgenv, workdir, extra=None):
    addons = [str(odoo_src / "addons"), str(odoo_src / "odoo" / "addons"), str(ROOT)]
    lines = [
        "[options]",
        f"addons_path = {','.join(addons)}",
        f"db_name = {db}",
        f"data_dir = {workdir / 'filestore'}",
        "list_db = False",
        "log_level = info",
        f"db_user = {pgenv.get('PGUSER', current_user())}",
    ]
    if pgenv.get("PGHOST"):
        lines.append(f"db_host = {pgenv['PGHOST']}")
    if pgenv.get("PGPORT"):
        lines.append(f"db_port = {pgenv['PGPORT']}")
    lines += [f"{key} = {value}" for key, value in (extra or {}).items()]
    conf = workdir / "odoo.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


def odoo_env(odoo_src, pgenv):
    env = dict(pgenv)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(odoo_src), str(ROOT), env.get("PYTHONPATH")])
    )
    env.setdefault("PAYMENT_KLARNA_SECRET_KEYS", test_secret_key())
    return env


def test_secret_key():
    """A fixed, clearly non-production Fernet key for the throwaway test databases."""
    return base64.urlsafe_b64encode(hashlib.sha256(b"payment_klarna test key").digest()).decode()


def odoo_suite(vpython, odoo_src, series, config, pgenv, default):
    """Install on a throwaway database of the Odoo ``series``, check every addon installed,
    run Odoo's runner, then pytest-odoo, the race check, the lifecycle check, the demo and
    the wheels checks. On the ``default`` series only, to keep ``make test`` well under an
    hour on two cores (about 4 of the 15 minutes of 18.0's suite): the adversarial suites
    (CI size; their secret scan reads every log the earlier suites left in the work
    directory)."""
    db = f"klarna_test_{series.replace('.', '_')}_{os.getpid()}"
    workdir = Path(tempfile.mkdtemp(prefix=f"klarna-odoo-{series}-"))
    env = odoo_env(odoo_src, pgenv)
    # Every simulator of the run records the secrets it saw, for the secret scan.
    (workdir / "adversarial").mkdir()
    env["KLARNA_SIMULATOR_SECRETS_FILE"] = str(workdir / "adversarial" / "secrets.txt")
    conf = odoo_conf(odoo_src, db, pgenv, workdir)
    addons = [ADDON, *config["install"]]
    results = {}
    try:
        say(
            f"odoo {series} suite: installing {','.join(addons)} on {db} and running "
            f"--test-tags {config['test_tags']}"
        )
        log = workdir / "odoo-tests.log"
        with log.open("w") as out:
            proc = run(
                [
                    str(vpython),
                    str(odoo_src / "odoo-bin"),
                    "-c",
                    str(conf),
                    "-i",
                    ",".join(addons),
                    "--test-enable",
                    f"--test-tags={config['test_tags']}",
                    "--stop-after-init",
                    f"--http-port={free_port()}",
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        results["install"] = install_check(series, db, pgenv, addons, log)
        results["odoo runner"] = _odoo_log_result(log, proc.returncode)
        say(f"odoo {series} suite: pytest-odoo --odoo-http payment_klarna/tests")
        junit = workdir / "pytest-odoo.xml"
        returncode = _tee(
            [
                str(vpython),
                "-m",
                "pytest",
                *(f"{addon}/tests" for addon in ADDONS),
                "-q",
                "-p",
                "no:cacheprovider",
                f"--odoo-config={conf}",
                f"--odoo-database={db}",
                "--odoo-http",
                f"--junitxml={junit}",
                "-rs",
            ],
            workdir / "pytest-odoo.log",
            cwd=ROOT,
            env=env,
        )
        result = _junit_result(junit, returncode)
        results["pytest-odoo"] = dataclasses.replace(result, ok=result.ok and not result.skipped)
        say(f"odoo {series} suite: callback and browser racing on a prefork server")
        proc = run(
            [str(vpython), str(ROOT / "tools" / "race_check.py"), str(odoo_src / "odoo-bin"),
             str(conf), db],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        passed = proc.returncode == 0 and "0 duplicates" in proc.stdout
        (workdir / "race.log").write_text(proc.stdout + proc.stderr)
        print(proc.stdout.strip()[-2000:] or proc.stderr[-3000:])
        results["race"] = Result.check(passed)
        if default:  # before the lifecycle check, which reinstalls the addon on this database
            say(
                f"odoo {series} suite: adversarial suites (storm, fuzz, crash) and the secret "
                "scan of all logs"
            )
            results.update(adversarial(vpython, odoo_src, conf, db, env, workdir, "ci"))
        say(f"odoo {series} suite: install, uninstall and reinstall on the same database")
        proc = run(
            [str(vpython), str(odoo_src / "odoo-bin"), "shell", "-c", str(conf),
             f"--http-port={free_port()}"],
            env=env, stdin=(ROOT / "tools" / "lifecycle_check.py").open(), capture_output=True,
            text=True, check=False,
        )  # fmt: skip
        passed = proc.returncode == 0 and "lifecycle: install, uninstall and reinstall ok" in (
            proc.stdout
        )
        if not passed:
            print(proc.stdout[-3000:], proc.stderr[-3000:])
        results["lifecycle"] = Result.check(passed)
        results.update(first_run_checks(vpython, odoo_src, series, env))
    finally:
        run(["dropdb", "--if-exists", db], env=pgenv, check=False, stderr=subprocess.DEVNULL)
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def install_check(series, db, pgenv, addons, log):
    """Every addon asked for is installed: Odoo 19 marks an addon whose manifest names
    another series uninstallable with only a warning, and ``-i`` still exits 0."""
    missing = not_installed(db, pgenv, addons)
    if missing:
        why = re.findall(r".*(?:incompatible version|not installable|uninstallable).*",
                         log.read_text(errors="replace"))  # fmt: skip
        print("\n".join([f"odoo {series} suite: NOT INSTALLED: {', '.join(missing)}", *why]))
    return Result.check(not missing)


def not_installed(db, pgenv, addons):
    """Those of ``addons`` not installed on ``db``, each with its state."""
    query = ["psql", "-d", db, "-AtF", " ", "-c", "SELECT name, state FROM ir_module_module"]
    answer = run(query, env=pgenv, capture_output=True, text=True, check=False).stdout
    states = dict(line.split(" ", 1) for line in answer.splitlines() if " " in line)
    return [f"{name} ({states.get(name, 'unknown')})" for name in addons
            if states.get(name) != "installed"]  # fmt: skip


def _tee(cmd, log, **kwargs):
    """Run ``cmd``, showing its output and keeping it in ``log``; its exit code."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs
    )
    with proc, log.open("w") as out:
        for line in proc.stdout:
            sys.stdout.write(line)
            out.write(line)
    return proc.returncode


def adversarial(vpython, odoo_src, conf, db, env, workdir, size, report=None):
    """Run ``tools/adversarial`` at ``size`` on copies of ``db``; its secret scan reads every
    log in ``workdir`` with the secrets gathered in ``workdir/adversarial/secrets.txt``."""
    figures = workdir / "adversarial.json"
    cmd = [str(vpython), str(ROOT / "tools" / "adversarial"), str(odoo_src / "odoo-bin"),
           str(conf), db, "--size", size, "--log-dir", str(workdir / "adversarial"),
           "--json", str(figures), "--scan-logs", str(workdir)]  # fmt: skip
    if report:
        cmd += ["--report", str(report)]
    else:  # CI: keep the run short
        cmd += ["--parallel"]
    run(cmd, env=env, check=False)
    if not figures.exists():
        return {"adversarial": Result.check(False)}
    return {
        f"adversarial ({name})": Result(
            res["passed"], res["failed"], 0, not res["failed"] and res["passed"] > 0
        )
        for name, res in json.loads(figures.read_text()).items()
    }


def order_management_faults(vpython, odoo_src, conf, env, workdir, size):
    """Issue 13's order-management faults suite, an Odoo test, at ``size`` (``make chaos``):
    its result and the summary line it logs."""
    log = workdir / "order-management-faults.log"
    with log.open("w") as out:
        proc = run(
            [str(vpython), str(odoo_src / "odoo-bin"), "-c", str(conf),
             "--test-tags", "/payment_klarna:TestOrderManagementFaults", "--stop-after-init",
             f"--http-port={free_port()}"],
            env={**env, "KLARNA_CHAOS_SIZE": size}, stdout=out, stderr=subprocess.STDOUT,
            check=False,
        )  # fmt: skip
    marker = "order-management faults: "
    lines = [line for line in log.read_text(errors="replace").splitlines() if marker in line]
    return _odoo_log_result(log, proc.returncode), lines[-1].split(marker, 1)[1] if lines else ""


def _odoo_log_result(log, returncode):
    """Read Odoo's own test summary; skipped tours count as failures here."""
    text = log.read_text(errors="replace")
    summary = re.findall(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests", text)
    # Odoo's result logs "skipped <test> : <reason>"; a missing browser skips tours that way.
    skipped = re.findall(r"\bskipped \S+ : ", text)
    failed = sum(int(f) + int(e) for f, e, _ in summary)
    total = sum(int(t) for *_, t in summary)
    ok = returncode == 0 and summary and not failed and total > 0 and not skipped
    if not ok:
        tail = "\n".join(
            line for line in text.splitlines() if re.search(r"ERROR|FAIL|skipp|Traceback", line)
        )[-6000:]
        print(tail or text[-4000:])
    return Result.counted(total - failed, failed, len(skipped), bool(ok))


def first_run_checks(vpython, odoo_src, series, env):
    """What a new merchant meets first on ``series``: ``make demo`` paid through in Chromium
    without an error (``tools/demo_check.py``) and both wheels found by its Odoo
    (``tools/wheel_check.py``)."""
    checks = [
        ("demo", "demo_check.py", "demo check: ok"),
        ("wheels", "wheel_check.py", "wheels: both addons found by Odoo"),
    ]
    results = {}
    for name, script, ok_line in checks:
        say(f"odoo {series} suite: {name} check ({script})")
        proc = run([str(vpython), str(ROOT / "tools" / script), str(odoo_src)],
                   env=env, capture_output=True, text=True, check=False)  # fmt: skip
        passed = proc.returncode == 0 and ok_line in proc.stdout
        print(proc.stdout[-1500:] if passed else proc.stdout[-8000:] + proc.stderr[-3000:])
        results[name] = Result.check(passed)
    return results
