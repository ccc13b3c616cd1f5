"""Crash: ``kill -9`` of the Odoo process at each step of a two-phase operation, then repair.

Steps of a capture (``_send_capture_request``): the intent is committed and Klarna
has not acted; Klarna has captured but the outcome is not committed; the outcome is
committed but Odoo's child transaction is not created yet. Steps of the authorization
recovery job: killed before Klarna placed the order, and after. The process is
paused exactly there (the simulator holds the call before or after acting, or a
separate connection holds a conflicting uncommitted row), the pause is verified in
the database, then the process is killed. Reconciliation (after its grace period)
and the recovery job must repair everything: Klarna's captures and orders equal
Odoo's, each exactly once, no operation left open.

The killed process is an ``odoo-bin shell`` that calls what the capture wizard or the
cron calls and then commits, as a worker does: a kill -9 has the same effect on the
database (the connection drops, its transaction rolls back).
"""

import json
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from klarna_simulator import Simulator

from .harness import MARKER, PROVIDER_SETUP, SIM_USER, Odoo

CAPTURE_MINOR = 1000
PAUSE_TIMEOUT = 120
CAPTURE_STEPS = ("intent", "applied", "committed")
RECOVERY_STEPS = ("before", "after")

SETUP = (
    PROVIDER_SETUP
    + """
import json, urllib.request
method = env.ref("payment.payment_method_klarna")
client = provider._klarna_get_client()
rows = {{}}
for name in {names!r}:
    tx = env["payment.transaction"].create({{
        "provider_id": provider.id, "payment_method_id": method.id,
        "reference": "crash-%s-%d" % (name, partner.id), "amount": 49.99,
        "currency_id": env.ref("base.EUR").id, "partner_id": partner.id,
        "operation": "online_direct",
    }})
    session = client.create_session(tx._klarna_order_payload())
    tx._klarna_attach_session(session.session_id)
    approve = urllib.request.Request(
        "{sim_url}/_sim/sessions/%s/authorize" % session.session_id, data=b"{{}}",
        headers={{"Content-Type": "application/json"}},
    )
    token = json.load(urllib.request.urlopen(approve))["authorization_token"]
    if name.startswith("capture"):
        tx._klarna_place_order(token, "crash setup")
    rows[name] = {{"id": tx.id, "reference": tx.reference, "order_id": tx.klarna_order_id,
                   "token": token, "state": tx.state}}
env.cr.commit()
print({marker!r} + json.dumps(rows))
"""
)
CAPTURE = """
tx = env["payment.transaction"].browse({tx_id})
tx._send_capture_request(amount_to_capture={amount})
env.cr.commit()
"""
RECOVER = """
tx = env["payment.transaction"].browse({tx_id})
tx._klarna_store_authorization({token!r})  # as the authorization callback does
env.cr.commit()
env["payment.transaction"]._cron_klarna_recover_authorizations()
env.cr.commit()
"""
REPAIR = """
import json
env.cr.execute("UPDATE payment_klarna_operation SET create_date = create_date - interval "
               "'11 minutes' WHERE state = 'intent'")  # the reconciliation's grace period passes
env.cr.commit()
Tx = env["payment.transaction"]
Tx._cron_klarna_recover_authorizations()
env.cr.commit()
Tx._cron_klarna_reconcile()
env.cr.commit()
env.invalidate_all()
rows = {{}}
for tx in Tx.search([("reference", "=like", "crash-%"), ("source_transaction_id", "=", False)]):
    rows[tx.reference] = {{
        "state": tx.state, "order_id": tx.klarna_order_id or None,
        "capture_id": tx.klarna_capture_id or None,
        "captures": sorted([c.provider_reference, round(c.amount * 100)]
                           for c in tx.child_transaction_ids
                           if c.operation != "refund" and c.state == "done"),
        "operations": sorted([o.kind, o.state] for o in tx.klarna_operation_ids),
    }}
print({marker!r} + json.dumps(rows))
"""


def _wait(condition, timeout=PAUSE_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def _operation_states(odoo, tx_id):
    return [
        state
        for (state,) in odoo.query(
            "SELECT state FROM payment_klarna_operation WHERE transaction_id = %s", tx_id
        )
    ]


def _kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def crash_capture(odoo, sim, tx, step):
    """Pause a capture at ``step``, verify the pause, kill -9: a problem text or None."""
    path = f"/ordermanagement/v1/orders/{tx['order_id']}/captures"
    script = CAPTURE.format(tx_id=tx["id"], amount=CAPTURE_MINOR / 100)
    if step in ("intent", "applied"):
        rule = sim.faults.add(
            "hang", method="POST", path=path, when="before" if step == "intent" else "after"
        )
        proc = odoo.spawn_shell(script)
        try:
            if not rule.reached.wait(PAUSE_TIMEOUT):
                return f"capture {step}: the call never reached Klarna"
            captured = len(sim.state.orders[tx["order_id"]].captures)
            states = _operation_states(odoo, tx["id"])
            if states != ["intent"] or captured != (step == "applied"):
                return f"capture {step}: paused with operations {states}, {captured} captures"
            _kill(proc)
        finally:
            rule.release()
            if proc.poll() is None:
                _kill(proc)
        return None
    # committed: a conflicting uncommitted row makes the child's insert wait.
    holder = odoo.connect()
    holder.autocommit = False
    proc = None
    try:
        with holder.cursor() as cr:
            cr.execute(
                "INSERT INTO payment_transaction SELECT (json_populate_record(t, json_build_object("
                "'id', nextval('payment_transaction_id_seq'), 'reference', 'P-' || t.reference,"
                " 'klarna_order_id', NULL, 'provider_reference', NULL,"
                " 'klarna_callback_token_hash', NULL))).* FROM payment_transaction t WHERE id = %s",
                (tx["id"],),
            )
        proc = odoo.spawn_shell(script)

        def blocked_after_outcome():
            waiting = odoo.query(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
                " AND wait_event_type = 'Lock'",
                odoo.db,
            )[0][0]
            return waiting and _operation_states(odoo, tx["id"]) == ["done"]

        if not _wait(blocked_after_outcome):
            states = _operation_states(odoo, tx["id"])
            return f"capture committed: never blocked after the outcome (operations {states})"
        _kill(proc)
        odoo.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
            " AND wait_event_type = 'Lock'",
            odoo.db,
        )
    finally:
        holder.rollback()
        holder.close()
        if proc and proc.poll() is None:
            _kill(proc)
    return None


def crash_recovery(odoo, sim, tx, step):
    path = f"/payments/v1/authorizations/{tx['token']}/order"
    rule = sim.faults.add("hang", method="POST", path=path, when=step)
    proc = odoo.spawn_shell(RECOVER.format(tx_id=tx["id"], token=tx["token"]))
    try:
        if not rule.reached.wait(PAUSE_TIMEOUT):
            return f"recovery {step}: the order call never reached Klarna"
        placed = [o for o in sim.state.orders.values() if o.merchant_reference1 == tx["reference"]]
        if len(placed) != (step == "after"):
            return f"recovery {step}: paused with {len(placed)} Klarna orders"
        _kill(proc)
    finally:
        rule.release()
        if proc.poll() is None:
            _kill(proc)
    return None


def check(sim, txs, books):
    """Compare the simulator's orders with Odoo's books: ``(passed, failures)``."""
    passed, failures = 0, []
    for name, tx in txs.items():
        odoo_tx = books.get(tx["reference"], {})
        problems = []
        orders = [o for o in sim.state.orders.values() if o.merchant_reference1 == tx["reference"]]
        if len(orders) != 1:
            problems.append(f"{len(orders)} Klarna orders")
        elif odoo_tx.get("order_id") != orders[0].order_id:
            problems.append(f"Odoo order {odoo_tx.get('order_id')}, Klarna {orders[0].order_id}")
        else:
            klarna = sorted([c.capture_id, c.captured_amount] for c in orders[0].captures)
            if odoo_tx["captures"] != klarna:
                problems.append(f"Klarna captures {klarna}, Odoo {odoo_tx['captures']}")
            if orders[0].captured_amount != CAPTURE_MINOR * (
                name in ("capture-applied", "capture-committed")
            ):
                problems.append(f"Klarna captured {orders[0].captured_amount}")
        if odoo_tx.get("state") != "authorized":
            problems.append(f"state {odoo_tx.get('state')}")
        if any(state == "intent" for _kind, state in odoo_tx.get("operations", [])):
            problems.append(f"operations left open: {odoo_tx['operations']}")
        if problems:
            failures.append(f"{name} after repair: " + "; ".join(problems))
        else:
            passed += 1
    return passed, failures


def run(odoo_bin, conf, db, size, log_dir, secrets):
    password = f"crash-pw-{uuid.uuid4().hex}"
    secrets.add(password, "ada.crash@example.com", "+49 30 5550166", "Absturzallee 9")
    odoo = Odoo(odoo_bin, conf, db, "crash", log_dir)
    names = [f"capture-{s}" for s in CAPTURE_STEPS] + [f"recovery-{s}" for s in RECOVERY_STEPS]
    failures = []
    try:
        with Simulator(SIM_USER, password, secrets_file=str(secrets.path)) as sim:
            txs = odoo.shell(
                SETUP.format(
                    user=SIM_USER,
                    password=password,
                    sim_url=sim.url,
                    odoo_url=odoo.url,
                    key_id="crash-key",
                    signing_secret=f"crash-whsec-{uuid.uuid4().hex}",
                    email="ada.crash@example.com",
                    phone="+49 30 5550166",
                    street="Absturzallee 9",
                    names=names,
                    marker=MARKER,
                )
            )
            # The capture steps touch different transactions: they crash side by side.
            with ThreadPoolExecutor(len(CAPTURE_STEPS)) as pool:
                failures += pool.map(
                    lambda step: crash_capture(odoo, sim, txs[f"capture-{step}"], step),
                    CAPTURE_STEPS,
                )
            # The recovery job works on every waiting transaction: one crash at a time.
            for step in RECOVERY_STEPS:
                failures.append(crash_recovery(odoo, sim, txs[f"recovery-{step}"], step))
            paused = failures.count(None)
            failures = [failure for failure in failures if failure]
            books = odoo.shell(REPAIR.format(marker=MARKER))
            (odoo.log_dir / "crash-books.json").write_text(
                json.dumps(
                    {
                        "odoo": books,
                        "klarna": {
                            o.merchant_reference1: [o.status, o.captured_amount]
                            for o in sim.state.orders.values()
                        },
                    },
                    indent=1,
                )
            )
            passed, problems = check(sim, txs, books)
    finally:
        odoo.drop()
    failures += problems
    figures = {"kills": paused, "steps": len(names), "transactions": len(txs)}
    return passed + paused, len(failures), failures, figures
