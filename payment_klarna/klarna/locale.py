"""Klarna's markets and the locale a customer sees in them.

Klarna accepts only certain ``language-COUNTRY`` pairs per purchase country; anything else is
refused. The customer's language (Odoo style ``sv_SE``, ``de``, ``fr_BE``) is kept when Klarna
offers it in the purchase country, whatever region the language code carried (German from
Germany buying in Austria gets ``de-AT``); otherwise English for that country, else the
market's first locale.
"""

from types import MappingProxyType
from typing import NamedTuple

from .mapping_errors import KlarnaMappingError


class Market(NamedTuple):
    """A purchase country: API region (``eu``, ``na``, ``oc``), currency, accepted locales.

    The first locale is the market's default.
    """

    region: str
    currency: str
    locales: tuple


MARKETS = MappingProxyType(
    {
        "AT": Market("eu", "EUR", ("de-AT", "en-AT")),
        "BE": Market("eu", "EUR", ("nl-BE", "fr-BE", "en-BE")),
        "CH": Market("eu", "CHF", ("de-CH", "fr-CH", "it-CH", "en-CH")),
        "CZ": Market("eu", "CZK", ("cs-CZ", "en-CZ")),
        "DE": Market("eu", "EUR", ("de-DE", "en-DE")),
        "DK": Market("eu", "DKK", ("da-DK", "en-DK")),
        "ES": Market("eu", "EUR", ("es-ES", "en-ES")),
        "FI": Market("eu", "EUR", ("fi-FI", "sv-FI", "en-FI")),
        "FR": Market("eu", "EUR", ("fr-FR", "en-FR")),
        "GB": Market("eu", "GBP", ("en-GB",)),
        "GR": Market("eu", "EUR", ("el-GR", "en-GR")),
        "HU": Market("eu", "HUF", ("hu-HU", "en-HU")),
        "IE": Market("eu", "EUR", ("en-IE",)),
        "IT": Market("eu", "EUR", ("it-IT", "en-IT")),
        "NL": Market("eu", "EUR", ("nl-NL", "en-NL")),
        "NO": Market("eu", "NOK", ("nb-NO", "en-NO")),
        "PL": Market("eu", "PLN", ("pl-PL", "en-PL")),
        "PT": Market("eu", "EUR", ("pt-PT", "en-PT")),
        "RO": Market("eu", "RON", ("ro-RO", "en-RO")),
        "SE": Market("eu", "SEK", ("sv-SE", "en-SE")),
        "SK": Market("eu", "EUR", ("sk-SK", "en-SK")),
        "US": Market("na", "USD", ("en-US", "es-US")),
        "CA": Market("na", "CAD", ("en-CA", "fr-CA")),
        "MX": Market("na", "MXN", ("es-MX", "en-MX")),
        "AU": Market("oc", "AUD", ("en-AU",)),
        "NZ": Market("oc", "NZD", ("en-NZ",)),
    }
)

# Odoo language codes whose language Klarna names differently.
_LANGUAGE_ALIASES = MappingProxyType({"no": "nb", "nn": "nb"})


def market(country_code: str) -> Market:
    """The market of a purchase country; a clear error for a country Klarna does not serve."""
    country = (country_code or "").strip().upper()
    if country not in MARKETS:
        raise KlarnaMappingError(f"Klarna does not serve the purchase country {country or '-'}")
    return MARKETS[country]


def klarna_locale(lang_code: str | None, country_code: str) -> str:
    """Klarna's locale for a customer's Odoo language in a purchase country."""
    country = (country_code or "").strip().upper()
    locales = market(country).locales
    language = (lang_code or "").replace("-", "_").split("@")[0].split("_")[0].lower()
    language = _LANGUAGE_ALIASES.get(language, language)
    for candidate in (f"{language}-{country}", f"en-{country}"):
        if candidate in locales:
            return candidate
    return locales[0]
