"""Host selection, authentication, user agent, timeouts and config validation."""

import base64

import pytest
import requests
import responses
from test_client_common import API, PASSWORD, USERNAME, make_client

from klarna.client import KlarnaClient
from klarna.config import KlarnaConfig
from klarna.errors import KlarnaConfigError
from klarna.version import MODULE_VERSION

HOSTS = [
    ("eu", False, "https://api.klarna.com"),
    ("eu", True, "https://api.playground.klarna.com"),
    ("na", False, "https://api-na.klarna.com"),
    ("na", True, "https://api-na.playground.klarna.com"),
    ("oc", False, "https://api-oc.klarna.com"),
    ("oc", True, "https://api-oc.playground.klarna.com"),
]


@pytest.mark.parametrize(("region", "test_mode", "host"), HOSTS)
@responses.activate
def test_region_and_mode_pick_the_host(region, test_mode, host):
    responses.get(f"{host}/payments/v1/sessions/sess-1", json={"status": "incomplete"})
    client = make_client(region=region, test_mode=test_mode)
    assert client.read_session("sess-1").status == "incomplete"
    assert responses.calls[0].request.url == f"{host}/payments/v1/sessions/sess-1"


@responses.activate
def test_base_url_override_wins_and_loses_its_trailing_slash():
    responses.get(
        "http://localhost:8070/sim/payments/v1/sessions/sess-1", json={"status": "incomplete"}
    )
    client = make_client(region="na", test_mode=False, base_url="http://localhost:8070/sim/")
    assert client.read_session("sess-1").status == "incomplete"
    assert len(responses.calls) == 1


@responses.activate
def test_basic_auth_header_carries_username_and_password():
    responses.get(f"{API}/payments/v1/sessions/sess-1", json={"status": "incomplete"})
    make_client().read_session("sess-1")
    expected = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    assert responses.calls[0].request.headers["Authorization"] == f"Basic {expected}"


@responses.activate
def test_user_agent_names_module_and_odoo_versions():
    responses.get(f"{API}/payments/v1/sessions/sess-1", json={"status": "incomplete"})
    make_client(odoo_version="18.0").read_session("sess-1")
    agent = responses.calls[0].request.headers["User-Agent"]
    assert agent.startswith(f"payment_klarna/{MODULE_VERSION} (Odoo/18.0) ")
    assert f"requests/{requests.__version__}" in agent


def test_user_agent_without_odoo_version_has_no_odoo_part():
    agent = KlarnaConfig(USERNAME, PASSWORD).user_agent
    assert agent.startswith(f"payment_klarna/{MODULE_VERSION} Python/")
    assert "Odoo" not in agent


@responses.activate
def test_every_call_has_connect_and_read_timeouts():
    responses.get(f"{API}/payments/v1/sessions/sess-1", json={"status": "incomplete"})
    make_client(connect_timeout=3.0, read_timeout=12.5).read_session("sess-1")
    assert responses.calls[0].request.req_kwargs["timeout"] == (3.0, 12.5)


def test_default_timeouts_are_short():
    assert KlarnaConfig(USERNAME, PASSWORD).timeout == (5.0, 20.0)


def test_password_stays_out_of_repr():
    config = KlarnaConfig(USERNAME, PASSWORD)
    assert PASSWORD not in repr(config)
    assert PASSWORD not in repr(make_client())


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"username": ""}, "username is empty"),
        ({"username": "   "}, "username is empty"),
        ({"username": "PK1:x"}, "colon"),
        ({"password": ""}, "password is empty"),
        ({"password": None}, "password is empty"),
        ({"region": "us"}, "unknown region 'us'"),
        ({"test_mode": "yes"}, "test_mode"),
        ({"base_url": "ftp://sim.local"}, "http:// or https://"),
        ({"base_url": "localhost:8070"}, "http:// or https://"),
        ({"base_url": "https://user:pw@sim.local"}, "credentials"),
        ({"base_url": "https://sim.local/?debug=1"}, "query string"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"read_timeout": True}, "read_timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 2.5}, "max_retries"),
        ({"max_retry_time": -1}, "max_retry_time"),
        ({"lockout_threshold": 0}, "lockout_threshold"),
        ({"lockout_window": 0}, "lockout_window"),
        ({"odoo_version": "18.0\r\nX: y"}, "odoo_version"),
    ],
)
def test_bad_settings_fail_at_construction_with_a_clear_message(overrides, fragment):
    settings = {"username": USERNAME, "password": PASSWORD, **overrides}
    with pytest.raises(KlarnaConfigError, match=fragment) as caught:
        KlarnaConfig(**settings)
    assert isinstance(caught.value, ValueError)


def test_client_refuses_anything_but_a_config():
    with pytest.raises(KlarnaConfigError):
        KlarnaClient({"username": USERNAME, "password": PASSWORD})
