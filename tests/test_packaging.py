"""The wheel merchants install: name, version, namespace layout and every shipped file."""

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ADDON = ROOT / "payment_klarna"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    # Build from a copy so the checkout gets no build/ or egg-info debris.
    src = tmp_path_factory.mktemp("src") / "repo"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", "__pycache__", ".*cache"))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(src)],
        check=True,
    )  # fmt: skip
    (path,) = out.glob("*.whl")
    return path


def test_wheel_name_and_version_come_from_the_manifest(wheel):
    version = ast.literal_eval((ADDON / "__manifest__.py").read_text())["version"]
    assert wheel.name == f"odoo_addon_payment_klarna-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode()
    assert "Name: odoo-addon-payment_klarna" in text
    assert f"Version: {version}" in text
    assert "Requires-Dist: cryptography" in text
    assert "Requires-Dist: requests" in text


def test_wheel_ships_every_addon_file_in_the_odoo_namespace(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    expected = {
        "odoo/addons/payment_klarna/" + str(p.relative_to(ADDON))
        for p in ADDON.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert expected <= names, sorted(expected - names)
    # A namespace package: installing must not shadow Odoo's own odoo/__init__.py.
    assert "odoo/__init__.py" not in names
    assert "odoo/addons/__init__.py" not in names
    assert not any(n.startswith(("klarna_simulator/", "tests/", "tools/")) for n in names)


def test_manifest_data_files_and_icon_are_packaged(wheel):
    manifest = ast.literal_eval((ADDON / "__manifest__.py").read_text())
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for data in [*manifest["data"], "static/description/icon.png", "data/neutralize.sql"]:
        assert f"odoo/addons/payment_klarna/{data}" in names, data
