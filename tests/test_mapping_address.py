"""Partner data to Klarna addresses: splits, E.164, one error for everything missing, B2B."""

import pytest

from klarna.address import (
    CALLING_CODES,
    PartyData,
    build_address,
    build_addresses,
    build_customer,
    klarna_title,
    split_name,
    split_street,
    to_e164,
)
from klarna.locale import MARKETS
from klarna.mapping_errors import KlarnaMappingError

ANNA = PartyData(
    name="Anna Svensson",
    email="anna@example.se",
    street="Storgatan 12",
    street2="lgh 1101",
    postal_code="114 51",
    city="Stockholm",
    country_code="se",
    phone="070-123 45 67",
    title="Madam",
)


@pytest.mark.parametrize(
    ("street", "country", "name", "number"),
    [
        ("Storgatan 12", "SE", "Storgatan", "12"),
        ("Hauptstr. 5a", "DE", "Hauptstr.", "5a"),
        ("Hauptstr.5", "DE", "Hauptstr.", "5"),
        ("Straße des 17. Juni 135", "DE", "Straße des 17. Juni", "135"),
        ("12 rue de la Paix", "FR", "rue de la Paix", "12"),
        ("12bis, rue de la Paix", "FR", "rue de la Paix", "12bis"),
        ("Rue de la Loi 16", "BE", "Rue de la Loi", "16"),
        ("Kerkstraat 1-3", "NL", "Kerkstraat", "1-3"),
        ("Kerkstraat 12 A", "NL", "Kerkstraat", "12 A"),
        ("2e Jan Steenstraat 5", "NL", "2e Jan Steenstraat", "5"),
        ("Via Roma 10/B", "IT", "Via Roma", "10/B"),
        ("Calle Mayor, 5", "ES", "Calle Mayor", "5"),
        ("1600 Amphitheatre Pkwy", "US", "Amphitheatre Pkwy", "1600"),
        ("350 5th Ave Apt 4", "US", "5th Ave Apt 4", "350"),
        ("10 Downing Street", "GB", "Downing Street", "10"),
        ("Main Street", "US", "Main Street", ""),
        ("  Storgatan   12 ", "SE", "Storgatan", "12"),
    ],
)
def test_split_street(street, country, name, number):
    assert split_street(street, country) == (name, number)


@pytest.mark.parametrize(
    ("name", "given", "family"),
    [
        ("Anna Svensson", "Anna", "Svensson"),
        ("Jan van der Berg", "Jan", "van der Berg"),
        ("Svensson, Anna", "Anna", "Svensson"),
        ("  Anna   Svensson ", "Anna", "Svensson"),
        ("Madonna", "Madonna", ""),
    ],
)
def test_split_name(name, given, family):
    assert split_name(name) == (given, family)


@pytest.mark.parametrize(
    ("phone", "country", "e164"),
    [
        ("070-123 45 67", "SE", "+46701234567"),
        ("+46 70 123 45 67", "SE", "+46701234567"),
        ("0046 70 123 45 67", "SE", "+46701234567"),
        ("+49 (0)30 1234567", "DE", "+49301234567"),
        ("030/1234567", "DE", "+49301234567"),
        ("06 1234 5678", "IT", "+390612345678"),  # Italy keeps the leading 0
        ("(650) 253-0000", "US", "+16502530000"),
        ("1-650-253-0000", "US", "+16502530000"),
        ("011 44 20 7946 0000", "US", "+442079460000"),
        ("020 7946 0000", "GB", "+442079460000"),
        ("06 30 123 4567", "HU", "+36301234567"),
        ("0412 345 678", "AU", "+61412345678"),
        ("+44 20 7946 0000", "SE", "+442079460000"),  # international wins over the country
        ("12", "SE", None),
        ("070 CALL ME", "SE", None),
        ("+46 70 123 45 67 ext. 3", "SE", None),
        ("0201234567", "XX", None),  # national number, unknown country
        ("+0 123 456 789", "SE", None),
        ("", "SE", None),
        (None, "SE", None),
    ],
)
def test_to_e164(phone, country, e164):
    assert to_e164(phone, country) == e164


def test_calling_codes_cover_every_klarna_market():
    assert set(CALLING_CODES) == set(MARKETS)


@pytest.mark.parametrize(
    ("title", "klarna"),
    [
        ("Mister", "Mr"),
        ("Mr.", "Mr"),
        ("Madam", "Mrs"),
        ("Mrs.", "Mrs"),
        ("Miss", "Ms"),
        ("Frau", "Mrs"),
        ("Doctor", None),
        ("Prof.", None),
        (None, None),
    ],
)
def test_title(title, klarna):
    assert klarna_title(title) == klarna


def test_person_address():
    assert build_address(ANNA) == {
        "given_name": "Anna",
        "family_name": "Svensson",
        "title": "Mrs",
        "email": "anna@example.se",
        "street_address": "Storgatan 12",
        "street_name": "Storgatan",
        "street_number": "12",
        "street_address2": "lgh 1101",
        "postal_code": "114 51",
        "city": "Stockholm",
        "country": "SE",
        "phone": "+46701234567",
    }
    assert build_customer(ANNA) is None


def test_us_address_carries_the_state_as_region():
    party = PartyData(
        name="Larry Page",
        email="larry@example.com",
        street="1600 Amphitheatre Pkwy",
        postal_code="94043",
        city="Mountain View",
        country_code="US",
        state_code="ca",
        phone="(650) 253-0000",
    )
    address = build_address(party)
    assert address["region"] == "CA"
    assert address["street_address"] == "1600 Amphitheatre Pkwy"
    assert address["phone"] == "+16502530000"


def test_region_is_only_sent_where_klarna_uses_it():
    party = PartyData(**{**ANNA.__dict__, "state_code": "AB"})
    assert "region" not in build_address(party)


def test_unreadable_phone_is_left_out():
    party = PartyData(**{**ANNA.__dict__, "phone": "ask reception"})
    assert "phone" not in build_address(party)


def test_company_contact():
    party = PartyData(
        **{**ANNA.__dict__, "organization_name": "Acme AB", "registration_id": "SE556000016701"}
    )
    address = build_address(party)
    assert (address["given_name"], address["family_name"]) == ("Anna", "Svensson")
    assert address["organization_name"] == "Acme AB"
    assert build_customer(party) == {
        "type": "organization",
        "organization_registration_id": "SE556000016701",
    }


def test_company_without_registration_number():
    party = PartyData(**{**ANNA.__dict__, "organization_name": "Acme AB"})
    assert build_customer(party) == {"type": "organization"}


def test_missing_fields_give_one_error_naming_fields_not_values():
    party = PartyData(name="Anna", email="anna-at-example", street="Secret Street 1", phone="0701")
    with pytest.raises(KlarnaMappingError) as raised:
        build_address(party, label="shipping address")
    assert raised.value.problems == (
        "shipping address: the last name is missing",
        "shipping address: the postal code is missing",
        "shipping address: the city is missing",
        "shipping address: the country is missing",
        "shipping address: the email address is not valid",
    )
    for personal in ("Anna", "anna-at-example", "Secret", "0701"):
        assert personal not in str(raised.value)


def test_us_address_needs_a_state_and_a_real_country_code():
    party = PartyData(**{**ANNA.__dict__, "country_code": "US"})
    with pytest.raises(KlarnaMappingError, match="the state is missing"):
        build_address(party)
    party = PartyData(**{**ANNA.__dict__, "country_code": "Sweden"})
    with pytest.raises(KlarnaMappingError, match="not an ISO country code"):
        build_address(party)


def test_billing_and_shipping_problems_come_in_one_error():
    with pytest.raises(KlarnaMappingError) as raised:
        build_addresses(PartyData(name=None), PartyData(**{**ANNA.__dict__, "city": " "}))
    assert raised.value.problems == (
        "billing address: the first name is missing",
        "billing address: the last name is missing",
        "billing address: the email address is missing",
        "billing address: the postal code is missing",
        "billing address: the city is missing",
        "billing address: the country is missing",
        "shipping address: the city is missing",
    )


def test_build_addresses():
    company = PartyData(**{**ANNA.__dict__, "organization_name": "Acme AB"})
    shipping = PartyData(**{**ANNA.__dict__, "street": "Hamngatan 3", "street2": None})
    result = build_addresses(company, shipping)
    assert result["billing_address"]["organization_name"] == "Acme AB"
    assert result["shipping_address"]["street_address"] == "Hamngatan 3"
    assert "street_address2" not in result["shipping_address"]
    assert result["customer"] == {"type": "organization"}
    assert set(build_addresses(ANNA)) == {"billing_address"}
