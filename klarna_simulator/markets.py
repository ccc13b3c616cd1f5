"""Klarna's fixed vocabularies: markets with their currency, order line types, intents."""

# purchase_country -> the only purchase_currency Klarna accepts there.
MARKET_CURRENCIES = {
    "AT": "EUR",
    "AU": "AUD",
    "BE": "EUR",
    "CA": "CAD",
    "CH": "CHF",
    "CZ": "CZK",
    "DE": "EUR",
    "DK": "DKK",
    "ES": "EUR",
    "FI": "EUR",
    "FR": "EUR",
    "GB": "GBP",
    "GR": "EUR",
    "HU": "HUF",
    "IE": "EUR",
    "IT": "EUR",
    "MX": "MXN",
    "NL": "EUR",
    "NO": "NOK",
    "NZ": "NZD",
    "PL": "PLN",
    "PT": "EUR",
    "RO": "RON",
    "SE": "SEK",
    "SK": "EUR",
    "US": "USD",
}

LINE_TYPES = frozenset(
    {
        "physical",
        "digital",
        "discount",
        "shipping_fee",
        "sales_tax",
        "gift_card",
        "store_credit",
        "surcharge",
    }
)
# Lines that reduce what the customer pays: their totals can never be positive.
REDUCING_LINE_TYPES = frozenset({"discount", "gift_card", "store_credit"})

INTENTS = frozenset({"buy", "tokenize", "buy_and_tokenize"})

CATEGORY_NAMES = {
    "pay_now": "Pay now",
    "pay_later": "Pay later",
    "pay_over_time": "Pay over time",
    "klarna": "Pay with Klarna",
}
# What the order reports as its payment method, per widget category.
CATEGORY_METHOD_TYPES = {
    "pay_now": "direct_bank_transfer",
    "pay_later": "invoice",
    "pay_over_time": "fixed_amount",
    "klarna": "invoice",
}

# On-Site Messaging: Klarna's OSM locales (OSM API reference), plus RO, SK and HU, which
# Klarna's own WooCommerce package emits (docs/klarna-storefront.md §1.8).
# fmt: off
OSM_LOCALES = (
    "en-AT", "de-AT", "nl-BE", "en-BE", "fr-BE", "en-CH", "de-CH", "it-CH", "fr-CH", "en-CZ",
    "cs-CZ", "de-DE", "en-DE", "da-DK", "en-DK", "es-ES", "en-ES", "fi-FI", "sv-FI", "en-FI",
    "fr-FR", "en-FR", "en-GB", "en-GR", "el-GR", "en-IE", "en-IT", "it-IT", "nl-NL", "en-NL",
    "no-NO", "nb-NO", "en-NO", "en-PL", "pl-PL", "en-PT", "pt-PT", "sv-SE", "en-SE", "en-CA",
    "fr-CA", "es-MX", "en-MX", "en-US", "es-US", "en-AU", "en-NZ", "ro-RO", "en-RO", "sk-SK",
    "en-SK", "hu-HU", "en-HU",
)
# fmt: on
# Placement keys; only the credit promotions show an amount (and need one).
OSM_AMOUNT_KEYS = ("credit-promotion-badge", "credit-promotion-auto-size")
OSM_KEYS = (
    *OSM_AMOUNT_KEYS,
    "top-strip-promotion-badge",
    "top-strip-promotion-auto-size",
    "footer-promotion-auto-size",
    "info-page",
    "sidebar-promotion-auto-size",
)
OSM_THEMES = ("default", "dark", "custom")
# Express Checkout button styling. Klarna's styling page names default (dark), light and
# outlined; its WooCommerce package sends "dark", so that is accepted too.
BUTTON_THEMES = ("default", "dark", "light", "outlined")
BUTTON_SHAPES = ("default", "rect", "pill")
