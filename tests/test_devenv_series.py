"""``make test``'s series: what ``.odoo-ci.yml`` lists, where each series' source is found,
and what the summary counts.

An absent source makes the series SKIPPED; a variable naming no source of its series is
an error, so a typo cannot quietly test nothing.
"""

import re

import pytest

from tools.devenv.config import SetupError, read_ci_config
from tools.devenv.provision import odoo_source, source_series, source_variable
from tools.devenv.suites import Result, skip_line

REST = 'python: "3.11"\npostgresql: "15"\ninstall:\n  - sale\ntest_tags: /x\nlint:\n  - ruff\n'


def _config(tmp_path, series):
    path = tmp_path / ".odoo-ci.yml"
    path.write_text(series + REST)
    return read_ci_config(path)


def _odoo_tree(path, major, newline="\n"):
    (path / "odoo").mkdir(parents=True)
    (path / "odoo-bin").write_text("#!/usr/bin/env python3" + newline)
    release = ["RELEASE_LEVELS = []", f"version_info = ({major}, 0, 0, FINAL, 0, '')"]
    (path / "odoo" / "release.py").write_bytes(newline.join(release).encode())
    return path


def test_the_repository_lists_18_and_19():
    assert read_ci_config()["odoo_series"] == ["18.0", "19.0"]


def test_series_list_keeps_its_order(tmp_path):
    config = _config(tmp_path, 'odoo_series:\n  - "19.0"\n  - "18.0"\n')
    assert config["odoo_series"] == ["19.0", "18.0"]


def test_a_single_series_is_a_list_of_one(tmp_path):
    assert _config(tmp_path, 'odoo_series: "18.0"\n')["odoo_series"] == ["18.0"]


@pytest.mark.parametrize(
    "series", ["odoo_series:\n", 'odoo_series: "18"\n', "odoo_series: saas~18.2\n"]
)
def test_an_empty_or_odd_series_is_refused(tmp_path, series):
    with pytest.raises(SetupError, match="odoo_series must name Odoo series"):
        _config(tmp_path, series)


def test_the_default_series_reads_odoo_src_the_others_their_major():
    assert source_variable("18.0", "18.0") == "ODOO_SRC"
    assert source_variable("19.0", "18.0") == "ODOO_SRC_19"


def test_skip_line_names_the_series_and_its_variable():
    assert skip_line("19.0", "ODOO_SRC_19") == (
        "odoo 19.0 suite: SKIPPED (no Odoo 19.0 source; set ODOO_SRC_19)"
    )


def test_source_series_reads_release_py_whatever_its_line_ends(tmp_path):
    assert source_series(_odoo_tree(tmp_path / "18", 18)) == "18.0"
    assert source_series(_odoo_tree(tmp_path / "19", 19, newline="\r\n")) == "19.0"
    assert source_series(tmp_path / "nothing") is None


def test_the_variable_names_the_source(tmp_path, monkeypatch):
    tree = _odoo_tree(tmp_path / "odoo19", 19)
    monkeypatch.setenv("ODOO_SRC_19", str(tree))
    assert odoo_source("19.0", "python3", "ODOO_SRC_19") == tree


@pytest.mark.parametrize("target", ["nonexistent", "odoo18"])
def test_a_variable_naming_no_source_of_its_series_is_an_error(tmp_path, monkeypatch, target):
    _odoo_tree(tmp_path / "odoo18", 18)
    monkeypatch.setenv("ODOO_SRC_19", str(tmp_path / target))
    message = f"ODOO_SRC_19={tmp_path / target} is not an Odoo 19.0 source tree"
    with pytest.raises(SetupError, match=re.escape(message)):
        odoo_source("19.0", "python3", "ODOO_SRC_19")


def test_a_failed_suite_without_a_failing_test_counts_one_failure():
    assert Result.counted(0, 0, 0, ok=False).failed == 1  # e.g. the addon did not install
    assert Result.counted(40, 3, 0, ok=False).failed == 3
    assert Result.counted(40, 0, 2, ok=False).failed == 0  # the total counts skips as failures
    assert Result.counted(40, 0, 0, ok=True).failed == 0
