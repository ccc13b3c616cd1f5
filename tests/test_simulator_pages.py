"""The browser side: hosted payment page, SDK stand-in and its endpoints, and the CLI."""

import os
import signal
import subprocess
import sys

import pytest
import requests

from klarna_simulator import Simulator
from klarna_simulator.testing import Receiver, sample_cart

AUTH = ("sim_user", "sim_pass")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def sim():
    with Simulator(*AUTH, port=0, retry_delay=0.01) as simulator:
        yield simulator


def open_session(sim, cart=None):
    answer = requests.post(
        f"{sim.url}/payments/v1/sessions", json=cart or sample_cart(), auth=AUTH, timeout=5
    )
    return answer.json()


MERCHANT = {
    "success": "https://shop.test/ok?sid={{session_id}}&token={{authorization_token}}",
    "cancel": "https://shop.test/cancel",
    "failure": "https://shop.test/failed",
}


def create_hpp(sim, session_id, **extra):
    body = {
        "payment_session_url": f"{sim.url}/payments/v1/sessions/{session_id}",
        "merchant_urls": MERCHANT,
        **extra,
    }
    return requests.post(f"{sim.url}/hpp/v1/sessions", json=body, auth=AUTH, timeout=5)


def read_hpp(sim, hpp_id):
    return requests.get(f"{sim.url}/hpp/v1/sessions/{hpp_id}", auth=AUTH, timeout=5).json()


def test_hpp_approve_redirects_to_success_with_placeholders_and_calls_back(sim):
    with Receiver() as receiver:
        cart = sample_cart(merchant_urls={"authorization": f"{receiver.url}/cb"})
        session_id = open_session(sim, cart)["session_id"]
        created = create_hpp(sim, session_id)
        assert created.status_code == 201
        hpp = created.json()
        assert read_hpp(sim, hpp["session_id"])["status"] == "WAITING"
        page = requests.get(hpp["redirect_url"], timeout=5)
        assert 'id="klarna-sim-hpp-approve"' in page.text
        assert read_hpp(sim, hpp["session_id"])["status"] == "IN_PROGRESS"
        answer = requests.post(
            f"{hpp['redirect_url']}/approve",
            data={"payment_method_category": "pay_over_time"},
            allow_redirects=False,
            timeout=5,
        )
        assert receiver.wait_for(1)
    read = read_hpp(sim, hpp["session_id"])
    token = read["authorization_token"]
    assert answer.status_code == 303
    assert answer.headers["Location"] == (
        f"https://shop.test/ok?sid={hpp['session_id']}&token={token}"
    )
    assert read["status"] == "COMPLETED"
    assert sim.state.authorizations[token].category == "pay_over_time"
    assert receiver.bodies() == [{"authorization_token": token, "session_id": session_id}]


@pytest.mark.parametrize(
    ("action", "status", "location"),
    [("cancel", "CANCELLED", MERCHANT["cancel"]), ("fail", "FAILED", MERCHANT["failure"])],
)
def test_hpp_cancel_and_fail_redirect_to_their_urls(sim, action, status, location):
    hpp = create_hpp(sim, open_session(sim)["session_id"]).json()
    answer = requests.post(f"{hpp['redirect_url']}/{action}", allow_redirects=False, timeout=5)
    assert (answer.status_code, answer.headers["Location"]) == (303, location)
    assert read_hpp(sim, hpp["session_id"])["status"] == status
    again = requests.post(f"{hpp['redirect_url']}/approve", allow_redirects=False, timeout=5)
    assert again.status_code == 409
    assert sim.state.authorizations == {}


def test_hpp_place_order_mode_creates_the_order(sim):
    hpp = create_hpp(
        sim, open_session(sim)["session_id"], options={"place_order_mode": "CAPTURE_ORDER"}
    ).json()
    requests.post(f"{hpp['redirect_url']}/approve", allow_redirects=False, timeout=5)
    order = sim.state.orders[read_hpp(sim, hpp["session_id"])["order_id"]]
    assert order.status == "CAPTURED"


def test_hpp_needs_a_live_payment_session(sim):
    answer = create_hpp(sim, "no-such-session")
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "BAD_VALUE"


def test_sdk_script_is_served_with_its_api_and_selectors(sim):
    answer = requests.get(f"{sim.url}/kp/lib/v1/api.js", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/javascript")
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    for needle in (
        "document.currentScript",
        "window.Klarna.Payments",
        "klarna-sim-approve",
        "klarna-sim-decline",
        "klarna-sim-close",
        "data-klarna-sim-category",
    ):
        assert needle in answer.text


def test_sdk_load_reports_whether_the_category_is_offered(sim):
    requests.post(
        f"{sim.url}/_sim/config", json={"payment_method_categories": ["pay_later"]}, timeout=5
    )
    token = open_session(sim)["client_token"]
    load = f"{sim.url}/kp/sim/v1/load"
    offered = requests.post(
        load, json={"client_token": token, "payment_method_category": "pay_later"}, timeout=5
    ).json()
    assert (offered["show_form"], offered["name"]) == (True, "Pay later")
    missing = requests.post(
        load, json={"client_token": token, "payment_method_category": "pay_now"}, timeout=5
    ).json()
    assert missing == {"show_form": False}
    unknown = requests.post(
        load, json={"client_token": "nope", "payment_method_category": "pay_later"}, timeout=5
    ).json()
    assert unknown == {"show_form": False}


def test_sdk_authorize_validates_the_data_cart(sim):
    session = open_session(sim)
    url = f"{sim.url}/kp/sim/v1/authorize"
    bad = {"order_amount": 1}
    base = {"client_token": session["client_token"], "payment_method_category": "pay_later"}
    rejected = requests.post(url, json={**base, "data": bad}, timeout=5)
    assert rejected.status_code == 400
    assert rejected.json()["invalid_fields"] == ["order_amount"]
    assert sim.state.authorizations == {}
    approved = requests.post(
        url, json={**base, "data": {"billing_address": {"email": "a@b.se"}}}, timeout=5
    )
    assert approved.status_code == 200
    token = approved.json()["authorization_token"]
    assert sim.state.sessions[session["session_id"]].authorization_token == token
    assert sim.state.sessions[session["session_id"]].cart["billing_address"]["email"] == "a@b.se"


def test_cors_preflight_is_answered(sim):
    answer = requests.options(f"{sim.url}/kp/sim/v1/authorize", timeout=5)
    assert answer.status_code == 204
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    assert answer.headers["Access-Control-Allow-Headers"] == "Content-Type"


def test_order_redirect_hops_to_the_confirmation_url(sim):
    cart = sample_cart(merchant_urls={"confirmation": "https://shop.test/done"})
    token = sim.authorize(open_session(sim, cart)["session_id"])
    placed = requests.post(
        f"{sim.url}/payments/v1/authorizations/{token}/order", json=cart, auth=AUTH, timeout=5
    ).json()
    hop = requests.get(placed["redirect_url"], allow_redirects=False, timeout=5)
    assert (hop.status_code, hop.headers["Location"]) == (303, "https://shop.test/done")


def test_cli_prints_its_url_serves_and_exits_cleanly_on_sigterm():
    process = subprocess.Popen(
        [sys.executable, "-m", "klarna_simulator", "--port", "0", "--signing-key", "1=s"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline().strip()
        url = line.rsplit(" ", 1)[-1]
        assert line.startswith("Klarna simulator listening on http://127.0.0.1:")
        assert requests.get(f"{url}/kp/lib/v1/api.js", timeout=5).status_code == 200
        denied = requests.get(f"{url}/payments/v1/sessions/x", auth=("a", "b"), timeout=5)
        assert denied.status_code == 401
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.stdout.close()


def test_cli_rejects_a_malformed_signing_key():
    result = subprocess.run(
        [sys.executable, "-m", "klarna_simulator", "--signing-key", "nosecret"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert result.returncode == 2
    assert "ID=SECRET" in result.stderr
