"""Odoo partner data to Klarna's ``billing_address``, ``shipping_address`` and ``customer``.

Decisions:

* The partner's name is split at the first space (``"Anna van Dijk"`` -> ``Anna`` /
  ``van Dijk``), or at a comma as ``family, given``; Odoo has a single name field.
* ``street_address`` carries the street line as the customer typed it (right for every
  market); ``street_name``/``street_number`` are added when the line splits cleanly. Countries
  that write the number first (US, GB, FR, ...) are tried number-first.
* Phones become E.164 from national or international notation using the purchase country's
  calling code; a phone that cannot be read is left out rather than sent wrong. Nothing here
  logs, so no personal value reaches a log; errors name fields, never values.
* Missing or unusable required fields (name, email, postal code, city, country, and the state
  where Klarna needs a region) are reported together in one :class:`KlarnaMappingError`.
"""

import re
from dataclasses import dataclass
from types import MappingProxyType

from .mapping_errors import KlarnaMappingError


@dataclass(frozen=True)
class PartyData:
    """One Odoo contact, neutral: ``name`` is the person; ``organization_name`` their company.

    ``title`` is Odoo's title name or shortcut (``"Mister"``, ``"Mr."``); ``registration_id``
    the company's VAT number or registry number.
    """

    name: str | None
    email: str | None = None
    street: str | None = None
    street2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country_code: str | None = None
    state_code: str | None = None
    phone: str | None = None
    title: str | None = None
    organization_name: str | None = None
    registration_id: str | None = None


# Country -> (calling code, national trunk prefix) for the countries Klarna serves.
CALLING_CODES = MappingProxyType(
    {
        "AT": ("43", "0"),
        "BE": ("32", "0"),
        "CH": ("41", "0"),
        "CZ": ("420", ""),
        "DE": ("49", "0"),
        "DK": ("45", ""),
        "ES": ("34", ""),
        "FI": ("358", "0"),
        "FR": ("33", "0"),
        "GB": ("44", "0"),
        "GR": ("30", ""),
        "HU": ("36", "06"),
        "IE": ("353", "0"),
        "IT": ("39", ""),
        "NL": ("31", "0"),
        "NO": ("47", ""),
        "PL": ("48", ""),
        "PT": ("351", ""),
        "RO": ("40", "0"),
        "SE": ("46", "0"),
        "SK": ("421", "0"),
        "US": ("1", "1"),
        "CA": ("1", "1"),
        "MX": ("52", ""),
        "AU": ("61", "0"),
        "NZ": ("64", "0"),
    }
)
_EXIT_PREFIXES = MappingProxyType({"US": "011", "CA": "011", "AU": "0011"})  # else "00"

REGION_COUNTRIES = frozenset({"US", "CA", "AU"})
NUMBER_FIRST_COUNTRIES = frozenset({"US", "CA", "AU", "NZ", "GB", "IE", "FR"})

_TITLES = MappingProxyType(
    {
        **dict.fromkeys(("mr", "mister", "sir", "monsieur", "herr"), "Mr"),
        **dict.fromkeys(("mrs", "madam", "madame", "mme", "frau"), "Mrs"),
        **dict.fromkeys(("ms", "miss", "mademoiselle", "mlle", "fräulein"), "Ms"),
    }
)

_NUMBER = r"\d+(?:\s?(?:bis|ter|[a-z]))?(?:\s?[-/]\s?(?:\d+\s?[a-z]?|[a-z]))?"
_NUMBER_LAST = re.compile(
    rf"(?P<name>.*?[^\W\d_].*?)(?:[\s,]+|(?<=\.))(?P<number>{_NUMBER})", re.IGNORECASE
)
_NUMBER_FIRST = re.compile(rf"(?P<number>{_NUMBER})[\s,]+(?P<name>.*[^\W\d_].*)", re.IGNORECASE)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def split_name(name: str) -> tuple[str, str]:
    """``(given_name, family_name)``; the family name is empty for a single word."""
    name = " ".join(name.split())
    if "," in name:
        family, _, given = name.partition(",")
        return given.strip(), family.strip()
    given, _, family = name.partition(" ")
    return given, family


def split_street(street: str, country_code: str = "") -> tuple[str, str]:
    """``(street_name, street_number)``; the number is empty when none is found."""
    street = " ".join(street.split())
    patterns = (_NUMBER_LAST, _NUMBER_FIRST)
    if country_code.upper() in NUMBER_FIRST_COUNTRIES:
        patterns = patterns[::-1]
    for pattern in patterns:
        match = pattern.fullmatch(street)
        if match:
            return match["name"].strip(" ,"), match["number"]
    return street, ""


def to_e164(phone: str | None, country_code: str) -> str | None:
    """``+<digits>`` for a phone in international or national notation, or ``None``."""
    text = (phone or "").strip().replace("(0)", "")
    international = text.startswith("+")
    digits = re.sub(r"[\s\-./()]", "", text.removeprefix("+"))
    if not re.fullmatch(r"[0-9]+", digits):
        return None
    country = (country_code or "").upper()
    if not international:
        exit_prefix = _EXIT_PREFIXES.get(country, "00")
        if digits.startswith(exit_prefix):
            digits = digits[len(exit_prefix) :]
        elif country in CALLING_CODES:
            code, trunk = CALLING_CODES[country]
            digits = code + (digits[len(trunk) :] if trunk and digits.startswith(trunk) else digits)
        else:
            return None
    if not 8 <= len(digits) <= 15 or digits.startswith("0"):
        return None
    return "+" + digits


def klarna_title(title: str | None) -> str | None:
    """Klarna's ``Mr``/``Mrs``/``Ms`` for an Odoo title; ``None`` for others (Doctor, ...)."""
    return _TITLES.get((title or "").strip().rstrip(".").lower())


def _clean(value) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _address(party: PartyData, label: str, problems: list) -> dict:
    """The address, appending what is missing to ``problems`` (field names, never values)."""
    given, family = split_name(_clean(party.name))
    email = _clean(party.email)
    country = _clean(party.country_code).upper()
    region = _clean(party.state_code).upper()
    required = (
        ("first name", given),
        ("last name", family),
        ("email address", email),
        ("postal code", _clean(party.postal_code)),
        ("city", _clean(party.city)),
        ("country", country),
    )
    missing = [field for field, value in required if not value]
    if country in REGION_COUNTRIES and not region:
        missing.append("state")
    problems.extend(f"{label}: the {field} is missing" for field in missing)
    if email and not _EMAIL.fullmatch(email):
        problems.append(f"{label}: the email address is not valid")
    if country and not re.fullmatch(r"[A-Z]{2}", country):
        problems.append(f"{label}: the country is not an ISO country code")
    address = {
        "given_name": given,
        "family_name": family,
        "title": klarna_title(party.title),
        "email": email,
        "organization_name": _clean(party.organization_name),
    }
    street = _clean(party.street)
    if street:
        street_name, street_number = split_street(street, country)
        address.update(
            street_address=street,
            street_name=street_name,
            street_number=street_number,
        )
    address.update(
        street_address2=_clean(party.street2),
        postal_code=_clean(party.postal_code),
        city=_clean(party.city),
        region=region if country in REGION_COUNTRIES else "",
        country=country,
        phone=to_e164(party.phone, country),
    )
    return {key: value for key, value in address.items() if value}


def build_address(party: PartyData, *, label: str = "billing address") -> dict:
    """A Klarna address; one error listing every missing field (``label`` names the address)."""
    problems = []
    address = _address(party, label, problems)
    if problems:
        raise KlarnaMappingError(problems)
    return address


def build_customer(party: PartyData) -> dict | None:
    """Klarna's ``customer`` for a company buyer; ``None`` for a person (Klarna's default)."""
    if not _clean(party.organization_name):
        return None
    customer = {"type": "organization"}
    registration_id = _clean(party.registration_id)
    if registration_id:
        customer["organization_registration_id"] = registration_id
    return customer


def build_addresses(billing: PartyData, shipping: PartyData | None = None) -> dict:
    """``billing_address``, ``shipping_address`` and ``customer`` with ONE error for both."""
    problems = []
    result = {"billing_address": _address(billing, "billing address", problems)}
    if shipping is not None:
        result["shipping_address"] = _address(shipping, "shipping address", problems)
    if problems:
        raise KlarnaMappingError(problems)
    customer = build_customer(billing)
    if customer:
        result["customer"] = customer
    return result


# The longest text accepted from a Klarna address field (Klarna's own limits are lower).
_MAX_FIELD = 255


def party_from_klarna(address, purchase_country: str) -> PartyData:
    """The contact Klarna collected (Express Checkout's ``collected_shipping_address``).

    The browser hands it over, so it is checked as any outside input: a dict of short
    texts, with what a delivery needs (name, email, street, postal code, city, the
    purchase country, a region where Klarna needs one). Both spellings of the second
    street line (``street_address2``, ``street_address_2``) are read; the country and the
    region are upper-cased.

    :param dict address: the address as the browser received it from Klarna
    :param str purchase_country: the country Klarna authorized the purchase for
    :raise KlarnaMappingError: every problem at once, naming fields, never values
    """
    if not isinstance(address, dict):
        raise KlarnaMappingError(["the address from Klarna is missing"])
    problems = []
    values = {}
    for key, value in address.items():
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > _MAX_FIELD or "\x00" in value:
            problems.append(f"the address field {str(key)[:40]!r} is not valid")
        else:
            values[key] = _clean(value)
    name = " ".join(filter(None, (values.get("given_name"), values.get("family_name"))))
    country = values.get("country", "").upper()
    region = values.get("region", "").upper()
    required = (
        ("given name", values.get("given_name")),
        ("family name", values.get("family_name")),
        ("email address", values.get("email")),
        ("street", values.get("street_address")),
        ("postal code", values.get("postal_code")),
        ("city", values.get("city")),
        ("country", country),
    )
    problems.extend(f"the {field} is missing" for field, value in required if not value)
    if values.get("email") and not _EMAIL.fullmatch(values["email"]):
        problems.append("the email address is not valid")
    if country and country != (purchase_country or "").upper():
        problems.append("the country is not the purchase country")
    if country in REGION_COUNTRIES and not region:
        problems.append("the state is missing")
    if problems:
        raise KlarnaMappingError(problems)
    return PartyData(
        name=name,
        email=values["email"],
        street=values["street_address"],
        street2=values.get("street_address2") or values.get("street_address_2") or None,
        postal_code=values["postal_code"],
        city=values["city"],
        country_code=country,
        state_code=region or None,
        phone=values.get("phone") or None,
        organization_name=values.get("organization_name") or None,
    )
