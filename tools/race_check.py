"""The authorization callback and the browser race for the same Klarna order.

Test classes run in one rolled-back transaction, so they cannot show what row
locks do between workers. This check runs a real Odoo in prefork mode (separate
processes, separate transactions, committed data) against the local simulator:
for each transaction, Klarna's callback and the browser's authorize call are
fired at the same moment, and exactly one Klarna order must come out of each.
The race is the normal case, so the server log must stay free of ERROR lines about it
(serialization failures, "bad query ... FOR UPDATE"): a merchant reads them as failures.

Usage (``python3 -m tools.devenv test`` runs it): race_check.py ODOO_BIN ODOO_CONF DATABASE
"""

import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from klarna_simulator import Simulator  # noqa: E402

COUNT = 12
# Server log lines a merchant would read as failures of the expected race.
RACE_ERRORS = re.compile(r" (ERROR|CRITICAL) .*|could not serialize access|bad query")
USER, PASSWORD = "race_user", "race_password"  # the simulator's, not secrets

SETUP = """
import json
provider = env.ref("payment_klarna.payment_provider_klarna")
provider.write({{
    "state": "test", "klarna_api_username": {user!r}, "klarna_api_password": {password!r},
    "klarna_base_url": {sim_url!r}, "klarna_capture_policy": "manual",
}})
provider.payment_method_ids.active = True
env["ir.config_parameter"].set_param("web.base.url", {odoo_url!r})
partner = env["res.partner"].create({{
    "name": "Rita Race", "email": "rita.race@example.com", "street": "Hauptstrasse 5",
    "zip": "10115", "city": "Berlin", "country_id": env.ref("base.de").id,
}})
rows = []
for number in range({count}):
    tx = env["payment.transaction"].create({{
        "provider_id": provider.id,
        "payment_method_id": env.ref("payment.payment_method_klarna").id,
        "reference": "race-%d-%d" % (number, partner.id),
        "amount": 49.99, "currency_id": env.ref("base.EUR").id, "partner_id": partner.id,
        "operation": "online_direct",
    }})
    session = provider._klarna_get_client().create_session(tx._klarna_order_payload())
    tx._klarna_attach_session(session.session_id)
    rows.append([tx.reference, tx._klarna_access_token(), session.session_id])
env.cr.commit()
print("RACE-ROWS " + json.dumps(rows))
"""


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback only
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"race: FAILED: {url} did not answer")


def _authorize(odoo_url, reference, access_token, token):
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {
                "reference": reference,
                "access_token": access_token,
                "authorization_token": token,
            },
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback only
        f"{odoo_url}/payment/klarna/authorize",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return json.load(answer)


def _tx_states(odoo_bin, conf, db):
    script = (
        "import json; txs = env['payment.transaction'].search([('reference', '=like', 'race-%')]);"
        "print('RACE-STATE ' + json.dumps({t.reference: [t.state, t.klarna_order_id] "
        "for t in txs}))"
    )
    out = subprocess.run(
        [sys.executable, odoo_bin, "shell", "-c", conf, "-d", db, "--no-http"],
        input=script, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out.split("RACE-STATE ", 1)[1].splitlines()[0])


def _race(sim, odoo_url, rows):
    """Approve every session at once; each approval races its callback against the browser."""
    barrier = threading.Barrier(len(rows))
    errors = []

    def race(reference, access_token, session_id):
        barrier.wait()
        # Approval makes the simulator send the callback at once, asynchronously;
        # the browser's call follows with the same token, as Klarna's SDK would.
        token = sim.authorize(session_id)
        try:
            answer = _authorize(odoo_url, reference, access_token, token)
            if "error" in answer:
                errors.append(f"{reference}: {answer['error']['data']['message']}")
        except OSError as error:
            errors.append(f"{reference}: {error}")

    threads = [threading.Thread(target=race, args=row) for row in rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def main(odoo_bin, conf, db):
    port = _free_port()
    odoo_url = f"http://127.0.0.1:{port}"
    with Simulator(USER, PASSWORD, retry_delay=0.2) as sim:
        setup = SETUP.format(user=USER, password=PASSWORD, sim_url=sim.url, odoo_url=odoo_url,
                             count=COUNT)  # fmt: skip
        out = subprocess.run(
            [sys.executable, odoo_bin, "shell", "-c", conf, "-d", db, "--no-http"],
            input=setup, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if "RACE-ROWS " not in out.stdout:
            print(out.stdout[-2000:], out.stderr[-4000:])
            raise SystemExit("race: FAILED: could not prepare the transactions")
        rows = json.loads(out.stdout.split("RACE-ROWS ", 1)[1].splitlines()[0])
        with tempfile.TemporaryFile(mode="w+") as log:
            server = subprocess.Popen(
                [sys.executable, odoo_bin, "-c", conf, "-d", db, "--db-filter", f"^{db}$",
                 "--http-interface", "127.0.0.1", f"--http-port={port}", "--workers=3",
                 f"--gevent-port={_free_port()}",  # another server may hold the default
                 "--max-cron-threads=1", "--limit-time-real=120", "--log-level=info"],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                _wait_for(f"{odoo_url}/web/login")
                errors = _race(sim, odoo_url, rows)
                sim.wait_idle(30)
                time.sleep(2)  # let a triggered recovery job finish, if any
            finally:
                server.terminate()
                server.wait(timeout=60)
            log.seek(0)
            logged = [
                f"server log: {line.strip()[:300]}" for line in log if RACE_ERRORS.search(line)
            ]
        states = _tx_states(odoo_bin, conf, db)
        orders = {}
        for order in sim.state.orders.values():
            orders.setdefault(order.merchant_reference1, []).append(order.order_id)
        callbacks = sim.state.deliveries_of("callback")
    problems = errors + logged
    # A callback answered 2xx only once its token was stored or the order placed; a busy
    # transaction answered 503 and Klarna called again.
    answered = {delivery.body.get("session_id") for delivery in callbacks if delivery.delivered}
    problems += [f"{ref}: no callback answered 2xx" for ref, _, sid in rows if sid not in answered]
    for reference, *_ in rows:
        state, order_id = states.get(reference, [None, None])
        placed = orders.get(reference, [])
        if len(placed) != 1 or state != "authorized" or order_id not in placed:
            problems.append(f"{reference}: state {state}, Klarna orders {placed}")
    if problems:
        raise SystemExit("race: FAILED: " + "; ".join(problems))
    print(
        f"race: {len(rows)} transactions, callback and browser fired together "
        f"({len(callbacks)} callback deliveries, "
        f"{sum(delivery.status == 503 for delivery in callbacks)} answered 503 and retried), "
        f"{sum(map(len, orders.values()))} Klarna orders, "
        "0 duplicates"
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
