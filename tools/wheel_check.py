"""The merchants' install: both wheels in a fresh virtual environment, found by Odoo 18.

usage: wheel_check.py ODOO_SRC

It builds the two wheels as ``make wheel`` does, creates an empty virtual environment,
installs Odoo 18 into it (editable, from a folder of links to ``ODOO_SRC``, so the
source tree stays untouched), then ``pip install``s both wheels with their declared
requirements resolved offline. Odoo's third-party libraries come from the running
interpreter's environment through a ``.pth`` file, so nothing is downloaded.

In that environment, with Odoo's default options (no ``--addons-path``), Odoo must list
both addons among its modules, locate them in the environment's ``site-packages``, and
read their manifests. Prints ``wheels: both addons found by Odoo`` on success.
"""

import json
import subprocess
import sys
import sysconfig
import tempfile
import venv
from pathlib import Path

from devenv.config import ADDON, BRIDGE
from devenv.provision import build_wheels

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
        "series": odoo.release.series,
    }
print(json.dumps(found))
"""


def main(odoo_src):
    odoo_src = Path(odoo_src).resolve()
    with tempfile.TemporaryDirectory(prefix="klarna-wheels-") as tmp:
        tmp = Path(tmp)
        wheels = build_wheels(Path(sys.executable), tmp / "dist")
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
            (project / name).symlink_to(odoo_src / name)
        pip = [python, "-m", "pip", "install", "-q", "--no-index", "--disable-pip-version-check"]
        subprocess.run([*pip, "--no-deps", "--no-build-isolation", "-e", project], check=True)
        subprocess.run([*pip, "--find-links", tmp / "dist", *wheels], check=True)
        answer = subprocess.run(
            [python, "-c", ASK_ODOO % ((ADDON, BRIDGE),)],
            capture_output=True, text=True, check=True, cwd=tmp,
        )  # fmt: skip
        found = json.loads(answer.stdout)
    print(json.dumps(found, indent=2))
    problems = [
        name
        for name, info in found.items()
        if not info["listed"]
        or not info["path"].startswith(str(site / "odoo" / "addons"))
        or not info["version"]
        or info["series"] != "18.0"
    ]
    if problems:
        print(f"wheels: Odoo does not find {', '.join(problems)} in {site}")
        return 1
    print("wheels: both addons found by Odoo")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
