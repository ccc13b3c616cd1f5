"""Builds the wheel ``odoo-addon-payment_klarna`` (the setuptools-odoo layout).

The addon lands in the ``odoo.addons`` namespace, its version comes from the
manifest, and every data file, view, static asset and the icon ships with it.
"""

import ast
from pathlib import Path

from setuptools import setup

ADDON = "payment_klarna"
HERE = Path(__file__).resolve().parent
MANIFEST = ast.literal_eval((HERE / ADDON / "__manifest__.py").read_text())
SERIES = ".".join(MANIFEST["version"].split(".")[:2])


def _packages():
    for init in sorted((HERE / ADDON).rglob("__init__.py")):
        relative = init.parent.relative_to(HERE / ADDON)
        yield ".".join(("odoo", "addons", ADDON, *relative.parts))


def _data_files():
    """Everything in the addon that is not Python source or bytecode."""
    return sorted(
        str(path.relative_to(HERE / ADDON))
        for path in (HERE / ADDON).rglob("*")
        if path.is_file() and path.suffix not in {".py", ".pyc"} and "__pycache__" not in path.parts
    )


setup(
    name=f"odoo-addon-{ADDON}",
    version=MANIFEST["version"],
    description=MANIFEST["summary"],
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    author=MANIFEST["author"],
    url=MANIFEST["website"],
    license=MANIFEST["license"],
    packages=list(_packages()),
    package_dir={f"odoo.addons.{ADDON}": ADDON},
    package_data={f"odoo.addons.{ADDON}": _data_files()},
    include_package_data=False,
    python_requires=">=3.10",
    install_requires=[
        f"odoo>={SERIES}a,<{SERIES[:-1]}{int(SERIES[-1]) + 1}dev",
        *MANIFEST["external_dependencies"]["python"],
    ],
    classifiers=[
        "Programming Language :: Python",
        "Framework :: Odoo",
        f"Framework :: Odoo :: {SERIES}",
        "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)",
    ],
    zip_safe=False,
)
