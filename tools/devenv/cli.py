"""One entry point for ``make test``, ``make lint`` and ``make demo``.

The command line: each ``make`` target is a command here (``python3 -m tools.devenv
--help``); a ``SetupError`` ends it with exit status 2 and what to do about it.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .config import ADDON, CACHE, ROOT, SetupError, read_ci_config, run, say
from .demo import run_demo
from .lint import lint
from .postgres import postgres_env
from .provision import (
    build_wheels,
    ensure_debian_packages,
    ensure_lint_venv,
    ensure_venv,
    find_python,
    odoo_source,
    source_variable,
)
from .suites import (
    adversarial,
    free_port,
    odoo_conf,
    odoo_env,
    odoo_suite,
    order_management_faults,
    pure_suite,
    skip_line,
)

ODOO_PACKAGES = ["libldap2-dev", "libsasl2-dev", "libpq-dev"]  # python-ldap, psycopg2


def cmd_test(args):
    """Lint, the pure suite, then the Odoo suite once per series ``.odoo-ci.yml`` lists, each
    on the source found for it with its own environment and database, or SKIPPED."""
    config = read_ci_config()
    python = find_python(config["python"])
    CACHE.mkdir(parents=True, exist_ok=True)
    default = config["odoo_series"][0]
    variables = {series: source_variable(series, default) for series in config["odoo_series"]}
    sources = {series: odoo_source(series, python, variables[series]) for series in variables}
    found = {series: src for series, src in sources.items() if src}
    if found:
        ensure_debian_packages([*ODOO_PACKAGES, "chromium", "wkhtmltopdf"])
    venvs = {series: ensure_venv(python, src) for series, src in found.items()}
    lint_ok = lint(ensure_lint_venv(python), config) if not args.no_lint else True
    pure = pure_suite(next(iter(venvs.values())) if venvs else ensure_venv(python, None))
    lines = [_red(pure.line("pure suite"), not pure.ok)]
    ok = pure.ok and lint_ok
    suites = []
    pgenv, stop = postgres_env(config["postgresql"]) if found else (None, None)
    try:
        for series in config["odoo_series"]:
            if series not in found:
                lines.append(skip_line(series, variables[series]))
                continue
            results = odoo_suite(venvs[series], found[series], series, config, pgenv,
                                 default=series == default)  # fmt: skip
            for name, res in results.items():
                suites.append(res)
                label = name if name.startswith("adversarial") else f"suite ({name})"
                lines.append(_red(res.line(f"odoo {series} {label}"), not res.ok))
                ok = ok and res.ok
    finally:
        if stop:
            run(stop, check=False)
    lines.append(_red(f"lint: {'clean' if lint_ok else 'FAILED'}", not lint_ok))
    passed, failed = pure.passed, pure.failed
    for res in suites:
        passed, failed = passed + res.passed, failed + res.failed + res.skipped
    # Last, alone on its line: the closing summary CI reads.
    print("\n".join(["", "=" * 60, *lines, "=" * 60, f"total: {passed} passed, {failed} failed"]))
    return 0 if ok else 1


def _red(line, failed):
    """A failed suite's summary line, red on a terminal."""
    return f"\033[31m{line}\033[0m" if failed and sys.stdout.isatty() else line


def _chosen(config, series):
    """``series`` (None: the default one, listed first) and the variable naming its source.

    :raise SetupError: when ``.odoo-ci.yml`` does not list the series
    """
    default = config["odoo_series"][0]
    series = series or default
    if series not in config["odoo_series"]:
        raise SetupError(f"Odoo {series} is not among .odoo-ci.yml's odoo_series")
    return series, source_variable(series, default)


def _prepare_odoo(target, series, packages):
    """``.odoo-ci.yml``, the Odoo ``series`` source and its venv, for a command that needs
    Odoo.

    :param target: the ``make`` target, named in the error when no Odoo source is found
    :param series: the series to run (None: the default one)
    :param packages: the Debian packages the command needs
    :return: ``(config, series, odoo_src, vpython)``
    :raise SetupError: when the series is not listed or no source of it is found
    """
    config = read_ci_config()
    series, variable = _chosen(config, series)
    python = find_python(config["python"])
    CACHE.mkdir(parents=True, exist_ok=True)
    odoo_src = odoo_source(series, python, variable)
    if not odoo_src:
        raise SetupError(f"make {target} needs an Odoo {series} source: set {variable}")
    ensure_debian_packages(packages)
    return config, series, odoo_src, ensure_venv(python, odoo_src)


def cmd_chaos(_args):
    """The adversarial suites at full size on a fresh database; figures to bench/CHAOS.md."""
    config, _series, odoo_src, vpython = _prepare_odoo("chaos", None, ODOO_PACKAGES)
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
        report = ROOT / "bench" / "CHAOS.md"
        results = adversarial(vpython, odoo_src, conf, db, env, workdir, "full",
                              report=report)  # fmt: skip
        say("chaos: the order-management faults suite at full size")
        faults, figures = order_management_faults(vpython, odoo_src, conf, env, workdir, "full")
        results["order-management faults"] = faults
        report.write_text(
            report.read_text() + "\n## Order-management faults (an Odoo test, full size)\n\n"
            "- Command: `KLARNA_CHAOS_SIZE=full odoo-bin -c <conf> --test-tags "
            "/payment_klarna:TestOrderManagementFaults --stop-after-init` (the same test runs "
            "at CI size, 200 operations, in `make test`)\n"
            f"- Result: {faults.passed} passed, {faults.failed} failed\n"
            f"- Figures: {figures or 'none logged'}\n"
        )
    finally:
        run(["dropdb", "--if-exists", db], env=pgenv, check=False, stderr=subprocess.DEVNULL)
        shutil.rmtree(workdir, ignore_errors=True)
        if stop:
            run(stop, check=False)
    say("chaos: results in bench/CHAOS.md")
    return 0 if all(res.ok for res in results.values()) else 1


def cmd_lint(_args):
    config = read_ci_config()
    python = find_python(config["python"])
    return 0 if lint(ensure_lint_venv(python), config) else 1


def cmd_env(args):
    config = read_ci_config()
    python = find_python(config["python"])
    series, variable = _chosen(config, args.series)
    odoo_src = odoo_source(series, python, variable)
    print(
        json.dumps(
            {
                "odoo_series": series,
                "odoo_src": str(odoo_src) if odoo_src else None,
                "venv_python": str(ensure_venv(python, odoo_src)),
                "cache": str(CACHE),
            },
            indent=2,
        )
    )
    return 0


def cmd_demo(args):
    packages = [*ODOO_PACKAGES, "wkhtmltopdf"]
    config, series, odoo_src, vpython = _prepare_odoo("demo", args.series, packages)
    pgenv, stop = postgres_env(config["postgresql"])
    try:
        return run_demo(vpython, odoo_src, series, pgenv, args)
    finally:
        if stop:
            run(stop, check=False)


def cmd_wheel(_args):
    """Both addons' wheels for every series listed, into ``dist/<series>/``."""
    config = read_ci_config()
    vpython = ensure_venv(find_python(config["python"]), None)
    for series in config["odoo_series"]:
        for wheel in build_wheels(vpython, ROOT / "dist" / series, series):
            say(f"wheel: {wheel.relative_to(ROOT)}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python3 -m tools.devenv", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    test = sub.add_parser("test", help="every suite, lint included")
    test.add_argument("--no-lint", action="store_true")
    sub.add_parser("lint")
    sub.add_parser("chaos", help="the adversarial suites at full size, into bench/CHAOS.md")
    env = sub.add_parser("env", help="prepare and print the environment")
    env.add_argument("--series", help="an Odoo series of .odoo-ci.yml; default its first")
    sub.add_parser("wheel", help="build both addons' wheels for every series into dist/<series>/")
    demo = sub.add_parser("demo", help="the demo shop on http://127.0.0.1:8069")
    demo.add_argument("--series", help="an Odoo series of .odoo-ci.yml; default its first")
    demo.add_argument("--port", type=int, default=8069)
    demo.add_argument("--simulator-port", type=int, default=8099)
    demo.add_argument(
        "--db", help="default klarna_demo_<major>; created on the first run, then reused"
    )
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
