"""Shipping addresses Express Checkout "collects": test-shaped, two per purchase country.

``default`` is a plain address; ``changed`` is another one in the same country whose
postal code a merchant may tax differently (Heligoland is outside the EU VAT territory,
the US one is in another state), so a tour can check that the shop re-prices after the
shopper chose an address in Klarna's pop-up.
"""

CHOICES = ("default", "changed")

# country: (phone, (street, postal code, city, region) for default, the same for changed)
_TABLE = {
    "AT": ("+436641234567", ("Mariahilfer Straße 1", "1060", "Wien", ""),
           ("Getreidegasse 9", "5020", "Salzburg", "")),
    "BE": ("+32470123456", ("Rue de la Loi 16", "1000", "Bruxelles", ""),
           ("Meir 50", "2000", "Antwerpen", "")),
    "CH": ("+41791234567", ("Bahnhofstrasse 1", "8001", "Zürich", ""),
           ("Rue du Rhône 10", "1204", "Genève", "")),
    "DE": ("+4917612345678", ("Hellersbergstraße 14", "41460", "Neuss", ""),
           ("Lung Wai 27", "27498", "Helgoland", "")),
    "DK": ("+4520123456", ("Strøget 1", "1160", "København K", ""),
           ("Søndergade 1", "8000", "Aarhus C", "")),
    "ES": ("+34612345678", ("Calle de Alcalá 1", "28014", "Madrid", ""),
           ("Calle del Castillo 1", "38002", "Santa Cruz de Tenerife", "")),
    "FI": ("+358401234567", ("Mannerheimintie 1", "00100", "Helsinki", ""),
           ("Torggatan 1", "22100", "Mariehamn", "")),
    "FR": ("+33612345678", ("1 Rue de Rivoli", "75001", "Paris", ""),
           ("1 Cours Napoléon", "20000", "Ajaccio", "")),
    "GB": ("+447700900123", ("10 Test Street", "SW1A 1AA", "London", ""),
           ("1 Donegall Square", "BT1 5GS", "Belfast", "")),
    "IT": ("+393123456789", ("Via del Corso 1", "00186", "Roma", ""),
           ("Via Plan 1", "23041", "Livigno", "")),
    "NL": ("+31612345678", ("Damrak 1", "1012 LG", "Amsterdam", ""),
           ("Coolsingel 40", "3011 AD", "Rotterdam", "")),
    "NO": ("+4791234567", ("Karl Johans gate 1", "0154", "Oslo", ""),
           ("Vei 230-1", "9170", "Longyearbyen", "")),
    "PL": ("+48512345678", ("ul. Marszałkowska 1", "00-624", "Warszawa", ""),
           ("ul. Floriańska 1", "31-019", "Kraków", "")),
    "SE": ("+46701234567", ("Stårgatan 1", "12345", "Ankeborg", ""),
           ("Kungsportsavenyen 1", "41136", "Göteborg", "")),
    "US": ("+13105551234", ("509 Amsterdam Ave", "10024", "New York", "NY"),
           ("1240 W Monroe St", "60607", "Chicago", "IL")),
}  # fmt: skip
_FALLBACK = ("+10000000000", ("Teststreet 1", "12345", "Testcity", ""),
             ("Teststreet 2", "54321", "Othercity", ""))  # fmt: skip


def collected_address(country, choice):
    """The address the shopper picks in the pop-up: ``choice`` is default or changed."""
    phone, default, changed = _TABLE.get(country, _FALLBACK)
    street, postal_code, city, region = default if choice == "default" else changed
    return {
        "given_name": f"Testperson-{country.lower()}",
        "family_name": "Approved",
        "email": f"express-{country.lower()}@example.com",
        "phone": phone,
        "street_address": street,
        "street_address2": "",
        "postal_code": postal_code,
        "city": city,
        "region": region,
        "country": country.upper(),
    }
