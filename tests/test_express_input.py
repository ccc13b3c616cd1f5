"""What Klarna Express Checkout takes from the browser: the client token's session and the
address Klarna collected, checked as outside input."""

import base64
import json

import pytest

from klarna.address import PartyData, party_from_klarna
from klarna.client_token import MAX_LENGTH, session_id_of
from klarna.inbound import param_problem
from klarna.mapping_errors import KlarnaMappingError


def _token(claims, header=b'{"alg":"RS256"}'):
    part = lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("=")  # noqa: E731
    return f"{part(header)}.{part(json.dumps(claims).encode())}.{part(b'signature')}"


def test_session_id_of_a_client_token():
    session_id = "0b1d9815-165e-42e2-8867-35bc03789e00"
    assert session_id_of(_token({"session_id": session_id, "base_url": "x"})) == session_id


@pytest.mark.parametrize(
    "token",
    [
        None,
        42,
        "",
        "not a token",
        "a.b",
        "a.b.c.d",
        _token({"no_session": 1}),
        _token({"session_id": 7}),
        _token({"session_id": "../orders/1"}),
        _token({"session_id": "x" * 65}),
        _token(["session_id"]),
        "e30.%%%.c2ln",
        "e30.w6k.c2ln",  # valid base64, not JSON
        "e30." + "é" + ".c2ln",
        _token({"session_id": "s", "pad": "x" * MAX_LENGTH}),
    ],
)
def test_anything_else_names_no_session(token):
    assert session_id_of(token) is None


COLLECTED = {
    "given_name": "Testperson-us",
    "family_name": "Approved",
    "email": "express-us@example.com",
    "phone": "+13105551234",
    "street_address": "509 Amsterdam Ave",
    "street_address2": "Apt 3",
    "postal_code": "10024",
    "city": "New York",
    "region": "ny",
    "country": "us",
}


def test_collected_address_becomes_a_contact():
    party = party_from_klarna(COLLECTED, "US")
    assert party == PartyData(
        name="Testperson-us Approved",
        email="express-us@example.com",
        street="509 Amsterdam Ave",
        street2="Apt 3",
        postal_code="10024",
        city="New York",
        country_code="US",
        state_code="NY",
        phone="+13105551234",
    )


def test_both_spellings_of_the_second_street_line():
    address = {**COLLECTED, "street_address2": None, "street_address_2": "Floor 2"}
    assert party_from_klarna(address, "US").street2 == "Floor 2"


def test_every_problem_at_once_naming_fields_not_values():
    address = {**COLLECTED, "email": "not-an-email", "postal_code": " ", "region": ""}
    with pytest.raises(KlarnaMappingError) as raised:
        party_from_klarna(address, "US")
    assert list(raised.value.problems) == [
        "the postal code is missing",
        "the email address is not valid",
        "the state is missing",
    ]
    assert "not-an-email" not in str(raised.value)


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        (None, "the address from Klarna is missing"),
        ("New York", "the address from Klarna is missing"),
        ({**COLLECTED, "city": ["New York"]}, "the address field 'city' is not valid"),
        ({**COLLECTED, "city": "x" * 256}, "the address field 'city' is not valid"),
        ({**COLLECTED, "city": "New\x00York"}, "the address field 'city' is not valid"),
        ({**COLLECTED, "country": "DE"}, "the country is not the purchase country"),
    ],
)
def test_malformed_addresses_are_refused(address, problem):
    with pytest.raises(KlarnaMappingError) as raised:
        party_from_klarna(address, "US")
    assert problem in raised.value.problems


def test_a_route_parameter_can_require_an_object():
    spec = {"address": "object"}
    assert param_problem({"address": {}}, spec) is None
    assert param_problem({"address": "x"}, spec) == "'address' is not a valid object"
    assert param_problem({"address": []}, spec) == "'address' is not a valid object"
