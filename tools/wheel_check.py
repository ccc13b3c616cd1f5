"""The merchants' install: both wheels in a fresh virtual environment, found by Odoo.

usage: wheel_check.py ODOO_SRC

It builds the two wheels for the series of ``ODOO_SRC`` as ``make wheel`` does, creates
an empty virtual environment, installs that Odoo into it (editable, from a folder of
links to ``ODOO_SRC``, so the source tree stays untouched), then ``pip install``s both
wheels, whose declared requirements ``pip check`` must find met offline (a wheel of
another series would not be). Odoo's third-party libraries come from the running interpreter's
environment (the series' own) through a ``.pth`` file, so nothing is downloaded.

In that environment, with Odoo's default options (no ``--addons-path``), Odoo must list
both addons among its modules, locate them in the environment's ``site-packages``, read
their manifests as installable, at the version of its series (``19.0.1.0.0``). Prints
``wheels: both addons found by Odoo`` on success.
"""

import json
import re
import subprocess
import sys
import sysconfig
import tempfile
import venv
from pathlib import Path

from devenv.config import ADDONS
from devenv.provision import build_wheels, source_series

ASK_ODOO = """
import json
import odoo
from odoo.modules import module
from odoo.tools import config

config.parse_config([])  # Odoo's defaults: no addons path given
module.initialize_sys_path()
found = {}
for name in %r:
    path = module.get_module_path(name, display_warning=False)
    found[name] = {
        "listed": name in module.get_modules(),
        "path": path or "",
        "version": path and module.get_manifest(name)["version"],
        "installable": bool(path) and module.get_manifest(name)["installable"],
        "series": odoo.release.series,
    }
print(json.dumps(found))
"""


def main(odoo_src):
    odoo_src = Path(odoo_src).resolve()
    series = source_series(odoo_src)
    with tempfile.TemporaryDirectory(prefix="klarna-wheels-") as tmp:
        tmp = Path(tmp)
        wheels = build_wheels(Path(sys.executable), tmp / "dist", series)
        # The wheel's version (odoo_addon_<addon>-<version>-py3-none-any.whl) is Odoo's.
        versions = {name: wheel.name.split("-")[1]
                    for name, wheel in zip(ADDONS, wheels, strict=True)}  # fmt: skip
        env_dir = tmp / "venv"
        venv.create(env_dir, with_pip=True)
        python = env_dir / "bin" / "python"
        site = Path(
            subprocess.run(
                [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                capture_output=True, text=True, check=True,
            ).stdout.strip()
        )  # fmt: skip
        (site / "odoo-requirements.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        # Odoo's setup.py writes its egg-info next to itself: give it a folder of links.
        project = tmp / "odoo-project"
        project.mkdir()
        for name in ("setup.py", "setup.cfg", "MANIFEST.in", "README.md", "LICENSE", "odoo",
                     "setup", "addons"):  # fmt: skip
            if (odoo_src / name).exists():  # a source export may lack README.md
                (project / name).symlink_to(odoo_src / name)
        pip = [python, "-m", "pip", "install", "-q", "--no-index", "--disable-pip-version-check"]
        subprocess.run([*pip, "--no-deps", "--no-build-isolation", "-e", project], check=True)
        # Not resolved by pip install: that would resolve Odoo's own install_requires too,
        # which Odoo 19's requirements.txt does not meet on Python 3.11 (lxml_html_clean).
        subprocess.run([*pip, "--no-deps", *wheels], check=True)
        check = [python, "-m", "pip", "check", "--disable-pip-version-check"]
        unmet = re.findall(r"(?im)^odoo-addon-.*", subprocess.run(
            check, capture_output=True, text=True, check=False).stdout)  # fmt: skip
        answer = subprocess.run(
            [python, "-c", ASK_ODOO % (ADDONS,)],
            capture_output=True, text=True, check=True, cwd=tmp,
        )  # fmt: skip
        found = json.loads(answer.stdout)
    print(json.dumps(found, indent=2))
    problems = [
        name
        for name, info in found.items()
        if not info["listed"]
        or not info["path"].startswith(str(site / "odoo" / "addons"))
        or info["version"] != versions[name]
        or not info["installable"]
        or info["series"] != series
    ]
    if problems or unmet:
        print("\n".join(unmet))
        print(f"wheels: FAILED on Odoo {series}: {', '.join(problems) or 'unmet requirements'}")
        return 1
    print(f"wheels: both addons found by Odoo {series}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
