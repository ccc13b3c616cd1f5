"""The simulator rejects every cart Klarna would, over real HTTP, and accepts valid ones."""

import pytest
import requests

from klarna_simulator import Simulator
from klarna_simulator.testing import sample_cart

AUTH = ("sim_user", "sim_pass")


@pytest.fixture
def sim():
    with Simulator(*AUTH, port=0) as simulator:
        yield simulator


def create(sim, cart, auth=AUTH):
    return requests.post(f"{sim.url}/payments/v1/sessions", json=cart, auth=auth, timeout=5)


def line(cart, index=0):
    return cart["order_lines"][index]


@pytest.mark.parametrize("country", ["SE", "US"])
def test_valid_cart_opens_a_session(sim, country):
    answer = create(sim, sample_cart(country))
    assert answer.status_code == 200
    body = answer.json()
    assert body["session_id"] in sim.state.sessions
    assert [c["identifier"] for c in body["payment_method_categories"]] == [
        "pay_later",
        "pay_over_time",
        "pay_now",
    ]
    assert body["client_token"] in sim.state.client_tokens


def test_tax_within_one_minor_unit_is_accepted(sim):
    cart = sample_cart()
    line(cart)["total_tax_amount"] += 1
    cart["order_tax_amount"] += 1
    assert create(sim, cart).status_code == 200


def _drop(field):
    def mutate(cart):
        del cart[field]

    return mutate


def _set_line(field, value, index=0):
    def mutate(cart):
        line(cart, index)[field] = value

    return mutate


def _shift_tax(cart):
    line(cart)["total_tax_amount"] += 2
    cart["order_tax_amount"] += 2


def _double_sales_tax(cart):
    cart["order_lines"].append(dict(line(cart, 2)))
    cart["order_amount"] += line(cart, 2)["total_amount"]


def _us_item_tax(cart):
    line(cart)["tax_rate"] = 800
    line(cart)["total_tax_amount"] = 741


def _sales_tax_outside_us(cart):
    cart["order_lines"].append(
        {
            "type": "sales_tax",
            "name": "Tax",
            "quantity": 1,
            "unit_price": 100,
            "tax_rate": 0,
            "total_amount": 100,
            "total_tax_amount": 0,
        }
    )
    cart["order_amount"] += 100


def _positive_discount(cart):
    discount = line(cart, 1)
    discount.update(unit_price=2000, total_amount=2000, total_tax_amount=400)
    cart["order_amount"] += 4000
    cart["order_tax_amount"] += 800


SE_RULES = [
    *[
        (f"missing {field}", _drop(field), field)
        for field in (
            "purchase_country",
            "purchase_currency",
            "locale",
            "order_amount",
            "order_tax_amount",
            "order_lines",
        )
    ],
    ("float order_amount", lambda c: c.update(order_amount=27900.0), "order_amount"),
    ("bool quantity", _set_line("quantity", True), "order_lines[0].quantity"),
    ("float unit_price", _set_line("unit_price", 12500.0), "order_lines[0].unit_price"),
    ("missing line tax_rate", lambda c: line(c).pop("tax_rate"), "order_lines[0].tax_rate"),
    (
        "total != qty*price-discount",
        _set_line("total_amount", 24999),
        "order_lines[0].total_amount",
    ),
    (
        "negative discount",
        lambda c: line(c).update(total_discount_amount=-100, total_amount=25100),
        "order_lines[0].total_discount_amount",
    ),
    ("tax off by 2", _shift_tax, "order_lines[0].total_tax_amount"),
    ("tax_rate above 10000", _set_line("tax_rate", 10001), "order_lines[0].tax_rate"),
    ("order_amount != sum", lambda c: c.update(order_amount=27901), "order_amount"),
    ("order_tax_amount != sum", lambda c: c.update(order_tax_amount=5581), "order_tax_amount"),
    ("unknown line type", _set_line("type", "service"), "order_lines[0].type"),
    (
        "currency of another market",
        lambda c: c.update(purchase_currency="EUR"),
        "purchase_currency",
    ),
    ("unknown market", lambda c: c.update(purchase_country="JP"), "purchase_country"),
    ("locale format", lambda c: c.update(locale="sv_SE"), "locale"),
    ("sales_tax outside the US", _sales_tax_outside_us, "order_lines[3].type"),
    ("positive discount line", _positive_discount, "order_lines[1].total_amount"),
    ("empty order_lines", lambda c: c.update(order_lines=[]), "order_lines"),
    ("intent", lambda c: c.update(intent="steal"), "intent"),
    (
        "merchant URL scheme",
        lambda c: c.update(merchant_urls={"authorization": "ftp://x"}),
        "merchant_urls.authorization",
    ),
]
US_RULES = [
    ("US item line with tax", _us_item_tax, "order_lines[0].tax_rate"),
    ("US two sales_tax lines", _double_sales_tax, "order_lines"),
    (
        "US order_tax_amount != sales_tax",
        lambda c: c.update(order_tax_amount=0),
        "order_tax_amount",
    ),
]


@pytest.mark.parametrize(
    ("country", "mutate", "field"),
    [pytest.param("SE", mutate, field, id=name) for name, mutate, field in SE_RULES]
    + [pytest.param("US", mutate, field, id=name) for name, mutate, field in US_RULES],
)
def test_each_rule_is_rejected_with_bad_value_naming_the_field(sim, country, mutate, field):
    cart = sample_cart(country)
    mutate(cart)
    answer = create(sim, cart)
    assert answer.status_code == 400
    body = answer.json()
    assert set(body) == {"error_code", "error_messages", "correlation_id"}
    assert body["error_code"] == "BAD_VALUE"
    assert any(f"Bad value: {field}:" in message for message in body["error_messages"])
    assert sim.state.sessions == {}


def test_wrong_credentials_get_401_in_klarnas_format(sim):
    answer = create(sim, sample_cart(), auth=("sim_user", "wrong"))
    assert answer.status_code == 401
    assert answer.json()["error_code"] == "UNAUTHORIZED"
    assert answer.json()["correlation_id"] == answer.headers["Klarna-Correlation-Id"]
    assert requests.post(f"{sim.url}/payments/v1/sessions", json={}, timeout=5).status_code == 401
    assert sim.state.sessions == {}


def test_body_that_is_not_json_is_bad_value(sim):
    answer = requests.post(f"{sim.url}/payments/v1/sessions", data=b"{nope", auth=AUTH, timeout=5)
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "BAD_VALUE"


def test_unknown_endpoint_is_not_found(sim):
    answer = requests.get(f"{sim.url}/payments/v2/whatever", auth=AUTH, timeout=5)
    assert answer.status_code == 404
    assert answer.json()["error_code"] == "NOT_FOUND"


def test_session_update_is_validated_and_read_back(sim):
    session_id = create(sim, sample_cart()).json()["session_id"]
    url = f"{sim.url}/payments/v1/sessions/{session_id}"
    assert requests.post(url, json={"order_amount": 1}, auth=AUTH, timeout=5).status_code == 400
    update = {"merchant_reference1": "S0042"}
    assert requests.post(url, json=update, auth=AUTH, timeout=5).status_code == 204
    read = requests.get(url, auth=AUTH, timeout=5).json()
    assert read["merchant_reference1"] == "S0042"
    assert read["order_amount"] == 27900
    assert read["status"] == "incomplete"
    assert "authorization_token" not in read


def test_session_shows_token_once_authorized_and_expires_after_48_hours(sim):
    session_id = create(sim, sample_cart()).json()["session_id"]
    url = f"{sim.url}/payments/v1/sessions/{session_id}"
    token = sim.authorize(session_id)
    read = requests.get(url, auth=AUTH, timeout=5).json()
    assert (read["status"], read["authorization_token"]) == ("complete", token)
    sim.clock.advance(47 * 3600)
    assert requests.get(url, auth=AUTH, timeout=5).status_code == 200
    sim.clock.advance(3600)
    answer = requests.get(url, auth=AUTH, timeout=5)
    assert answer.status_code == 404
    assert answer.json()["error_code"] == "NOT_FOUND"


def test_control_endpoint_expires_a_session(sim):
    session_id = create(sim, sample_cart()).json()["session_id"]
    assert (
        requests.post(f"{sim.url}/_sim/sessions/{session_id}/expire", timeout=5).status_code == 204
    )
    url = f"{sim.url}/payments/v1/sessions/{session_id}"
    assert requests.get(url, auth=AUTH, timeout=5).status_code == 404
