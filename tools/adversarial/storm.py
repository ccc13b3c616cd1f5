"""Webhook storm: signed events for real transactions, duplicated, shuffled, concurrent.

Each transaction has a Klarna order in the simulator (committed data). Pay Now orders
get ``non_guaranteed_payment.updated`` events (UNPAID then PAID, or UNPAID then
CLOSED); pay-later orders are captured and refunded on Klarna's side, each change
announced by an ``order.captured`` / ``order.refunded`` event. 30 % of the
deliveries repeat an event, all are shuffled and sent by concurrent senders to a
prefork server whose cron worker drains the inbox. Must hold: every transaction ends
where in-order delivery leaves it, every Klarna capture and refund is recorded once,
every event is stored and processed once, no answer is a 5xx (nor any refusal).
"""

import base64
import json
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from klarna_simulator import Simulator
from klarna_simulator.signing import signature_headers

from .harness import PROVIDER_SETUP, SIM_USER, TRANSACTION_SETUP, Odoo

SENDERS = 4
DUPLICATE_SHARE = 0.3
ORDER_AMOUNT = 4999  # 49.99 EUR
CAPTURES = (1000, 1500, 500)
REFUNDS = (300, 200)
# Where in-order delivery leaves each kind of transaction.
EXPECTED_STATE = {"paynow_paid": "authorized", "paynow_closed": "cancel", "order": "authorized"}
PAYNOW_EVENTS = {"paynow_paid": ("UNPAID", "PAID"), "paynow_closed": ("UNPAID", "CLOSED")}

SETUP = (
    PROVIDER_SETUP
    + TRANSACTION_SETUP
    + """
methods = {{"pay_now": env.ref("payment.payment_method_klarna_paynow"),
            "pay_later": env.ref("payment.payment_method_klarna")}}
rows = []
for number, kind in enumerate({kinds!r}):
    category = "pay_later" if kind == "order" else "pay_now"
    tx, session = klarna_transaction("storm-%d-%d" % (number, partner.id), methods[category])
    tx.write({{"klarna_session_id": session.session_id, "klarna_payment_category": category}})
    token = approve(
        session.session_id, json.dumps({{"payment_method_category": category}}).encode()
    )
    tx._klarna_place_order(token, "storm setup")
    rows.append([tx.reference, tx.klarna_order_id, kind, tx.state])
env.cr.commit()
print({marker!r} + json.dumps(rows))
"""
)


def plan(size):
    """Transaction kinds for ``size`` deliveries, 70 % of them distinct events."""
    distinct = size - round(size * DUPLICATE_SHARE)
    per_order = len(CAPTURES) + len(REFUNDS)
    orders = distinct // (2 * per_order)
    paynow = (distinct - orders * per_order) // 2
    return (
        ["order"] * orders
        + ["paynow_paid", "paynow_closed"] * (paynow // 2)
        + (["paynow_paid"] if paynow % 2 else [])
    )


def sim_call(sim, method, path, body):
    """A Klarna API call to the simulator, as the merchant (Basic auth)."""
    basic = base64.b64encode(f"{sim.config.username}:{sim.config.password}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - the local simulator
        f"{sim.url}{path}",
        data=json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json", "Authorization": f"Basic {basic}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return json.loads(answer.read() or b"null")


def events_for(sim, rows, rng):
    """The distinct events, in the order Klarna would send them, per transaction."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    events = []
    for reference, order_id, kind, _state in rows:
        if kind == "order":
            changes = [
                ("captures", "captured_amount", amount, "order.captured") for amount in CAPTURES
            ] + [("refunds", "refunded_amount", amount, "order.refunded") for amount in REFUNDS]
            for endpoint, field, amount, event_type in changes:
                sim_call(
                    sim,
                    "POST",
                    f"/ordermanagement/v1/orders/{order_id}/{endpoint}",
                    {field: amount},
                )
                payload = {"order_id": order_id, "merchant_reference1": reference}
                events.append(_event(event_type, payload, now))
        else:
            for status in PAYNOW_EVENTS[kind]:
                payload = {
                    "order_id": order_id,
                    "merchant_reference1": reference,
                    "payment_status": status,
                    "order_amount": ORDER_AMOUNT,
                    "purchase_currency": "EUR",
                }
                events.append(_event("non_guaranteed_payment.updated", payload, now))
    rng.shuffle(events)
    return events


def _event(event_type, payload, occurred_at):
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "occurred_at": occurred_at,
        "payload": payload,
    }


def deliveries(events, size, rng):
    """``size`` deliveries: every event once, the rest repeats, all shuffled."""
    sent = list(events) + [rng.choice(events) for _ in range(size - len(events))]
    rng.shuffle(sent)
    return sent


def send_all(url, sent, key_id, secret):
    statuses = {}
    lock = threading.Lock()

    def send(event):
        raw = json.dumps(event).encode()
        headers = {
            "Content-Type": "application/json",
            **signature_headers("payload-signature", raw, key_id, secret, int(time.time() * 1000)),
        }
        request = urllib.request.Request(url, data=raw, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
                status = answer.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError as error:
            status = f"no answer ({type(error).__name__})"
        with lock:
            statuses[status] = statuses.get(status, 0) + 1

    with ThreadPoolExecutor(SENDERS) as pool:
        list(pool.map(send, sent))
    return statuses


def wait_drained(odoo, distinct, timeout):
    """Wait until every event is stored and no pending event is due soon."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        total, pending, due = odoo.query(
            "SELECT count(*), count(*) FILTER (WHERE state = 'pending'),"
            " count(*) FILTER (WHERE state = 'pending' AND next_attempt_at <="
            " (now() AT TIME ZONE 'UTC') + interval '30 seconds') FROM payment_klarna_event"
        )[0]
        if total >= distinct and not due:
            return pending
        time.sleep(1)
    return odoo.query("SELECT count(*) FROM payment_klarna_event WHERE state = 'pending'")[0][0]


def check(odoo, sim, rows, events):
    """Assertions: ``(passed, failures)``, each failure a line naming what broke."""
    failures = []
    passed = 0
    states = dict(
        odoo.query(
            "SELECT reference, state FROM payment_transaction WHERE reference LIKE 'storm-%%'"
        )
    )
    children = {}
    for parent, operation, state, provider_reference, amount in odoo.query(
        "SELECT p.reference, c.operation, c.state, c.provider_reference, c.amount"
        "  FROM payment_transaction c JOIN payment_transaction p ON c.source_transaction_id = p.id"
        " WHERE p.reference LIKE 'storm-%%'"
    ):
        children.setdefault(parent, []).append((operation, state, provider_reference, amount))
    for reference, order_id, kind, _state in rows:
        problems = []
        if states.get(reference) != EXPECTED_STATE[kind]:
            problems.append(f"state {states.get(reference)}, in order: {EXPECTED_STATE[kind]}")
        if kind == "order":
            order = sim.state.orders[order_id]
            mine = children.get(reference, [])
            captures = sorted((c.capture_id, c.captured_amount) for c in order.captures)
            refunds = sorted((r.refund_id, -r.refunded_amount) for r in order.refunds)
            odoo_captures = sorted(
                (ref, round(amount * 100))
                for op, state, ref, amount in mine
                if op != "refund" and state == "done"
            )
            odoo_refunds = sorted(
                (ref, round(amount * 100))
                for op, state, ref, amount in mine
                if op == "refund" and state == "done"
            )
            if odoo_captures != captures:
                problems.append(f"Klarna captures {captures}, Odoo {odoo_captures}")
            if odoo_refunds != refunds:
                problems.append(f"Klarna refunds {refunds}, Odoo {odoo_refunds}")
        if problems:
            failures.append(f"{reference} ({kind}): " + "; ".join(problems))
        else:
            passed += 1
    stored = {
        event_id: (state, attempts)
        for event_id, state, attempts in odoo.query(
            "SELECT event_id, state, attempts FROM payment_klarna_event"
        )
    }
    lost = [e["event_id"] for e in events if e["event_id"] not in stored]
    unfinished = {event_id: value for event_id, value in stored.items() if value[0] != "processed"}
    for label, bad in (("events lost (never stored)", lost), ("events not processed", unfinished)):
        if bad:
            failures.append(f"{len(bad)} {label}, e.g. {list(bad)[:3]}")
        else:
            passed += 1
    retried = sum(1 for _state, attempts in stored.values() if (attempts or 0) > 1)
    return passed, failures, retried


def run(odoo_bin, conf, db, size, log_dir, secrets, seed=13):
    rng = random.Random(seed)  # noqa: S311 - seeded, so a run can be repeated
    password, key_id, signing_secret = (
        f"storm-pw-{uuid.uuid4().hex}",
        "storm-key-1",
        f"storm-whsec-{uuid.uuid4().hex}",
    )
    secrets.add(password, signing_secret)
    odoo = Odoo(odoo_bin, conf, db, "storm", log_dir)
    try:
        with Simulator(SIM_USER, password, secrets_file=str(secrets.path)) as sim:
            kinds = plan(size)
            rows = odoo.setup(
                SETUP,
                sim,
                password,
                (key_id, signing_secret),
                ("ada.storm@example.com", "+49 30 5550199", "Sturmweg 13"),
                timeout=3600,
                kinds=kinds,
            )
            secrets.add("ada.storm@example.com", "+49 30 5550199", "Sturmweg 13")
            setup_problems = [
                f"{ref}: {state} after placement"
                for ref, _o, kind, state in rows
                if state != ("authorized" if kind == "order" else "pending")
            ]
            events = events_for(sim, rows, rng)
            sent = deliveries(events, size, rng)
            odoo.start_server(workers=2, cron_threads=1)
            started = time.monotonic()
            statuses = send_all(f"{odoo.url}/klarna/webhook", sent, key_id, signing_secret)
            sending = time.monotonic() - started
            pending = wait_drained(odoo, len(events), timeout=max(180, size // 10))
            drained = time.monotonic() - started
            odoo.stop_server()
            passed, failures, retried = check(odoo, sim, rows, events)
    finally:
        odoo.drop()
    failures = setup_problems + failures
    server_errors = sum(
        n for status, n in statuses.items() if not isinstance(status, int) or status >= 500
    )
    refused = sum(
        n for status, n in statuses.items() if isinstance(status, int) and 400 <= status < 500
    )
    for label, count in (
        ("5xx or no answer", server_errors),
        ("refusals (4xx)", refused),
        ("events still pending", pending),
    ):
        if count:
            failures.append(f"{count} {label}: {statuses}")
        else:
            passed += 1
    tracebacks = odoo.tracebacks()
    if tracebacks:
        failures.append(f"{tracebacks} tracebacks in {odoo.server_log}")
    else:
        passed += 1
    figures = {
        "deliveries": len(sent),
        "distinct events": len(events),
        "transactions": len(rows),
        "senders": SENDERS,
        "events retried after a failure": retried,
        "answers": statuses,
        "sending s": round(sending, 1),
        "drained s": round(drained, 1),
    }
    return passed, len(failures), failures, figures
