"""Lint: the steps ``.odoo-ci.yml`` names (ruff, pylint-odoo, the OCA hooks)."""

from .config import ADDONS, BENCH_ADDON, ROOT, SetupError, run, say

# The OCA hooks gate their version-bound checks (t-esc, old chatters, res.groups
# category_id) on the manifest's version, which names no series here (one source for
# every series): they run as if it named the series given first on the command line.
OCA_MODULE_CHECKS = (
    "import sys; from packaging.version import Version; from oca_pre_commit_hooks import cli, "
    "utils; series = Version(sys.argv.pop(1)); utils.manifest_version = lambda _path: series; "
    "sys.exit(cli.main())"
)


def _addon_files(pattern="*"):
    """The addons' files as pre-commit would pass them (hooks take files, not folders)."""
    return sorted(
        str(path.relative_to(ROOT))
        for addon in (*ADDONS, BENCH_ADDON)
        for path in (ROOT / addon).rglob(pattern)
        if path.is_file() and "__pycache__" not in path.parts
    )


def lint(vpython, config):
    """Run the lint steps; the version-bound checks of both linters apply as of the newest
    series listed, whose checks (each one a minimum series) include the older ones'."""
    say("lint: " + ", ".join(config["lint"]))
    series = max(config["odoo_series"], key=lambda name: tuple(map(int, name.split("."))))
    pylint = ["--rcfile=.pylintrc", f"--valid-odoo-versions={series}", *ADDONS, BENCH_ADDON]
    steps = {
        "ruff": [
            [str(vpython), "-m", "ruff", "check", "."],
            [str(vpython), "-m", "ruff", "format", "--check", "."],
        ],
        "pylint-odoo": [[str(vpython), "-m", "pylint", *pylint]],
        "oca-hooks": [
            [str(vpython), "-c", OCA_MODULE_CHECKS, series, *_addon_files()],
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
