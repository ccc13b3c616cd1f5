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
