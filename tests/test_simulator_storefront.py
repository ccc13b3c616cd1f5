"""Storefront stand-ins: On-Site Messaging's script and config, Express Checkout's endpoints."""

import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from klarna_simulator import Simulator
from klarna_simulator.config import Config
from klarna_simulator.markets import MARKET_CURRENCIES, OSM_LOCALES
from klarna_simulator.osm import SCRIPT as OSM_SCRIPT
from klarna_simulator.sdk import SCRIPT as SDK_SCRIPT

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


@pytest.mark.skipif(not shutil.which("node"), reason="node is not installed")
@pytest.mark.parametrize("script", ["osm.js", "sdk.js"])
def test_scripts_parse(script):
    subprocess.run(["node", "--check", str(SIMULATOR_DIR / script)], check=True, timeout=30)
