"""German and Swedish ship complete: every term of each addon's .pot is in de.po and sv.po,
translated, with the same placeholders.

When the .pot gains terms, merge them (``msgmerge -U --no-fuzzy-matching --backup=none
<lang>.po <addon>.pot``) and translate the new, empty ones; this test names them.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ADDONS = ("payment_klarna", "payment_klarna_stock", "payment_klarna_website")
LANGUAGES = ("de", "sv")
# Terms written the same in German or Swedish: OCA's po-pretty-format empties a translation
# equal to its term, so these stay empty (Odoo then shows the term itself).
SAME_IN_TRANSLATION = {
    "Code", "ID", "Klarna", "Klarna-Signature (HMAC-SHA256)", "Odoo", "On-Site Messaging",
    "Operation", "Payload-Signature (HMAC-SHA512)", "Region", "Status", "Transfer",
}  # fmt: skip
PLACEHOLDER = re.compile(r"%\(\w+\)s|%s")


def _entries(path):
    """``{msgid: msgstr}`` of a .po/.pot file (header left out)."""
    entries, key, parts = {}, None, {}
    for line in [*path.read_text().splitlines(), ""]:
        match = re.fullmatch(r'(msgid|msgstr) (".*")', line)
        if match:
            key = match.group(1)
            parts[key] = [match.group(2)]
        elif line.startswith('"') and key:
            parts[key].append(line)
        elif not line.strip() and parts:
            text = {k: "".join(ast.literal_eval(p) for p in v) for k, v in parts.items()}
            if text.get("msgid"):
                entries[text["msgid"]] = text.get("msgstr", "")
            key, parts = None, {}
    return entries


@pytest.mark.parametrize("addon", ADDONS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_term_is_translated(addon, lang):
    terms = _entries(ROOT / addon / "i18n" / f"{addon}.pot")
    translations = _entries(ROOT / addon / "i18n" / f"{lang}.po")
    assert terms
    missing = [t for t in terms if t not in translations]
    assert not missing, f"not merged into {lang}.po: {missing}"
    untranslated = [t for t in terms if not translations[t] and t not in SAME_IN_TRANSLATION]
    assert not untranslated, f"to translate in {lang}.po: {untranslated}"


@pytest.mark.parametrize("addon", ADDONS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_the_placeholders(addon, lang):
    for term, translation in _entries(ROOT / addon / "i18n" / f"{lang}.po").items():
        if translation:
            assert sorted(PLACEHOLDER.findall(term)) == sorted(PLACEHOLDER.findall(translation)), (
                term
            )
