"""Storefront stand-ins: On-Site Messaging's script and config, Express Checkout's endpoints."""

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from klarna_simulator import Simulator
from klarna_simulator.addresses import collected_address
from klarna_simulator.config import Config
from klarna_simulator.ledger import secrets_of
from klarna_simulator.markets import MARKET_CURRENCIES, OSM_LOCALES
from klarna_simulator.osm import SCRIPT as OSM_SCRIPT
from klarna_simulator.sdk import SCRIPT as SDK_SCRIPT
from klarna_simulator.testing import Receiver, sample_cart

AUTH = ("sim_user", "sim_pass")
CLIENT_ID = Config.client_id
SIMULATOR_DIR = Path(__file__).resolve().parent.parent / "klarna_simulator"


def config_of(sim, client_id):
    return requests.get(
        f"{sim.url}/web-sdk/sim/v1/config", params={"client_id": client_id}, timeout=5
    )


@pytest.mark.parametrize(
    ("path", "body"), [("/web-sdk/v1/klarna.js", OSM_SCRIPT), ("/kp/lib/v1/api.js", SDK_SCRIPT)]
)
def test_scripts_are_served_as_javascript_with_their_length(sim, path, body):
    answer = requests.get(f"{sim.url}{path}", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/javascript")
    assert answer.headers["Content-Length"] == str(len(body))
    assert answer.content == body
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_osm_script_names_its_hooks():
    text = OSM_SCRIPT.decode()
    for needle in (
        "klarna-placement",
        "klarna-sim-osm",
        "klarna-sim-error",
        "/web-sdk/sim/v1/config",
        "OnsiteMessaging",
        "refresh-placements",
        "window.Klarna = window.Klarna || {}",
    ):
        assert needle in text


def test_config_for_the_known_client_id_serves_the_vocabularies(sim):
    answer = config_of(sim, CLIENT_ID)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["known"], body["client_id"], body["environment"]) == (
        True,
        CLIENT_ID,
        "playground",
    )
    assert body["currencies"] == MARKET_CURRENCIES
    assert body["locales"] == list(OSM_LOCALES)
    assert {"de-DE", "nb-NO", "ro-RO", "en-SK", "hu-HU"} <= set(body["locales"])
    assert "credit-promotion-badge" in body["amount_keys"]
    assert "top-strip-promotion-badge" in body["placement_keys"]
    assert "top-strip-promotion-badge" not in body["amount_keys"]
    assert body["themes"] == ["default", "dark", "custom"]


@pytest.mark.parametrize(
    ("client_id", "status"), [("klarna_test_client_someone_else", 403), ("", 400), (None, 400)]
)
def test_config_refuses_an_unknown_or_missing_client_id(sim, client_id, status):
    answer = config_of(sim, client_id)
    assert answer.status_code == status
    assert answer.json()["known"] is False
    assert answer.json()["error_messages"]


def test_client_id_changes_at_run_time_and_is_validated(sim):
    live = "klarna_live_client_shop-1"
    changed = requests.post(f"{sim.url}/_sim/config", json={"client_id": live}, timeout=5)
    assert changed.json()["client_id"] == live
    assert config_of(sim, live).json()["environment"] == "production"
    assert config_of(sim, CLIENT_ID).status_code == 403
    for bad in ("", "shop_client_1", "klarna_test_client_", "klarna_test_client_a b", 7):
        refused = requests.post(f"{sim.url}/_sim/config", json={"client_id": bad}, timeout=5)
        assert refused.status_code == 400
    assert sim.config.client_id == live
    with pytest.raises(ValueError, match="client_id"):
        Simulator(client_id="klarna_test_client_x\n")


def express_authorize(sim, payload, auto_finalize=False, address="default", **extra):
    body = {
        "client_id": CLIENT_ID,
        "options": {"collect_shipping_address": True, "auto_finalize": auto_finalize},
        "payload": payload,
        "address": address,
        **extra,
    }
    return requests.post(f"{sim.url}/kp/sim/v1/express/authorize", json=body, timeout=5)


def finalize(sim, client_token, data, **extra):
    body = {"client_token": client_token, "data": data, **extra}
    return requests.post(f"{sim.url}/kp/sim/v1/finalize", json=body, timeout=5)


def place_order(sim, token, cart):
    url = f"{sim.url}/payments/v1/authorizations/{token}/order"
    return requests.post(url, json=cart, auth=AUTH, timeout=5)


def jwt_claims(token):
    header, claims, signature = token.split(".")
    assert signature
    assert json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["typ"] == "JWT"
    return json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))


def repriced(cart, shipping):
    """The cart with a shipping line more (SE, 25 % VAT), as the shop re-prices it."""
    tax = shipping // 5
    line = {
        "type": "shipping_fee",
        "name": "Express shipping",
        "quantity": 1,
        "unit_price": shipping,
        "tax_rate": 2500,
        "total_amount": shipping,
        "total_tax_amount": tax,
    }
    return {
        **cart,
        "order_amount": cart["order_amount"] + shipping,
        "order_tax_amount": cart["order_tax_amount"] + tax,
        "order_lines": [*cart["order_lines"], line],
    }


def test_express_authorize_without_auto_finalize_answers_a_jwt_and_no_token(sim):
    answer = express_authorize(sim, sample_cart())
    assert answer.status_code == 200
    body = answer.json()
    assert (body["approved"], body["show_form"], body["finalize_required"]) == (True, True, True)
    assert "authorization_token" not in body
    assert [c["identifier"] for c in body["payment_method_categories"]] == ["klarna"]
    claims = jwt_claims(body["client_token"])
    assert claims["purchase_country"] == "SE"
    assert claims["environment"] == "playground"
    session = sim.state.sessions[claims["session_id"]]
    assert session.express
    assert session.client_token == body["client_token"]
    assert sim.state.client_tokens[body["client_token"]] == session.session_id
    assert sim.state.authorizations == {}
    read = requests.get(
        f"{sim.url}/payments/v1/sessions/{session.session_id}", auth=AUTH, timeout=5
    ).json()
    assert (read["order_amount"], read["purchase_currency"]) == (27900, "SEK")
    assert read["client_token"] == body["client_token"]
    assert read["status"] == "incomplete"


@pytest.mark.parametrize("country", ["SE", "US"])
def test_express_collects_a_default_or_a_changed_address_in_the_purchase_country(sim, country):
    default = express_authorize(sim, sample_cart(country)).json()["collected_shipping_address"]
    changed = express_authorize(sim, sample_cart(country), address="changed").json()
    changed = changed["collected_shipping_address"]
    for address in (default, changed):
        assert address["country"] == country
        assert address["email"].endswith("@example.com")
        assert {"given_name", "family_name", "phone", "street_address", "street_address2"} <= set(
            address
        )
    assert default["postal_code"] != changed["postal_code"]
    if country == "US":
        assert default["region"] != changed["region"]
    claims = jwt_claims(express_authorize(sim, sample_cart(country)).json()["client_token"])
    assert sim.state.sessions[claims["session_id"]].collected_address == default


def test_express_changed_address_in_germany_is_heligoland():
    address = collected_address("DE", "changed")
    assert (address["postal_code"], address["city"]) == ("27498", "Helgoland")
    assert collected_address("DE", "default")["postal_code"] != "27498"
    assert collected_address("GR", "changed")["country"] == "GR"  # the generic fallback


def test_express_client_token_and_collected_address_are_in_the_secrets_ledger(sim):
    body = express_authorize(sim, sample_cart()).json()
    found = secrets_of(sim)
    assert body["client_token"] in found
    assert body["collected_shipping_address"]["email"] in found
    assert body["collected_shipping_address"]["street_address"] in found


def test_express_authorize_with_auto_finalize_authorizes_at_once(sim):
    body = express_authorize(sim, sample_cart(), auto_finalize=True).json()
    assert body["finalize_required"] is False
    authorization = sim.state.authorizations[body["authorization_token"]]
    assert authorization.category == "klarna"
    assert place_order(sim, body["authorization_token"], sample_cart()).status_code == 200
    default = express_authorize(sim, sample_cart(), options=None).json()
    assert default["finalize_required"] is False and default["authorization_token"]


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ({"client_id": "klarna_test_client_other"}, 403),
        ({"client_id": None}, 400),
        ({"address": "elsewhere"}, 400),
        ({"options": {"auto_finalize": "no"}}, 400),
    ],
)
def test_express_authorize_refuses_a_foreign_client_id_and_bad_options(sim, extra, status):
    answer = express_authorize(sim, sample_cart(), **extra)
    assert answer.status_code == status
    assert answer.json()["error_messages"]
    assert sim.state.sessions == {}


def test_express_authorize_validates_the_payload_like_a_session(sim):
    answer = express_authorize(sim, {**sample_cart(), "order_amount": 1})
    assert answer.status_code == 400
    assert answer.json()["invalid_fields"] == ["order_amount"]
    assert express_authorize(sim, None).json()["invalid_fields"] == ["body"]
    assert sim.state.sessions == {}


def test_finalize_with_the_approved_total_authorizes_the_cart_the_order_must_repeat(sim):
    cart = sample_cart()
    client_token = express_authorize(sim, cart).json()["client_token"]
    address = {"email": "shopper@example.com", "country": "SE"}
    final = {**cart, "billing_address": address, "shipping_address": address}
    answer = finalize(sim, client_token, final)
    assert answer.status_code == 200
    token = answer.json()["authorization_token"]
    authorization = sim.state.authorizations[token]
    assert authorization.category == "klarna"
    assert authorization.cart["billing_address"] == address
    different = place_order(sim, token, repriced(cart, 1000))
    assert different.status_code == 400
    assert "order_amount" in " ".join(different.json()["error_messages"])
    assert place_order(sim, token, final).status_code == 200
    # Finalized once: the session waits for nothing more.
    assert finalize(sim, client_token, final).status_code == 403


def test_finalize_with_a_new_total_needs_the_shoppers_confirmation(sim):
    cart = sample_cart()
    client_token = express_authorize(sim, cart).json()["client_token"]
    final = repriced(cart, 4900)
    first = finalize(sim, client_token, final)
    assert first.status_code == 200
    assert first.json() == {
        "reauthorize_required": True,
        "order_amount": final["order_amount"],
        "purchase_currency": "SEK",
    }
    assert sim.state.authorizations == {}
    confirmed = finalize(sim, client_token, final, confirm=True)
    assert confirmed.status_code == 200
    token = confirmed.json()["authorization_token"]
    session_id = jwt_claims(client_token)["session_id"]
    read = requests.get(f"{sim.url}/payments/v1/sessions/{session_id}", auth=AUTH, timeout=5)
    assert read.json()["order_amount"] == final["order_amount"]
    assert read.json()["authorization_token"] == token
    assert place_order(sim, token, final).status_code == 200


def test_finalize_validates_the_cart(sim):
    client_token = express_authorize(sim, sample_cart()).json()["client_token"]
    answer = finalize(sim, client_token, {"order_tax_amount": 1})
    assert answer.status_code == 400
    assert answer.json()["invalid_fields"] == ["order_tax_amount"]
    assert finalize(sim, client_token, None).json()["invalid_fields"] == ["data"]
    assert sim.state.authorizations == {}


def test_finalize_refuses_an_unknown_or_a_non_express_client_token(sim):
    cart = sample_cart()
    assert finalize(sim, "eyJ.not.known", cart).status_code == 404
    assert finalize(sim, None, cart).status_code == 400
    session = requests.post(
        f"{sim.url}/payments/v1/sessions", json=cart, auth=AUTH, timeout=5
    ).json()
    refused = finalize(sim, session["client_token"], cart)
    assert refused.status_code == 403
    assert refused.json()["error_messages"]
    assert sim.state.authorizations == {}


def test_finalize_fires_the_authorization_callback_set_by_a_session_update(sim):
    with Receiver() as receiver:
        client_token = express_authorize(sim, sample_cart()).json()["client_token"]
        session_id = jwt_claims(client_token)["session_id"]
        updated = requests.post(
            f"{sim.url}/payments/v1/sessions/{session_id}",
            json={"merchant_urls": {"authorization": f"{receiver.url}/cb"}},
            auth=AUTH,
            timeout=5,
        )
        assert updated.status_code == 204
        token = finalize(sim, client_token, sample_cart()).json()["authorization_token"]
        assert receiver.wait_for(1)
        assert sim.wait_idle()
    assert receiver.bodies() == [{"authorization_token": token, "session_id": session_id}]


def test_storefront_calls_are_timed(sim):
    config_of(sim, CLIENT_ID)
    express_authorize(sim, sample_cart())
    assert requests.get(f"{sim.url}/_sim/timing", timeout=5).json()["requests"] == 2


@pytest.mark.skipif(not shutil.which("node"), reason="node is not installed")
@pytest.mark.parametrize("script", ["osm.js", "sdk.js"])
def test_scripts_parse(script):
    subprocess.run(["node", "--check", str(SIMULATOR_DIR / script)], check=True, timeout=30)
