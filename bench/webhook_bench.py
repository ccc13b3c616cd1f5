"""Benchmark the Klarna webhook against Odoo's own Stripe webhook, on a real prefork Odoo.

One command (``make bench`` or ``python3 bench/webhook_bench.py``):

1. creates a throwaway database ``klarna_bench`` with payment_klarna, payment_stripe and
   the bench's own ``bench/addons/klarna_bench_floor`` (and their dependencies, without
   demo data), and prepares a Klarna provider with a signing key, a Stripe provider
   with a webhook secret, draft Stripe transactions and pending Klarna transactions;
2. starts Odoo in prefork mode (4 HTTP workers, no cron worker) and measures, in the
   same run with the same flags, the acknowledgement latency (p50/p99, connect time
   included: one new connection per request, as Klarna does), the throughput and the
   server's CPU per request (Odoo's processes and PostgreSQL's, from ``/proc``) at 1
   and 20 concurrent senders for: the Stripe route with an event type Stripe ignores
   (the floor: Odoo's dispatch cost alone, no write), the Stripe route with signed
   ``payment_intent.succeeded`` events completing real transactions (the peer), the
   durable floor (Odoo's dispatch, our signature check and parse, one text row
   committed: what no verified, durable acknowledgement can skip), and our route
   with unique events and with every event delivered twice;
3. restarts the same server with 2 cron workers and measures how fast they drain the
   inbox backlog (at least 5,000 events).

The routes run interleaved in rounds whose order rotates; ratios of throughput are
medians of the rounds' paired ratios, so the VM's drift cancels out. The sender is
stdlib Python on the same machine (loopback only); its cost is the same for every
route. Odoo retries after serialization failures are counted from the server log.
Environment: ``ODOO_PYTHON``, ``ODOO_SRC`` (found with ``python3 -m tools.devenv env`` when unset),
``BENCH_ADDONS`` (the folder holding payment_klarna; the repository by default),
``BENCH_PORT``.
"""

import hashlib
import hmac
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import harness
from harness import (
    WORKERS,
    CpuMeter,
    Server,
    odoo_paths,
    odoo_shell,
    paired,
    psql,
    run_load,
    say,
    summarise,
    write_config,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "payment_klarna"))

from klarna.signature import sign_payload_signature  # noqa: E402

KLARNA_SECRET = "bench-signing-key"  # noqa: S105 - a throwaway bench database
STRIPE_SECRET = "whsec_bench"  # noqa: S105 - a throwaway bench database
KLARNA_URL = "/klarna/webhook"
DURABLE_FLOOR_URL = "/klarna_bench/durable_floor"  # bench/addons/klarna_bench_floor
STRIPE_URL = "/payment/stripe/webhook"
SENDERS = (1, 20)
REQUESTS = {1: 300, 20: 1200}  # per route and round
ROUNDS = 5  # routes interleaved, the order rotated each round
WARMUP = 200
BACKLOG = 5000
KLARNA_ORDERS = 2000

SETUP = """
import json
env = env(context=dict(env.context, tracking_disable=True))
klarna = env.ref("payment_klarna.payment_provider_klarna")
klarna.write({{"state": "test", "klarna_api_username": "PK_bench", "klarna_api_password": "x"}})
env["payment.klarna.signing.key"].create(
    {{"provider_id": klarna.id, "key_id": "1", "secret": {klarna_secret!r}}}
)
stripe = env.ref("payment.payment_provider_stripe")
stripe.write({{
    "state": "test", "stripe_secret_key": "sk_test_bench",
    "stripe_publishable_key": "pk_test_bench",
    "stripe_webhook_secret": {stripe_secret!r},
}})
partner = env.ref("base.partner_admin")
eur = env.ref("base.EUR")
eur.active = True
card = env.ref("payment.payment_method_card")
env["payment.transaction"].create([
    {{"provider_id": stripe.id, "payment_method_id": card.id, "amount": 10.0,
      "currency_id": eur.id, "partner_id": partner.id, "reference": f"BENCH-STRIPE-{{i}}",
      "operation": "online_direct"}}
    for i in range({stripe_txs})
])
env["payment.transaction"].create([
    {{"provider_id": klarna.id, "payment_method_id": env.ref("payment.payment_method_klarna").id,
      "amount": 11.11, "currency_id": eur.id, "partner_id": partner.id,
      "reference": f"BENCH-KLARNA-{{i}}", "klarna_order_id": f"bench-ord-{{i}}",
      "state": "pending"}}
    for i in range({klarna_txs})
])
env.cr.commit()
print("BENCH-SETUP-OK")
"""


def prepare_database(python, src, config, workdir):
    """The bench's database (``harness.prepare_database``) with the webhook routes' data."""
    harness.prepare_database(python, src, config, workdir)
    stripe_txs = sum(REQUESTS.values()) * ROUNDS + WARMUP
    script = SETUP.format(
        klarna_secret=KLARNA_SECRET,
        stripe_secret=STRIPE_SECRET,
        stripe_txs=stripe_txs,
        klarna_txs=KLARNA_ORDERS,
    )
    say(f"creating {stripe_txs} Stripe and {KLARNA_ORDERS} Klarna transactions")
    odoo_shell(python, src, config, script)


def stripe_request(event_type, reference):
    body = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": event_type,
            "data": {
                "object": {
                    "id": f"pi_{uuid.uuid4().hex[:24]}",
                    "object": "payment_intent",
                    "description": reference,
                    "status": "succeeded",
                    "amount": 1000,
                    "currency": "eur",
                }
            },
        }
    ).encode()
    timestamp = int(time.time())
    signature = hmac.new(
        STRIPE_SECRET.encode(), f"{timestamp}.{body.decode()}".encode(), hashlib.sha256
    ).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "Stripe-Signature": f"t={timestamp},v1={signature}",
    }
    return STRIPE_URL, body, headers


class KlarnaEvents:
    """Unique Pay Now status events for the bench's Klarna orders (UNPAID, then PAID)."""

    def __init__(self):
        self.sent = 0

    def next(self):
        index = self.sent
        self.sent += 1
        order = index % KLARNA_ORDERS
        status = "UNPAID" if index < KLARNA_ORDERS else "PAID"
        body = json.dumps(
            {
                "event_id": str(uuid.uuid4()),
                "event_type": "non_guaranteed_payment.updated",
                "occurred_at": "2024-05-30T10:25:55.000Z",
                "payload": {
                    "order_id": f"bench-ord-{order}",
                    "purchase_currency": "EUR",
                    "order_amount": 1111,
                    "payment_status": status,
                    "expected_payments": [
                        {
                            "payment_amount": 1111,
                            "debtor": {"account_holder_name": "Bench Person", "iban": "DE0000"},
                        }
                    ],
                },
            }
        ).encode()
        return body

    @staticmethod
    def signed(body, url=KLARNA_URL):
        signature = sign_payload_signature(body, KLARNA_SECRET, 1, int(time.time() * 1000))
        return (
            url,
            body,
            {"Content-Type": "application/json", "Payload-Signature": signature},
        )


FLOOR = "floor: Stripe, ignored event type"
PEER = "peer: Stripe, payment_intent.succeeded"
DURABLE_FLOOR = "durable floor: verified, one text row committed"
OURS = "ours: Klarna, unique events"
OURS_TWICE = "ours: Klarna, every event twice"
ROUTES = (FLOOR, PEER, DURABLE_FLOOR, OURS, OURS_TWICE)


def ack_benchmarks(klarna, meter):
    stripe_index = iter(range(10**9))

    def peer():
        return stripe_request("payment_intent.succeeded", f"BENCH-STRIPE-{next(stripe_index)}")

    makers = {
        FLOOR: lambda: stripe_request("customer.created", "none"),
        PEER: peer,
        DURABLE_FLOOR: lambda: klarna.signed(klarna.next(), DURABLE_FLOOR_URL),
        OURS: lambda: klarna.signed(klarna.next()),
    }
    say("warming up every worker on every route")
    for make in makers.values():
        run_load([make() for _ in range(WARMUP)], 20)
    runs = {}
    for round_ in range(ROUNDS):
        for senders in SENDERS:
            count = REQUESTS[senders]
            shift = round_ % len(ROUTES)
            for name in ROUTES[shift:] + ROUTES[:shift]:
                if name in makers:
                    requests = [makers[name]() for _ in range(count)]
                else:  # the two copies sent back to back, by different senders
                    requests = []
                    for _ in range(count // 2):
                        item = klarna.signed(klarna.next())
                        requests += [item, item]
                say(f"round {round_ + 1}/{ROUNDS}, {senders} sender(s): {name}")
                runs.setdefault((senders, name), []).append(run_load(requests, senders, meter))
    return [
        {"senders": senders, "name": name, **summarise(runs[(senders, name)])}
        for senders in SENDERS
        for name in ROUTES
    ]


def drain_benchmark(python, src, config, log, klarna):
    pending = int(psql("SELECT count(*) FROM payment_klarna_event WHERE state = 'pending'"))
    if pending < BACKLOG:
        say(f"topping the backlog up from {pending} to {BACKLOG} events through the route")
        with Server(python, src, config, log, cron_workers=0):
            run_load([klarna.signed(klarna.next()) for _ in range(BACKLOG - pending)], 20)
    backlog = int(psql("SELECT count(*) FROM payment_klarna_event WHERE state = 'pending'"))
    say(f"draining {backlog} events with 2 cron workers")
    with Server(python, src, config, log, cron_workers=2):
        started = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            left = int(psql("SELECT count(*) FROM payment_klarna_event WHERE state = 'pending'"))
            now = time.monotonic()
            if started is None and left < backlog:
                started = now
            if left == 0:
                break
            time.sleep(0.2)
        finished = time.monotonic()
    outcome = psql(
        "SELECT string_agg(state || ': ' || n, ', ') FROM "
        "(SELECT state, count(*) n FROM payment_klarna_event GROUP BY state ORDER BY state) s"
    )
    first_last = psql(
        "SELECT extract(epoch FROM max(processed_at) - min(processed_at)) "
        "FROM payment_klarna_event WHERE processed_at IS NOT NULL"
    )
    return {
        "backlog": backlog,
        "seconds": finished - started,
        "rate": backlog / (finished - started),
        "states": outcome,
        "db_span": float(first_last or 0),
        "left": left,
    }


def cpu_text(route):
    cpu = route["cpu"]
    if not cpu:
        return "n/a"
    return f"{cpu['odoo'] + cpu['postgres']:.2f} ({cpu['odoo']:.2f} + {cpu['postgres']:.2f})"


def report(results, drain, retries):
    by = {(r["senders"], r["name"]): r for r in results}
    lines = [
        "| senders | route | requests | req/s (median round) | rounds' req/s | p50 ms | p99 ms "
        "| server CPU ms/request (Odoo + PostgreSQL) | answers |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(r["statuses"].items()))
        lines.append(
            f"| {r['senders']} | {r['name']} | {r['requests']} | {r['throughput']:.0f} | "
            f"{' / '.join(f'{rate:.0f}' for rate in r['rates'])} | "
            f"{r['p50']:.1f} | {r['p99']:.1f} | {cpu_text(r)} | {answers} |"
        )
    lines += [
        "",
        "Ratios of req/s are medians of the rounds' paired ratios (see `paired`).",
        "",
        "| senders | ours/peer p99 | ours/floor p99 | ours/floor req/s | durable floor/floor "
        "req/s | ours/durable floor req/s | ours/peer req/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for senders in SENDERS:
        ours, peer = by[(senders, OURS)], by[(senders, PEER)]
        floor, durable = by[(senders, FLOOR)], by[(senders, DURABLE_FLOOR)]
        lines.append(
            f"| {senders} | {ours['p99'] / peer['p99']:.2f} | {ours['p99'] / floor['p99']:.2f} | "
            f"{paired(ours, floor):.2f} | {paired(durable, floor):.2f} | "
            f"{paired(ours, durable):.2f} | {paired(ours, peer):.2f} |"
        )
    lines += [
        "",
        f"Odoo request retries after serialization failures (server log): {retries}",
        "",
        f"Drain: {drain['backlog']} events in {drain['seconds']:.1f} s = "
        f"**{drain['rate']:.0f} events/s** with 2 cron workers "
        f"(first to last processed_at in the database: {drain['db_span']:.0f} s; "
        f"final states: {drain['states']}; left pending: {drain['left']})",
    ]
    return "\n".join(lines)


def main():
    python, src = odoo_paths()
    workdir = Path(tempfile.mkdtemp(prefix="klarna-bench-"))
    try:
        config = write_config(workdir, src)
        prepare_database(python, src, config, workdir)
        klarna = KlarnaEvents()
        server_log = workdir / "server.log"
        with open(server_log, "w") as log:
            with Server(python, src, config, log, cron_workers=0) as server:
                results = ack_benchmarks(klarna, CpuMeter(server.process.pid))
            drain = drain_benchmark(python, src, config, log, klarna)
        log_text = server_log.read_text()
        retries = log_text.count("tries left")
        crashes = log_text.count("Traceback")
        if crashes:
            first = log_text[log_text.index("Traceback") :][:3000]
            raise SystemExit(f"the server logged {crashes} tracebacks; the first:\n{first}")
        peer_done = psql(
            "SELECT count(*) FROM payment_transaction "
            "WHERE reference LIKE 'BENCH-STRIPE-%' AND state = 'done'"
        )
        print()
        print(
            f"machine: {os.cpu_count()} CPUs; Odoo prefork, {WORKERS} HTTP workers; "
            f"PostgreSQL {psql('SHOW server_version')}; Python {sys.version.split()[0]}"
        )
        print(report(results, drain, retries))
        print(f"Stripe transactions completed by the peer's events: {peer_done}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
