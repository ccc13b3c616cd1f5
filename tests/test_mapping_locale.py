"""Klarna locale from the customer's Odoo language and the purchase country; market table."""

import pytest

from klarna.locale import MARKETS, klarna_locale, market
from klarna.mapping_errors import KlarnaMappingError


@pytest.mark.parametrize(
    ("lang", "country", "locale"),
    [
        ("sv_SE", "SE", "sv-SE"),
        ("en_US", "US", "en-US"),
        ("es_MX", "US", "es-US"),
        ("de_DE", "AT", "de-AT"),  # German from Germany, buying in Austria
        ("de", "CH", "de-CH"),
        ("fr_BE", "BE", "fr-BE"),
        ("nl_NL", "BE", "nl-BE"),
        ("fr_FR", "CA", "fr-CA"),
        ("sv_SE", "FI", "sv-FI"),
        ("nb_NO", "NO", "nb-NO"),
        ("no", "NO", "nb-NO"),
        ("sr@latin", "DE", "en-DE"),
        ("de-DE", "de", "de-DE"),
        # Fallbacks: a language Klarna does not offer in that country gets English there...
        ("fr_FR", "SE", "en-SE"),
        ("pt_BR", "DE", "en-DE"),
        (None, "FI", "en-FI"),
        ("", "NL", "en-NL"),
        # ...and the market's default where Klarna has no English for it.
        ("de_DE", "GB", "en-GB"),
    ],
)
def test_klarna_locale(lang, country, locale):
    assert klarna_locale(lang, country) == locale


def test_every_fallback_is_a_locale_of_the_market():
    for country, info in MARKETS.items():
        assert klarna_locale("xx_XX", country) in info.locales
        assert all(locale.endswith(f"-{country}") for locale in info.locales)


def test_unserved_country_is_refused():
    with pytest.raises(KlarnaMappingError, match="does not serve the purchase country BR"):
        klarna_locale("pt_BR", "BR")
    with pytest.raises(KlarnaMappingError):
        market(None)


def test_markets_by_region():
    regions = {}
    for country, info in MARKETS.items():
        regions.setdefault(info.region, set()).add(country)
    assert regions == {
        "eu": {"AT", "BE", "CH", "CZ", "DE", "DK", "ES", "FI", "FR", "GB", "GR"}
        | {"HU", "IE", "IT", "NL", "NO", "PL", "PT", "RO", "SE", "SK"},
        "na": {"US", "CA", "MX"},
        "oc": {"AU", "NZ"},
    }


@pytest.mark.parametrize(
    ("country", "currency"),
    [
        ("SE", "SEK"),
        ("DE", "EUR"),
        ("CH", "CHF"),
        ("GB", "GBP"),
        ("US", "USD"),
        ("AU", "AUD"),
        ("DK", "DKK"),
        ("NO", "NOK"),
        ("PL", "PLN"),
        ("CZ", "CZK"),
        ("MX", "MXN"),
    ],
)
def test_market_currency(country, currency):
    assert market(country.lower()).currency == currency


def test_markets_table_is_read_only():
    with pytest.raises(TypeError):
        MARKETS["BR"] = MARKETS["SE"]
