"""Simulator helpers for the adversarial suites: requests held at a step, and the secrets ledger."""

import threading

import pytest
import requests

from klarna_simulator import Simulator
from klarna_simulator.ledger import ENV_VARIABLE
from klarna_simulator.testing import sample_cart

AUTH = ("sim_user", "sim_pass")
SESSIONS = "/payments/v1/sessions"


def _create_in_background(sim):
    answers = []

    def send():
        try:
            answers.append(
                requests.post(f"{sim.url}{SESSIONS}", json=sample_cart(), auth=AUTH, timeout=10)
            )
        except requests.ConnectionError as error:
            answers.append(error)

    thread = threading.Thread(target=send)
    thread.start()
    return thread, answers


@pytest.mark.parametrize(("when", "applied"), [("before", 0), ("after", 1)])
def test_hang_holds_the_request_at_its_step_until_released_then_drops_it(sim, when, applied):
    rule = sim.faults.add("hang", method="POST", path=SESSIONS, when=when)
    thread, answers = _create_in_background(sim)
    assert rule.reached.wait(5)
    assert len(sim.state.sessions) == applied
    # Held outside the state lock: the rest of Klarna keeps answering meanwhile.
    other = requests.post(f"{sim.url}{SESSIONS}", json=sample_cart(), auth=AUTH, timeout=5)
    assert other.status_code == 200
    assert thread.is_alive()
    rule.release()
    thread.join(5)
    assert isinstance(answers[0], requests.ConnectionError)
    assert len(sim.state.sessions) == applied + 1


def test_hang_is_listed_by_the_control_api_and_released_by_clear(sim):
    rule = sim.faults.add("hang", path=SESSIONS, delay=30)
    listed = requests.get(f"{sim.url}/_sim/faults", timeout=5).json()
    assert [(item["kind"], item["when"], item["delay"]) for item in listed] == [
        ("hang", "before", 30)
    ]
    thread, answers = _create_in_background(sim)
    assert rule.reached.wait(5)
    sim.faults.clear()
    thread.join(5)
    assert not thread.is_alive()
    assert isinstance(answers[0], requests.ConnectionError)
    assert sim.state.sessions == {}


def test_hang_with_a_delay_lets_go_by_itself():
    with Simulator(*AUTH, port=0, faults=[{"kind": "hang", "path": SESSIONS, "delay": 0.2}]) as sim:
        thread, answers = _create_in_background(sim)
        thread.join(5)
        assert isinstance(answers[0], requests.ConnectionError)


def test_ledger_records_credentials_tokens_and_customer_data_on_stop(tmp_path):
    ledger = tmp_path / "secrets.txt"
    cart = sample_cart(
        billing_address={
            "given_name": "Rita",
            "family_name": "Race",
            "email": "rita.race@example.com",
            "phone": "+46701740615",
            "street_address": "Storgatan 5",
            "postal_code": "11122",
            "city": "Stockholm",
            "country": "SE",
        }
    )
    with Simulator(*AUTH, signing_keys={"v1": "whsec-secret"}, secrets_file=str(ledger)) as sim:
        session = requests.post(f"{sim.url}{SESSIONS}", json=cart, auth=AUTH, timeout=5).json()
        token = sim.authorize(session["session_id"])
        assert not ledger.exists()
    recorded = set(ledger.read_text().splitlines())
    assert {
        "sim_pass",
        "whsec-secret",
        session["client_token"],
        token,
        "rita.race@example.com",
        "+46701740615",
        "Storgatan 5",
    } <= recorded
    assert session["session_id"] not in recorded


def test_ledger_follows_the_environment_and_records_before_a_reset(tmp_path, monkeypatch):
    ledger = tmp_path / "secrets.txt"
    monkeypatch.setenv(ENV_VARIABLE, str(ledger))
    with Simulator(*AUTH) as sim:
        session = requests.post(f"{sim.url}{SESSIONS}", json=sample_cart(), auth=AUTH, timeout=5)
        sim.reset()
        assert session.json()["client_token"] in ledger.read_text().splitlines()


def test_no_ledger_without_a_file(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)
    with Simulator(*AUTH) as sim:
        requests.post(f"{sim.url}{SESSIONS}", json=sample_cart(), auth=AUTH, timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_calls_to_no_endpoint_are_recorded_with_their_raw_path(sim):
    answer = requests.post(
        f"{sim.url}/payments/v1/authorizations/../order", json={}, auth=AUTH, timeout=5
    )
    assert answer.status_code == 404
    requests.get(f"{sim.url}{SESSIONS}", auth=AUTH, timeout=5)  # 405: no GET on sessions
    assert requests.post(f"{sim.url}{SESSIONS}", json=sample_cart(), auth=AUTH, timeout=5).ok
    assert sim.state.unrouted == ["POST /payments/v1/order", f"GET {SESSIONS}"]
