"""The wheels merchants install: names, versions, requirements, namespace layout, every file.

One source serves every series ``.odoo-ci.yml`` lists: the manifests' versions name no
series, and each series gets its own wheels, built as ``make wheel`` builds them
(``tools.devenv.provision.build_wheels``) from a copy of the repository so the checkout
gets no build debris. ``tools/wheel_check.py`` (run by ``make test``) installs them into
a fresh environment with that series' Odoo.
"""

import ast
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from klarna.version import MODULE_VERSION
from tools.devenv.config import read_ci_config
from tools.devenv.provision import build_wheels

ROOT = Path(__file__).resolve().parent.parent
ADDONS = ("payment_klarna", "payment_klarna_stock", "payment_klarna_website")
SERIES = read_ci_config()["odoo_series"]


def _manifest(addon):
    return ast.literal_eval((ROOT / addon / "__manifest__.py").read_text())


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    src = tmp_path_factory.mktemp("src") / "repo"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", "__pycache__", ".*cache",
                                                             "dist"))  # fmt: skip
    return src


@pytest.fixture(scope="module")
def built(source, tmp_path_factory):
    """Both addons' wheels of every series: ``{series: {addon: wheel}}``."""
    wheels = {}
    for series in SERIES:
        paths = build_wheels(Path(sys.executable), tmp_path_factory.mktemp("dist"), series,
                             root=source)  # fmt: skip
        wheels[series] = dict(zip(ADDONS, paths, strict=True))
    assert not list(source.rglob("*.egg-info")) and not list(source.rglob("build"))
    return wheels


def _names(wheel):
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _metadata(wheel):
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return archive.read(metadata).decode()


@pytest.mark.parametrize("addon", ADDONS)
def test_manifest_version_names_no_series(addon):
    # Odoo prefixes its own series; Odoo 19 skips an addon whose version names 18.0.
    assert re.fullmatch(r"\d+\.\d+\.\d+", _manifest(addon)["version"])


def test_user_agent_version_is_the_manifest_version():
    assert _manifest("payment_klarna")["version"] == MODULE_VERSION


@pytest.mark.parametrize("series", SERIES)
@pytest.mark.parametrize("addon", ADDONS)
def test_wheel_name_and_version_are_the_series_and_the_manifest(built, series, addon):
    version = f"{series}.{_manifest(addon)['version']}"
    assert built[series][addon].name == f"odoo_addon_{addon}-{version}-py3-none-any.whl"
    text = _metadata(built[series][addon])
    assert f"Name: odoo-addon-{addon}" in text
    assert f"Version: {version}\n" in text
    major = series.split(".")[0]
    assert f"Requires-Dist: odoo<{major}.1dev,>={series}a" in text
    assert f"Classifier: Framework :: Odoo :: {series}" in text


@pytest.mark.parametrize("series", SERIES)
def test_main_wheel_requires_its_python_libraries(built, series):
    text = _metadata(built[series]["payment_klarna"])
    assert "Requires-Dist: cryptography" in text
    assert "Requires-Dist: requests" in text


@pytest.mark.parametrize("series", SERIES)
@pytest.mark.parametrize("bridge", ADDONS[1:])
def test_bridge_wheel_requires_the_main_wheel_of_its_series(built, series, bridge):
    requires = [line for line in _metadata(built[series][bridge]).splitlines()
                if line.startswith("Requires-Dist:")]  # fmt: skip
    # Odoo's own addons (sale_stock, website_sale) come with Odoo, not as wheels.
    major = series.split(".")[0]
    assert sorted(requires) == [
        f"Requires-Dist: odoo-addon-payment_klarna<{major}.1dev,>={series}a",
        f"Requires-Dist: odoo<{major}.1dev,>={series}a",
    ]


def test_wheels_of_two_series_differ_only_in_their_metadata(built):
    first, *others = SERIES
    for series in others:
        for addon in ADDONS:
            same = {n for n in _names(built[series][addon]) if not n.startswith("odoo_addon_")}
            assert same == {
                n for n in _names(built[first][addon]) if not n.startswith("odoo_addon_")
            }


def test_building_without_a_series_is_refused(source):
    env = {key: value for key, value in os.environ.items() if key != "ODOO_SERIES"}
    proc = subprocess.run([sys.executable, "setup.py", "--version"], cwd=source, env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode != 0
    assert "set ODOO_SERIES to the Odoo series to build for" in proc.stderr


@pytest.mark.parametrize("addon", ADDONS)
def test_wheel_ships_every_addon_file_in_the_odoo_namespace(built, addon):
    names = _names(built[SERIES[0]][addon])
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
def test_manifest_data_files_and_apps_page_are_packaged(built, addon):
    names = _names(built[SERIES[0]][addon])
    shipped = [*_manifest(addon).get("data", []), "static/description/index.html",
               "static/description/icon.png"]  # fmt: skip
    for data in shipped:
        assert f"odoo/addons/{addon}/{data}" in names, data
