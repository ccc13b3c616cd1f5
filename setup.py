"""Builds the wheel ``odoo-addon-payment_klarna`` (the setuptools-odoo layout).

The addon lands in the ``odoo.addons`` namespace and every data file, view, static
asset and the icon ships with it. One source serves several Odoo series, so the
manifest's version has no series (``1.0.0``; Odoo prefixes its own): the wheel is built
for the series ``ODOO_SERIES`` names, e.g. ``ODOO_SERIES=19.0 pip wheel .`` makes
``odoo-addon-payment_klarna 19.0.1.0.0`` requiring ``odoo>=19.0a,<19.1dev``.
``setup/<bridge>/setup.py`` builds each bridge's wheel (``payment_klarna_stock``,
``payment_klarna_website``) with the same function; ``make wheel`` builds them all for every
series ``.odoo-ci.yml`` lists.
"""

import ast
import os
import re
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent


def _packages(addon_dir, addon):
    for init in sorted(addon_dir.rglob("__init__.py")):
        relative = init.parent.relative_to(addon_dir)
        yield ".".join(("odoo", "addons", addon, *relative.parts))


def _data_files(addon_dir):
    """Everything in the addon that is not Python source or bytecode."""
    return sorted(
        str(path.relative_to(addon_dir))
        for path in addon_dir.rglob("*")
        if path.is_file() and path.suffix not in {".py", ".pyc"} and "__pycache__" not in path.parts
    )


def setup_addon(addon, project_dir):
    """Build ``odoo-addon-<addon>`` from ``HERE/<addon>``, run from ``project_dir``.

    Setuptools wants the package directory relative to the folder holding the
    ``setup.py`` being run, hence ``project_dir``.
    """
    addon_dir = HERE / addon
    manifest = ast.literal_eval((addon_dir / "__manifest__.py").read_text())
    series = os.environ.get("ODOO_SERIES", "")
    if not re.fullmatch(r"\d+\.0", series):
        raise SystemExit(
            f"set ODOO_SERIES to the Odoo series to build for, e.g. 18.0 (not {series!r})"
        )
    next_series = f"{series.split('.')[0]}.1"
    readme = addon_dir / "README.rst"
    setup(
        name=f"odoo-addon-{addon}",
        version=f"{series}.{manifest['version']}",
        description=manifest["summary"],
        long_description=readme.read_text(),
        long_description_content_type="text/x-rst",
        author=manifest["author"],
        url=manifest["website"],
        license=manifest["license"],
        packages=list(_packages(addon_dir, addon)),
        package_dir={f"odoo.addons.{addon}": os.path.relpath(addon_dir, project_dir)},
        package_data={f"odoo.addons.{addon}": _data_files(addon_dir)},
        include_package_data=False,
        python_requires=">=3.10",
        install_requires=[
            f"odoo>={series}a,<{next_series}dev",
            # The addons of this repository it depends on, as their wheels.
            *(
                f"odoo-addon-{dep}>={series}a,<{next_series}dev"
                for dep in manifest["depends"]
                if (HERE / dep / "__manifest__.py").exists()
            ),
            *manifest.get("external_dependencies", {}).get("python", []),
        ],
        classifiers=[
            "Programming Language :: Python",
            "Framework :: Odoo",
            f"Framework :: Odoo :: {series}",
        ],
        zip_safe=False,
    )


if __name__ == "__main__":
    setup_addon("payment_klarna", HERE)
