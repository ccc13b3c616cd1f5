"""The shop the checkout and order-management sections share: carts, simulator, probes.

``Shop`` starts the Klarna simulator (latency 0: no fault rule but one that loses the
authorization callbacks, so only the browser's requests reach Odoo), points the Klarna
provider at it, publishes the demo provider (the floor), and creates the carts: sale
orders of N service lines (distinct products, no taxes, a US customer paying in USD),
each with its portal access token. ``Probe.call`` sends one JSON request and returns,
besides Odoo's answer, what it cost the server: time (Odoo's access line: query time +
remaining time, minus what the simulator spent answering Odoo meanwhile), SQL queries,
and CPU (Odoo's processes and PostgreSQL's, from ``/proc``).
"""

import http.client
import json
import subprocess
import sys
import time

from harness import DB, PORT, ROOT, AccessLog, CpuMeter, jsonrpc, odoo_shell, say

SIM_USER, SIM_PASSWORD = "bench_user", "bench_password"  # the simulator's own, not secrets
SESSION_URL = "/payment/klarna/session"
PREPARE_URL = "/payment/klarna/prepare"
AUTHORIZE_URL = "/payment/klarna/authorize"
TRANSACTION_URL = "/shop/payment/transaction/{order_id}"
DEMO_PAY_URL = "/payment/demo/simulate_payment"
ORDER_MANAGEMENT_URL = "/klarna_bench/order_management"  # bench/addons/klarna_bench_floor

SETUP = """
import json
from odoo.addons.payment_klarna import const
env = env(context=dict(env.context, tracking_disable=True))
plan = json.loads({plan!r})
website = env["website"].get_current_website()
env["ir.config_parameter"].set_param("web.base.url", plan["base_url"])
env["ir.config_parameter"].set_param("web.base.url.freeze", "True")
# Every request of the bench comes from 127.0.0.1: lift the per-address bound of sessions.
env["ir.config_parameter"].set_param(const.SESSIONS_PER_ADDRESS_PARAM, "100000000")
klarna = env.ref("payment_klarna.payment_provider_klarna")
klarna.write({{
    "state": "test", "is_published": True,
    "klarna_api_username": plan["sim_user"], "klarna_api_password": plan["sim_password"],
    "klarna_base_url": plan["sim_url"], "klarna_region": "eu",
    "klarna_checkout_flow": "embedded", "klarna_capture_policy": "manual",
}})
klarna.payment_method_ids.active = True
demo = env.ref("payment.payment_provider_demo")
demo.write({{"state": "test", "is_published": True, "capture_manually": True}})
customer = env["res.partner"].create({{
    "name": "Bench Customer", "email": "bench.customer@example.com",
    "street": "350 Fifth Avenue", "city": "New York", "zip": "10118",
    "state_id": env.ref("base.state_us_27").id, "country_id": env.ref("base.us").id,
    "phone": "+1 212 736 3100",
}})
products = env["product.product"].create([
    {{"name": f"Bench item {{i}}", "type": "service", "list_price": 10 + i % 50,
      "taxes_id": [(5, 0, 0)], "is_published": True}}
    for i in range(max(plan["sizes"]))
])
carts = {{}}
for size in plan["sizes"]:
    for purpose, count in plan["carts"].items():
        for _ in range(count.get(str(size), 0)):
            order = env["sale.order"].create({{
                "partner_id": customer.id, "website_id": website.id,
                "order_line": [
                    (0, 0, {{"product_id": product.id, "product_uom_qty": 1 + i % 3}})
                    for i, product in enumerate(products[:size])
                ],
            }})
            order._portal_ensure_token()
            carts.setdefault(purpose, {{}}).setdefault(str(size), []).append(
                {{"id": order.id, "token": order.access_token, "amount": order.amount_total,
                  "lines": size}}
            )
        env.cr.commit()
print("BENCH-SETUP-OK " + json.dumps({{
    "carts": carts,
    "klarna": {{"provider_id": klarna.id,
                "payment_method_id": env.ref("payment.payment_method_klarna").id}},
    "demo": {{"provider_id": demo.id,
              "payment_method_id": env.ref("payment_demo.payment_method_demo").id}},
}}))
"""


class Simulator:
    """``python -m klarna_simulator`` on a free loopback port, for the bench's run."""

    def __enter__(self):
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv list
            [
                sys.executable,
                "-m",
                "klarna_simulator",
                "--port",
                "0",
                "--username",
                SIM_USER,
                "--password",
                SIM_PASSWORD,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        if "listening on" not in line:
            raise SystemExit(f"the simulator did not start: {line}")
        self.url = line.rsplit(" ", 1)[1].strip()
        self.port = int(self.url.rsplit(":", 1)[1])
        # The customer's browser places the order; Klarna's callback would be a second
        # request racing it into Odoo, measured with it. It is lost instead.
        self.control("POST", "/_sim/faults", {"kind": "lose", "target": "callback", "count": None})
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(10)

    def control(self, method, path, body=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(
                method,
                path,
                body=json.dumps(body).encode() if body is not None else None,
                headers={"Content-Type": "application/json"},
            )
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        if response.status >= 300:
            raise SystemExit(f"simulator {path} answered {response.status}: {data[:300]}")
        return json.loads(data) if data else None

    def timing(self):
        return self.control("GET", "/_sim/timing")

    def approve(self, session_id, category):
        """The customer approves in Klarna's widget: an authorization token for the session."""
        answer = self.control(
            "POST", f"/_sim/sessions/{session_id}/authorize", {"payment_method_category": category}
        )
        return answer["authorization_token"]


def setup(python, src, config, simulator, sizes, carts):
    """Configure the providers and create ``carts`` (``{purpose: {size: count}}``)."""
    plan = {
        "base_url": f"http://127.0.0.1:{PORT}",
        "sim_url": simulator.url,
        "sim_user": SIM_USER,
        "sim_password": SIM_PASSWORD,
        "sizes": list(sizes),
        "carts": {purpose: {str(k): v for k, v in c.items()} for purpose, c in carts.items()},
    }
    total = sum(size * count for c in carts.values() for size, count in c.items())
    say(f"creating the carts: {total} sale order lines in all")
    out = odoo_shell(python, src, config, SETUP.format(plan=json.dumps(plan)))
    found = json.loads(out.split("BENCH-SETUP-OK ", 1)[1].splitlines()[0])
    found["carts"] = {
        purpose: {int(size): orders for size, orders in by_size.items()}
        for purpose, by_size in found["carts"].items()
    }
    return found


def login(login_name="admin", password="admin"):  # noqa: S107 - a throwaway database's admin
    """A session cookie of the administrator, for the bench-only order-management route."""
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"db": DB, "login": login_name, "password": password},
        }
    ).encode()
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    try:
        connection.request(
            "POST",
            "/web/session/authenticate",
            body=body,
            headers={"Content-Type": "application/json"},
        )
        response = connection.getresponse()
        data = json.loads(response.read())
        cookie = response.getheader("Set-Cookie") or ""
    finally:
        connection.close()
    if "error" in data or "session_id=" not in cookie:
        raise SystemExit(f"could not log in as {login_name}: {data.get('error')}")
    return cookie.split(";", 1)[0]


class Probe:
    """One JSON request at a time, with what it cost the server."""

    def __init__(self, server, log_path, simulator):
        self.meter = CpuMeter(server.process.pid)
        self.access = AccessLog(log_path)
        self.simulator = simulator

    def close(self):
        self.access.close()

    def call(self, path, params, cookie=None):
        """``(result, cost)``: cost is ``server_ms`` (Odoo's time without the simulator's),
        ``queries``, ``query_ms``, ``sim_ms``, ``sim_calls``, ``cpu_odoo_ms``,
        ``cpu_pg_ms``, ``wall_ms`` (the client's, connect included)."""
        self.access.skip()
        sim_before = self.simulator.timing()
        cpu_before = self.meter.snapshot()
        started = time.perf_counter()
        result = jsonrpc(path, params, cookie=cookie)
        wall = time.perf_counter() - started
        line = self.access.wait_for(path)
        cpu = self.meter.since(cpu_before) or {"odoo": None, "postgres": None}
        sim_after = self.simulator.timing()
        sim_s = sim_after["seconds"] - sim_before["seconds"]
        return result, {
            "server_ms": (line["query_s"] + line["other_s"] - sim_s) * 1000,
            "queries": line["queries"],
            "query_ms": line["query_s"] * 1000,
            "sim_ms": sim_s * 1000,
            "sim_calls": sim_after["requests"] - sim_before["requests"],
            "cpu_odoo_ms": cpu["odoo"],
            "cpu_pg_ms": cpu["postgres"],
            "wall_ms": wall * 1000,
        }


def pay_params(shop, cart, provider):
    """What the payment form posts to Odoo's ``/shop/payment/transaction/<order>``."""
    return {
        "provider_id": shop[provider]["provider_id"],
        "payment_method_id": shop[provider]["payment_method_id"],
        "token_id": None,
        "amount": cart["amount"],
        "flow": "direct",
        "tokenization_requested": False,
        "landing_route": "/shop/payment/validate",
        "is_validation": False,
        "access_token": cart["token"],
    }


def klarna_checkout(probe, simulator, shop, cart):
    """The widget's three steps on ``cart``, as payment_form.js makes them.

    :return: ``({step: cost}, reference)`` with the steps ``session``, ``transaction``,
        ``prepare`` and ``authorize``
    """
    costs = {}
    session, costs["session"] = probe.call(
        SESSION_URL,
        {
            "provider_id": shop["klarna"]["provider_id"],
            "payment_method_code": "klarna",
            "document_model": "sale.order",
            "document_id": cart["id"],
            "access_token": cart["token"],
        },
    )
    path = TRANSACTION_URL.format(order_id=cart["id"])
    processing, costs["transaction"] = probe.call(path, pay_params(shop, cart, "klarna"))
    tx = {"reference": processing["reference"], "access_token": processing["klarna_access_token"]}
    prepared, costs["prepare"] = probe.call(
        PREPARE_URL,
        {
            **tx,
            "session_id": session["session_id"],
            "session_signature": session["session_signature"],
        },
    )
    token = simulator.approve(session["session_id"], prepared["payment_method_category"])
    placed, costs["authorize"] = probe.call(AUTHORIZE_URL, {**tx, "authorization_token": token})
    if placed["state"] != "authorized":
        raise SystemExit(f"{tx['reference']} is {placed['state']} after authorize")
    return costs, tx["reference"]


def demo_checkout(probe, shop, cart):
    """The floor: Odoo's own transaction route with payment_demo, then its simulated payment.

    :return: ``{step: cost}`` with the steps ``transaction`` and ``place``
    """
    costs = {}
    path = TRANSACTION_URL.format(order_id=cart["id"])
    processing, costs["transaction"] = probe.call(path, pay_params(shop, cart, "demo"))
    _result, costs["place"] = probe.call(
        DEMO_PAY_URL,
        {
            "reference": processing["reference"],
            "payment_details": "4242",
            "simulated_state": "authorized",
        },
    )
    return costs
