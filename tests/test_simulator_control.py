"""Control endpoints: loopback only, time, expiry, config and waiting for deliveries."""

import socket

import pytest
import requests

from klarna_simulator import Simulator
from klarna_simulator.testing import Receiver, sample_cart

AUTH = ("sim_user", "sim_pass")


@pytest.fixture
def sim():
    with Simulator(*AUTH, port=0, signing_keys={"k1": "secret-value"}) as simulator:
        yield simulator


def place(sim):
    cart = sample_cart()
    session_id = requests.post(
        f"{sim.url}/payments/v1/sessions", json=cart, auth=AUTH, timeout=5
    ).json()["session_id"]
    token = requests.post(f"{sim.url}/_sim/sessions/{session_id}/authorize", timeout=5).json()[
        "authorization_token"
    ]
    return token, cart


def local_address():
    """This machine's non-loopback IPv4 address, if it has one."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 1))
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


def test_control_endpoints_refuse_non_loopback_clients():
    address = local_address()
    if address is None:
        pytest.skip("no non-loopback address to connect from")
    with Simulator(*AUTH, host="0.0.0.0", port=0) as sim:  # noqa: S104 - the test needs it
        remote = f"http://{address}:{sim.port}"
        answer = requests.post(f"{remote}/_sim/reset", timeout=5)
        assert answer.status_code == 403
        assert answer.json()["error_code"] == "FORBIDDEN"
        assert requests.get(f"{remote}/kp/lib/v1/api.js", timeout=5).status_code == 200
        local = f"http://127.0.0.1:{sim.port}/_sim/state"
        assert requests.get(local, timeout=5).status_code == 200


def test_clock_endpoint_advances_time_for_expiry(sim):
    token, cart = place(sim)
    before = requests.get(f"{sim.url}/_sim/clock", timeout=5).json()["now"]
    after = requests.post(
        f"{sim.url}/_sim/clock", json={"advance_seconds": 3601}, timeout=5
    ).json()["now"]
    assert after > before
    answer = requests.post(
        f"{sim.url}/payments/v1/authorizations/{token}/order", json=cart, auth=AUTH, timeout=5
    )
    assert answer.status_code == 404
    bad = requests.post(f"{sim.url}/_sim/clock", json={"advance_seconds": -1}, timeout=5)
    assert bad.status_code == 400


def test_authorization_expiry_endpoint(sim):
    token, cart = place(sim)
    assert requests.post(f"{sim.url}/_sim/authorizations/{token}/expire", timeout=5).ok
    answer = requests.post(
        f"{sim.url}/payments/v1/authorizations/{token}/order", json=cart, auth=AUTH, timeout=5
    )
    assert answer.json()["error_code"] == "NOT_FOUND"


def test_order_expiry_endpoint_lapses_the_authorization(sim):
    token, cart = place(sim)
    order_id = requests.post(
        f"{sim.url}/payments/v1/authorizations/{token}/order", json=cart, auth=AUTH, timeout=5
    ).json()["order_id"]
    expired = requests.post(f"{sim.url}/_sim/orders/{order_id}/expire", timeout=5)
    assert (expired.json()["status"], expired.json()["remaining_authorized_amount"]) == (
        "EXPIRED",
        0,
    )
    again = requests.post(f"{sim.url}/_sim/orders/{order_id}/expire", timeout=5)
    assert again.status_code == 400


def test_config_is_changeable_but_never_shows_secrets(sim):
    config = requests.get(f"{sim.url}/_sim/config", timeout=5).json()
    assert config["signing_keys"] == ["k1"]
    assert "password" not in config
    assert "secret-value" not in str(config)
    refused = requests.post(f"{sim.url}/_sim/config", json={"password": "x"}, timeout=5)
    assert refused.status_code == 400
    invalid = requests.post(f"{sim.url}/_sim/config", json={"fraud_status": "MAYBE"}, timeout=5)
    assert invalid.status_code == 400
    assert sim.config.fraud_status == "ACCEPTED"
    changed = requests.post(f"{sim.url}/_sim/config", json={"max_attempts": 5}, timeout=5)
    assert changed.json()["max_attempts"] == 5


def test_wait_idle_endpoint_returns_once_deliveries_are_done(sim):
    with Receiver() as receiver:
        sim.configure(webhook_url=f"{receiver.url}/hook")
        sim.send_webhook("payment.dispute.created", payload={"dispute_id": "d"})
        answer = requests.post(f"{sim.url}/_sim/wait-idle", json={"timeout": 5}, timeout=10)
        assert answer.json() == {"idle": True}
        assert len(receiver.requests) == 1
