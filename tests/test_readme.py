"""The OCA-style readme fragments, the addons' README.rst and the repository's README agree.

Without OCA's generator in the toolchain, README.rst is written by hand from
``readme/*.md``: these tests hold the two (and the README's merchant setup) in step,
comparing their words, so markup may differ but no sentence may drift.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRAGMENTS = {"DESCRIPTION.md": None, "CONFIGURE.md": "Configuration", "USAGE.md": "Usage"}


def _words(text):
    """The words of a Markdown or reStructuredText text, without markup, fences, list numbers."""
    lines = [re.sub(r"^\s*(\d+\.|#\.)\s", " ", line) for line in text.splitlines()
             if not line.lstrip().startswith("```")]  # fmt: skip
    return " ".join(re.findall(r"[A-Za-z0-9_]+", "\n".join(lines)))


@pytest.mark.parametrize(
    "addon", ["payment_klarna", "payment_klarna_stock", "payment_klarna_website"]
)
@pytest.mark.parametrize("fragment", sorted(FRAGMENTS))
def test_readme_rst_says_what_each_fragment_says(addon, fragment):
    text = (ROOT / addon / "readme" / fragment).read_text()
    readme = (ROOT / addon / "README.rst").read_text()
    assert _words(text) in _words(readme)
    if FRAGMENTS[fragment]:
        assert f"\n{FRAGMENTS[fragment]}\n====" in readme


def test_readme_merchant_setup_is_the_configure_fragment():
    setup = (ROOT / "README.md").read_text().split("## Merchant setup", 1)[1].split("\n## ")[0]
    assert _words((ROOT / "payment_klarna" / "readme" / "CONFIGURE.md").read_text()) in _words(
        setup
    )


@pytest.mark.parametrize(
    "addon", ["payment_klarna", "payment_klarna_stock", "payment_klarna_website"]
)
def test_apps_page_shows_only_screenshots_that_exist(addon):
    description = ROOT / addon / "static" / "description"
    images = re.findall(r'<img src="([^"]+)"', (description / "index.html").read_text())
    assert images
    for image in images:
        assert (description / image).is_file(), image
