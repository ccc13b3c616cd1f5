"""The wheels merchants install: names, versions, requirements, namespace layout, every file.

Both are built as ``make wheel`` builds them (``tools.devenv.provision.build_wheels``), from
a copy of the repository so the checkout gets no build debris. ``tools/wheel_check.py``
(run by ``make test``) installs them into a fresh environment with Odoo 18.
"""

import ast
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from tools.devenv.provision import build_wheels

ROOT = Path(__file__).resolve().parent.parent
ADDONS = ("payment_klarna", "payment_klarna_stock")


def _manifest(addon):
    return ast.literal_eval((ROOT / addon / "__manifest__.py").read_text())


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    src = tmp_path_factory.mktemp("src") / "repo"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", "__pycache__", ".*cache",
                                                             "dist"))  # fmt: skip
    built = build_wheels(Path(sys.executable), tmp_path_factory.mktemp("dist"), root=src)
    assert not list(src.rglob("*.egg-info")) and not list(src.rglob("build"))
    return dict(zip(ADDONS, built, strict=True))


def _names(wheel):
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _metadata(wheel):
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return archive.read(metadata).decode()


@pytest.mark.parametrize("addon", ADDONS)
def test_wheel_name_and_version_come_from_the_manifest(wheels, addon):
    version = _manifest(addon)["version"]
    assert wheels[addon].name == f"odoo_addon_{addon}-{version}-py3-none-any.whl"
    text = _metadata(wheels[addon])
    assert f"Name: odoo-addon-{addon}" in text
    assert f"Version: {version}" in text
    assert "Requires-Dist: odoo<18.1dev,>=18.0a" in text


def test_main_wheel_requires_its_python_libraries(wheels):
    text = _metadata(wheels["payment_klarna"])
    assert "Requires-Dist: cryptography" in text
    assert "Requires-Dist: requests" in text


def test_bridge_wheel_requires_the_main_wheel(wheels):
    requires = [line for line in _metadata(wheels["payment_klarna_stock"]).splitlines()
                if line.startswith("Requires-Dist:")]  # fmt: skip
    # Odoo's own addons (sale_stock) come with Odoo, not as wheels.
    assert sorted(requires) == [
        "Requires-Dist: odoo-addon-payment_klarna<18.1dev,>=18.0a",
        "Requires-Dist: odoo<18.1dev,>=18.0a",
    ]


@pytest.mark.parametrize("addon", ADDONS)
def test_wheel_ships_every_addon_file_in_the_odoo_namespace(wheels, addon):
    names = _names(wheels[addon])
    expected = {
        f"odoo/addons/{addon}/" + str(p.relative_to(ROOT / addon))
        for p in (ROOT / addon).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert expected <= names, sorted(expected - names)
    assert all(n.startswith((f"odoo/addons/{addon}/", "odoo_addon_")) for n in names)
    # A namespace package: installing must not shadow Odoo's own odoo/__init__.py.
    assert "odoo/__init__.py" not in names
    assert "odoo/addons/__init__.py" not in names


@pytest.mark.parametrize("addon", ADDONS)
def test_manifest_data_files_and_apps_page_are_packaged(wheels, addon):
    names = _names(wheels[addon])
    shipped = [*_manifest(addon).get("data", []), "static/description/index.html",
               "static/description/icon.png"]  # fmt: skip
    for data in shipped:
        assert f"odoo/addons/{addon}/{data}" in names, data
