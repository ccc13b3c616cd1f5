import uuid

import pytest
import requests

from klarna.authorization_token import is_authorization_token
from klarna_simulator import Simulator
from klarna_simulator.testing import sample_cart


def test_klarnas_uuid_tokens_are_accepted_in_either_case():
    token = str(uuid.uuid4())
    assert is_authorization_token(token)
    assert is_authorization_token(token.upper())


@pytest.mark.parametrize(
    "value",
    [
        "..",
        "../../ordermanagement/v1/orders/x",
        "a6c2dd1a-6a3b-4f1c-9c6f-0e8b7b1b2c3d/../x",
        "a6c2dd1a-6a3b-4f1c-9c6f-0e8b7b1b2c3d\n",
        " a6c2dd1a-6a3b-4f1c-9c6f-0e8b7b1b2c3d",
        "a6c2dd1a6a3b4f1c9c6f0e8b7b1b2c3d",
        "g6c2dd1a-6a3b-4f1c-9c6f-0e8b7b1b2c3d",
        "a6c2dd1a-6a3b-4f1c-9c6f-0e8b7b1b2c3d" * 2,
        "auth-token-1",
        "",
        None,
        42,
        ["a6c2dd1a-6a3b-4f1c-9c6f-0e8b7b1b2c3d"],
        {"token": "a6c2dd1a-6a3b-4f1c-9c6f-0e8b7b1b2c3d"},
        b"a6c2dd1a-6a3b-4f1c-9c6f-0e8b7b1b2c3d",
    ],
)
def test_anything_else_is_refused(value):
    assert not is_authorization_token(value)


def test_simulator_tokens_have_the_shape():
    """The simulator mints tokens as Klarna does; the addon must accept them."""
    with Simulator("u", "p", port=0) as sim:
        session_id = requests.post(
            f"{sim.url}/payments/v1/sessions", json=sample_cart(), auth=("u", "p"), timeout=5
        ).json()["session_id"]
        assert is_authorization_token(sim.authorize(session_id))
