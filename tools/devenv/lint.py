"""Lint: the steps ``.odoo-ci.yml`` names (ruff, pylint-odoo, the OCA hooks)."""

from .config import ADDON, BENCH_ADDON, BRIDGE, ROOT, SetupError, run, say


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
