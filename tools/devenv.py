#!/usr/bin/env python3
"""One entry point for ``make test``, ``make lint`` and ``make demo``.

It finds (or prepares) everything the suites need on a fresh machine: an Odoo
18.0 source, a virtual environment built from Odoo's and our requirements, a
PostgreSQL the current user can reach, headless Chromium for tours.  It runs
with the system ``python3`` and the standard library only, because it is what
builds the environment everything else needs.  What it reads from
``.odoo-ci.yml`` (series, Python, addons, test tags, lint steps) drives it.
"""

import argparse
import ast
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADDON = "payment_klarna"
BRIDGE = "payment_klarna_stock"  # capture on delivery; installed through .odoo-ci.yml
BENCH_ADDON = "bench/addons/klarna_bench_floor"  # the webhook bench's durable floor; linted only
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "payment-klarna"
ODOO_GIT = "https://github.com/odoo/odoo.git"
DEBIAN_PACKAGES = {
    "chromium": "/usr/bin/chromium",
    "libldap2-dev": "/usr/include/ldap.h",
    "libsasl2-dev": "/usr/include/sasl/sasl.h",
    "libpq-dev": "/usr/include/postgresql/libpq-fe.h",
    # Odoo renders PDF reports with it (the order confirmation mail attaches one).
    "wkhtmltopdf": "/usr/bin/wkhtmltopdf",
}
# Old sdists in Odoo's pins do not build with newer setuptools: a build constraint.
SETUPTOOLS_PIN = "setuptools<70"
# At run time Odoo's gevent process resolves gevent's entry points through
# pkg_resources: setuptools 81 removed it, and before 70 it cannot match today's
# normalised wheel names (zope_interface-*.dist-info for "zope.interface"), so the
# gevent process crash-loops in prefork mode and burns a core.
SETUPTOOLS_RUNTIME = "setuptools>=70,<81"
GEVENT_CHECK = "import pkg_resources; pkg_resources.require('gevent')"
SKIP_LINE = "odoo suite: SKIPPED (no Odoo 18 source; set ODOO_SRC)"


class SetupError(RuntimeError):
    """Something the environment lacks, with what to do about it."""


def say(message):
    """Progress on stderr, so ``env``'s JSON on stdout stays parseable."""
    print(f"[devenv] {message}", file=sys.stderr, flush=True)


def run(cmd, check=True, **kwargs):
    return subprocess.run(cmd, check=check, **kwargs)


# --------------------------------------------------------------------- config
def read_ci_config(path=ROOT / ".odoo-ci.yml"):
    """Parse the flat YAML subset ``.odoo-ci.yml`` uses: scalars and lists of scalars.

    The file is read before any virtual environment exists, so no YAML library
    can be assumed; anything outside the subset is refused, not guessed.
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
    return config


def _scalar(text):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


# ----------------------------------------------------------------- discovery
def find_python(version):
    for name in (f"python{version}", "python3"):
        exe = shutil.which(name)
        if exe:
            out = run(
                [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            if out == version:
                return exe
    raise SetupError(f"Python {version} is needed (Odoo's pinned requirements build on it)")


def odoo_source(series, python):
    """Return the Odoo source directory, or None with the reason printed."""
    env = os.environ.get("ODOO_SRC")
    if env:
        src = Path(env).expanduser().resolve()
        if not _is_odoo(src, series):
            raise SetupError(f"ODOO_SRC={src} is not an Odoo {series} source tree")
        return src
    probe = run(
        [
            python,
            "-c",
            "import odoo, odoo.release as r, os;"
            "print(r.series, os.path.dirname(os.path.dirname(odoo.__file__)))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode == 0:
        found_series, _, path = probe.stdout.strip().partition(" ")
        if found_series == series and _is_odoo(Path(path), series):
            return Path(path)
    cached = CACHE / f"odoo-{series}"
    if _is_odoo(cached, series):
        return cached
    say(f"no Odoo {series} source found; cloning {ODOO_GIT} ({series}, depth 1) into {cached}")
    with tempfile.TemporaryDirectory(dir=CACHE.parent if CACHE.parent.exists() else None) as tmp:
        try:
            run(
                ["git", "clone", "-q", "--depth", "1", "-b", series, ODOO_GIT, tmp + "/odoo"],
                timeout=900,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, FileNotFoundError):
            say(
                f"could not clone Odoo {series} (offline?). Point ODOO_SRC at an Odoo {series} "
                f"source tree, or unpack one into {cached}."
            )
            return None
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(tmp + "/odoo", cached)
    return cached


def _is_odoo(path, series):
    release = path / "odoo" / "release.py"
    if not release.is_file() or not (path / "odoo-bin").is_file():
        return False
    match = re.search(r"^version_info = \((\d+), (\d+)", release.read_text(), re.M)
    return bool(match) and f"{match.group(1)}.{match.group(2)}" == series


def ensure_debian_packages(names):
    missing = [name for name in names if not os.path.exists(DEBIAN_PACKAGES[name])]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SetupError(f"missing Debian packages: {' '.join(missing)} (install them as root)")
    say(f"installing Debian packages: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], env=env, stdout=subprocess.DEVNULL)
    run(["apt-get", "install", "-y", "-qq", *missing], env=env, stdout=subprocess.DEVNULL)


def ensure_venv(python, odoo_src):
    """The suites' environment: Odoo's pinned requirements (when Odoo is there) and ours."""
    reqs = [ROOT / "requirements.txt"] + ([odoo_src / "requirements.txt"] if odoo_src else [])
    return _venv(python, "odoo" if odoo_src else "pure", reqs, odoo_src)


def ensure_lint_venv(python):
    """Lint tools apart from Odoo's pins, so every machine lints with the same versions."""
    return _venv(python, "lint", [ROOT / "requirements-lint.txt"], None)


def _venv(python, kind, reqs, odoo_src):
    """A virtual environment keyed by the hash of the requirements it was built from."""
    digest = hashlib.sha256(python.encode() + SETUPTOOLS_PIN.encode() + SETUPTOOLS_RUNTIME.encode())
    for req in reqs:
        digest.update(req.read_bytes())
    venv = CACHE / f"venv-{kind}-{digest.hexdigest()[:12]}"
    vpython = venv / "bin" / "python"
    if (venv / ".complete").exists():
        return vpython
    shutil.rmtree(venv, ignore_errors=True)
    say(f"building {venv} (first run only: several minutes)")
    run([python, "-m", "venv", str(venv)])
    constraints = venv / "constraints.txt"
    constraints.write_text(SETUPTOOLS_PIN + "\n")
    # pip >= 25.3 reads build constraints from their own variable; older pip from PIP_CONSTRAINT.
    env = dict(
        os.environ,
        PIP_CONSTRAINT=str(constraints),
        PIP_BUILD_CONSTRAINT=str(constraints),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    pip = [str(vpython), "-m", "pip", "install", "-q"]
    run([*pip, "--upgrade", "pip", SETUPTOOLS_PIN, "wheel"], env=env)
    # Odoo's pins first; ours on top, constrained by Odoo's so no tool upgrades them.
    pins = ["-c", str(odoo_src / "requirements.txt")] if odoo_src else []
    for req in reversed(reqs):
        run([*pip, "-r", str(req), *([] if req.parent == odoo_src else pins)], env=env)
    if odoo_src:
        env.pop("PIP_CONSTRAINT")
        run([*pip, SETUPTOOLS_RUNTIME], env=env)
        if run([str(vpython), "-W", "ignore", "-c", GEVENT_CHECK], check=False).returncode:
            raise SetupError(f"{venv}: Odoo's gevent process would not start (see above)")
    (venv / ".complete").write_text("\n".join(str(r) for r in reqs))
    return vpython


# ---------------------------------------------------------------- PostgreSQL
def postgres_env(version):
    """Connection settings for a server we can create databases on.

    The ``PG*`` variables or the local socket come first (a server of another major
    version than ``.odoo-ci.yml`` declares is used, with a warning); failing both, a
    throwaway cluster of the declared version, when installed, is started (socket only).
    """
    env = dict(os.environ)
    if _pg_ok(env):
        show = ["psql", "-d", env.get("PGDATABASE", "postgres"), "-Atc", "SHOW server_version"]
        found = run(show, env=env, capture_output=True, text=True, check=False).stdout
        found = found.split(".")[0]
        if found != str(version):
            say(f"warning: PostgreSQL {found} answers; .odoo-ci.yml declares {version}")
        return env, None
    # initdb refuses root; as root the cluster belongs to `nobody`, which cannot enter
    # root's home, so it lives under /var/tmp instead of the cache.
    cluster = CACHE / "pgcluster" if os.geteuid() else Path("/var/tmp/payment-klarna-pgcluster")  # noqa: S108
    bindir = Path(f"/usr/lib/postgresql/{version}/bin")
    if not bindir.is_dir():
        bindir = Path(run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip())
    initdb, pg_ctl = _pg_tool(bindir, "initdb"), _pg_tool(bindir, "pg_ctl")
    user = os.environ.get("USER", "odoo") if os.geteuid() else "nobody"
    sock = cluster / "run"
    as_user = ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []
    if not (cluster / "data" / "PG_VERSION").exists():
        say(f"starting a throwaway PostgreSQL cluster in {cluster}")
        sock.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(cluster, user)
            shutil.chown(sock, user)
        run(
            [*as_user, initdb, "-D", str(cluster / "data"), "-U", "odoo", "-A", "trust"],
            stdout=subprocess.DEVNULL,
        )
    run(
        [
            *as_user,
            pg_ctl,
            "-D",
            str(cluster / "data"),
            "-l",
            str(cluster / "log"),
            "-w",
            "-o",
            f"-c listen_addresses='' -c unix_socket_directories='{sock}' -p 54329",
            "start",
        ],
        stdout=subprocess.DEVNULL,
    )
    env.update(PGHOST=str(sock), PGPORT="54329", PGUSER="odoo")
    if not _pg_ok(env):
        raise SetupError(f"the throwaway PostgreSQL in {cluster} did not answer")
    return env, [*as_user, pg_ctl, "-D", str(cluster / "data"), "-m", "fast", "stop"]


def _pg_tool(bindir, name):
    return str(bindir / name) if (bindir / name).exists() else shutil.which(name) or name


def _pg_ok(env):
    if env.get("PGUSER", os.environ.get("USER", "root")) == "postgres" or (
        "PGUSER" not in env and _current_user() == "postgres"
    ):
        raise SetupError("Odoo refuses the database user 'postgres': set PGUSER to another role")
    probe = run(
        [
            "psql",
            "-d",
            env.get("PGDATABASE", "postgres"),
            "-Atc",
            "select rolcreatedb or rolsuper from pg_roles where rolname = current_user",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.returncode == 0 and probe.stdout.strip() == "t"


def _current_user():
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


# ------------------------------------------------------------------- suites
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
    counts = _junit_counts(junit)
    junit.unlink()
    # Exit 5 means no test ran: that is a failure here, never a pass.
    return counts, proc.returncode == 0 and counts["passed"] > 0


def _junit_counts(path):
    import xml.etree.ElementTree as ET

    counts = {"passed": 0, "failed": 0, "skipped": 0}
    if not path.exists() or not path.stat().st_size:
        return counts
    for suite in ET.parse(path).getroot().iter("testsuite"):  # noqa: S314
        tests, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
        failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        counts["failed"] += failed
        counts["skipped"] += skipped
        counts["passed"] += tests - failed - skipped
    return counts


def free_port():
    import socket

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
        f"db_user = {pgenv.get('PGUSER', _current_user())}",
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
    import base64

    return base64.urlsafe_b64encode(hashlib.sha256(b"payment_klarna test key").digest()).decode()


def odoo_suite(vpython, odoo_src, config, pgenv):
    """Install on a throwaway database, run Odoo's runner, then pytest-odoo, the race check,
    the adversarial suites (CI size; their secret scan reads every log the earlier suites
    left in the work directory) and the lifecycle check."""
    db = f"klarna_test_{os.getpid()}"
    workdir = Path(tempfile.mkdtemp(prefix="klarna-odoo-"))
    env = odoo_env(odoo_src, pgenv)
    # Every simulator of the run records the secrets it saw, for the secret scan.
    (workdir / "adversarial").mkdir()
    env["KLARNA_SIMULATOR_SECRETS_FILE"] = str(workdir / "adversarial" / "secrets.txt")
    conf = odoo_conf(odoo_src, db, pgenv, workdir)
    addons = ",".join([ADDON, *config["install"]])
    results = {}
    try:
        say(
            f"odoo suite: installing {addons} on {db} and running --test-tags {config['test_tags']}"
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
                    addons,
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
        results["odoo runner"] = _odoo_log_result(log, proc.returncode)
        say("odoo suite: pytest-odoo --odoo-http payment_klarna/tests")
        junit = workdir / "pytest-odoo.xml"
        returncode = _tee(
            [
                str(vpython),
                "-m",
                "pytest",
                f"{ADDON}/tests",
                f"{BRIDGE}/tests",
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
        counts = _junit_counts(junit)
        counts["ok"] = returncode == 0 and counts["passed"] > 0 and not counts["skipped"]
        results["pytest-odoo"] = counts
        say("odoo suite: callback and browser racing on a prefork server")
        proc = run(
            [str(vpython), str(ROOT / "tools" / "race_check.py"), str(odoo_src / "odoo-bin"),
             str(conf), db],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        passed = proc.returncode == 0 and "0 duplicates" in proc.stdout
        (workdir / "race.log").write_text(proc.stdout + proc.stderr)
        print(proc.stdout.strip()[-2000:] or proc.stderr[-3000:])
        results["race"] = {"passed": int(passed), "failed": int(not passed), "skipped": 0,
                           "ok": passed}  # fmt: skip
        # Before the lifecycle check, which reinstalls the addon on this database.
        say("odoo suite: adversarial suites (storm, fuzz, crash) and the secret scan of all logs")
        results.update(adversarial(vpython, odoo_src, conf, db, env, workdir, "ci"))
        say("odoo suite: install, uninstall and reinstall on the same database")
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
        results["lifecycle"] = {"passed": int(passed), "failed": int(not passed), "skipped": 0,
                                "ok": passed}  # fmt: skip
        results.update(first_run_checks(vpython, odoo_src, env))
    finally:
        run(["dropdb", "--if-exists", db], env=pgenv, check=False, stderr=subprocess.DEVNULL)
        shutil.rmtree(workdir, ignore_errors=True)
    return results


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
        return {"adversarial": {"passed": 0, "failed": 1, "skipped": 0, "ok": False}}
    return {
        f"adversarial ({name})": {"passed": res["passed"], "failed": res["failed"], "skipped": 0,
                                  "ok": not res["failed"] and res["passed"] > 0}
        for name, res in json.loads(figures.read_text()).items()
    }  # fmt: skip


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
    return {"passed": total - failed, "failed": failed, "skipped": len(skipped), "ok": bool(ok)}


def _addon_files(pattern="*"):
    """The addons' files as pre-commit would pass them (hooks take files, not folders)."""
    return sorted(
        str(path.relative_to(ROOT))
        for addon in (ADDON, BRIDGE, BENCH_ADDON)
        for path in (ROOT / addon).rglob(pattern)
        if path.is_file() and "__pycache__" not in path.parts
    )


def lint(vpython, config):
    say("lint: " + ", ".join(config["lint"]))
    steps = {
        "ruff": [
            [str(vpython), "-m", "ruff", "check", "."],
            [str(vpython), "-m", "ruff", "format", "--check", "."],
        ],
        "pylint-odoo": [
            [str(vpython), "-m", "pylint", "--rcfile=.pylintrc", ADDON, BRIDGE, BENCH_ADDON]
        ],
        "oca-hooks": [
            [str(vpython.parent / "oca-checks-odoo-module"), *_addon_files()],
            *(
                [[str(vpython.parent / "oca-checks-po"), *pos]]
                if (pos := _addon_files("*.po*"))
                else []
            ),
        ],
    }
    ok = True
    for step in config["lint"]:
        if step not in steps:
            raise SetupError(f".odoo-ci.yml: unknown lint step {step!r}")
        for cmd in steps[step]:
            if run(cmd, cwd=ROOT, check=False).returncode:
                say(f"lint step {step} failed: {' '.join(cmd[1:] if 'python' in cmd[0] else cmd)}")
                ok = False
    return ok


# ---------------------------------------------------------------- commands
def cmd_test(args):
    config = read_ci_config()
    python = find_python(config["python"])
    CACHE.mkdir(parents=True, exist_ok=True)
    odoo_src = odoo_source(config["odoo_series"], python)
    if odoo_src:
        ensure_debian_packages(
            ["libldap2-dev", "libsasl2-dev", "libpq-dev", "chromium", "wkhtmltopdf"]
        )
    vpython = ensure_venv(python, odoo_src)
    lint_ok = lint(ensure_lint_venv(python), config) if not args.no_lint else True
    pure, pure_ok = pure_suite(vpython)
    lines = [
        f"pure suite: {pure['passed']} passed, {pure['failed']} failed, {pure['skipped']} skipped"
    ]
    ok = pure_ok and lint_ok
    suites = []
    if odoo_src:
        pgenv, stop = postgres_env(config["postgresql"])
        try:
            for name, res in odoo_suite(vpython, odoo_src, config, pgenv).items():
                suites.append(res)
                label = name if name.startswith("adversarial") else f"odoo suite ({name})"
                lines.append(
                    f"{label}: {res['passed']} passed, {res['failed']} "
                    f"failed, {res['skipped']} skipped"
                )
                ok = ok and res["ok"]
        finally:
            if stop:
                run(stop, check=False)
    else:
        lines.append(SKIP_LINE)
    lines.append(f"lint: {'clean' if lint_ok else 'FAILED'}")
    passed, failed = pure["passed"], pure["failed"]
    for res in suites:
        passed, failed = passed + res["passed"], failed + res["failed"] + res["skipped"]
    # Last, alone on its line: the closing summary CI reads.
    print("\n".join(["", "=" * 60, *lines, "=" * 60, f"total: {passed} passed, {failed} failed"]))
    return 0 if ok else 1


def cmd_chaos(_args):
    """The adversarial suites at full size on a fresh database; figures to bench/CHAOS.md."""
    config = read_ci_config()
    python = find_python(config["python"])
    CACHE.mkdir(parents=True, exist_ok=True)
    odoo_src = odoo_source(config["odoo_series"], python)
    if not odoo_src:
        raise SetupError("make chaos needs an Odoo 18 source: set ODOO_SRC")
    ensure_debian_packages(["libldap2-dev", "libsasl2-dev", "libpq-dev"])
    vpython = ensure_venv(python, odoo_src)
    pgenv, stop = postgres_env(config["postgresql"])
    db = f"klarna_chaos_{os.getpid()}"
    workdir = Path(tempfile.mkdtemp(prefix="klarna-chaos-"))
    try:
        env = odoo_env(odoo_src, pgenv)
        (workdir / "adversarial").mkdir()
        env["KLARNA_SIMULATOR_SECRETS_FILE"] = str(workdir / "adversarial" / "secrets.txt")
        conf = odoo_conf(odoo_src, db, pgenv, workdir)
        addons = ",".join([ADDON, *config["install"]])
        say(f"chaos: installing {addons} on {db}")
        with (workdir / "install.log").open("w") as out:
            run([str(vpython), str(odoo_src / "odoo-bin"), "-c", str(conf), "-i", addons,
                 "--stop-after-init", f"--http-port={free_port()}"],
                env=env, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        say("chaos: the adversarial suites at full size (tens of minutes)")
        results = adversarial(vpython, odoo_src, conf, db, env, workdir, "full",
                              report=ROOT / "bench" / "CHAOS.md")  # fmt: skip
    finally:
        run(["dropdb", "--if-exists", db], env=pgenv, check=False, stderr=subprocess.DEVNULL)
        shutil.rmtree(workdir, ignore_errors=True)
        if stop:
            run(stop, check=False)
    say("chaos: results in bench/CHAOS.md")
    return 0 if all(res["ok"] for res in results.values()) else 1


def cmd_lint(_args):
    config = read_ci_config()
    python = find_python(config["python"])
    return 0 if lint(ensure_lint_venv(python), config) else 1


def cmd_env(_args):
    config = read_ci_config()
    python = find_python(config["python"])
    odoo_src = odoo_source(config["odoo_series"], python)
    print(
        json.dumps(
            {
                "odoo_src": str(odoo_src) if odoo_src else None,
                "venv_python": str(ensure_venv(python, odoo_src)),
                "cache": str(CACHE),
            },
            indent=2,
        )
    )
    return 0


def cmd_demo(args):
    from demo import run_demo

    config = read_ci_config()
    python = find_python(config["python"])
    CACHE.mkdir(parents=True, exist_ok=True)
    odoo_src = odoo_source(config["odoo_series"], python)
    if not odoo_src:
        raise SetupError("make demo needs an Odoo 18 source: set ODOO_SRC")
    ensure_debian_packages(["libldap2-dev", "libsasl2-dev", "libpq-dev", "wkhtmltopdf"])
    vpython = ensure_venv(python, odoo_src)
    pgenv, stop = postgres_env(config["postgresql"])
    try:
        return run_demo(vpython, odoo_src, config, pgenv, args)
    finally:
        if stop:
            run(stop, check=False)


def first_run_checks(vpython, odoo_src, env):
    """What a new merchant meets first: ``make demo`` paid through in Chromium without an
    error (``tools/demo_check.py``), and both wheels found by Odoo (``tools/wheel_check.py``).
    """
    results = {}
    for name, script, ok_line in (
        ("demo", "demo_check.py", "demo check: ok"),
        ("wheels", "wheel_check.py", "wheels: both addons found by Odoo"),
    ):
        say(f"odoo suite: {name} check ({script})")
        proc = run([str(vpython), str(ROOT / "tools" / script), str(odoo_src)],
                   env=dict(env, ODOO_SRC=str(odoo_src)), capture_output=True, text=True,
                   check=False)  # fmt: skip
        passed = proc.returncode == 0 and ok_line in proc.stdout
        print(proc.stdout[-1500:] if passed else proc.stdout[-8000:] + proc.stderr[-3000:])
        results[name] = {"passed": int(passed), "failed": int(not passed), "skipped": 0,
                         "ok": passed}  # fmt: skip
    return results


def build_wheels(vpython, dist):
    """Build ``odoo-addon-payment_klarna`` and ``odoo-addon-payment_klarna_stock`` into ``dist``.

    Each wheel has its ``setup.py``: the repository's for the main addon,
    ``setup/<addon>/`` for the bridge (the OCA layout). Returns the wheels' paths.
    """
    wheels = []
    for addon, project in ((ADDON, ROOT), (BRIDGE, ROOT / "setup" / BRIDGE)):
        run([str(vpython), "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
             "-w", str(dist), str(project)])  # fmt: skip
        shutil.rmtree(project / "build", ignore_errors=True)
        for egg_info in project.glob("*.egg-info"):
            shutil.rmtree(egg_info)
        manifest = ast.literal_eval((ROOT / addon / "__manifest__.py").read_text())
        wheels.append(Path(dist) / f"odoo_addon_{addon}-{manifest['version']}-py3-none-any.whl")
    return wheels


def cmd_wheel(_args):
    config = read_ci_config()
    vpython = ensure_venv(find_python(config["python"]), None)
    for wheel in build_wheels(vpython, ROOT / "dist"):
        say(f"wheel: {wheel.relative_to(ROOT)}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    test = sub.add_parser("test", help="every suite, lint included")
    test.add_argument("--no-lint", action="store_true")
    sub.add_parser("lint")
    sub.add_parser("chaos", help="the adversarial suites at full size, into bench/CHAOS.md")
    sub.add_parser("env", help="prepare and print the environment")
    sub.add_parser("wheel", help="build both addons' wheels into dist/")
    demo = sub.add_parser("demo", help="the demo shop on http://127.0.0.1:8069")
    demo.add_argument("--port", type=int, default=8069)
    demo.add_argument("--simulator-port", type=int, default=8099)
    demo.add_argument("--db", help="default klarna_demo; created on the first run, then reused")
    args = parser.parse_args(argv)
    handler = {
        "test": cmd_test,
        "lint": cmd_lint,
        "chaos": cmd_chaos,
        "env": cmd_env,
        "demo": cmd_demo,
        "wheel": cmd_wheel,
    }
    try:
        return handler[args.command](args)
    except SetupError as exc:
        print(f"[devenv] error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    with contextlib.suppress(AttributeError):
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    time.tzset()
    sys.exit(main())
