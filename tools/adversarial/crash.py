"""Crash: ``kill -9`` of the Odoo process at each step of a two-phase operation, then repair.

Steps of a capture (``_send_capture_request``) and of a refund (``_send_refund_request``):
the intent is committed and Klarna has not acted; Klarna has acted but the outcome is
not committed; the outcome is committed but Odoo's child transaction is not created
yet. Steps of the authorization recovery job: killed before Klarna placed the order,
and after. The webhook inbox worker: killed while it processes an event, twice (the
attempt count must survive, or a poison event loops forever). The process is paused
exactly there (the simulator holds the call before
or after acting, or a separate connection holds a conflicting uncommitted row), the
pause is verified in the database, then the process is killed. Reconciliation (after
its grace period) and the recovery job must repair everything: Klarna's orders,
captures and refunds equal Odoo's, each exactly once, no operation left open.

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

from .harness import MARKER, PROVIDER_SETUP, SIM_USER, TRANSACTION_SETUP, Odoo

AMOUNT_MINOR = 1000  # each crashed capture or refund
ORDER_MINOR = 4999
PAUSE_TIMEOUT = 120
OPERATION_STEPS = ("intent", "applied", "committed")
# Operation kind: Klarna endpoint, prefix of Odoo's child reference, the crashed call.
OPERATIONS = {
    "capture": ("captures", "P-", "compat.capture(tx, {amount})"),
    "refund": ("refunds", "R-", "compat.refund(tx, {amount})"),
}
RECOVERY_STEPS = ("before", "after")
INBOX_KILLS = 2

SETUP = (
    PROVIDER_SETUP
    + TRANSACTION_SETUP
    + """
from odoo import fields
from odoo.addons.payment_klarna import compat
method = env.ref("payment.payment_method_klarna")
rows = {{}}
for name in {names!r}:
    tx, session = klarna_transaction("crash-%s-%d" % (name, partner.id), method)
    tx._klarna_attach_session(session.session_id)
    token = approve(session.session_id)
    if not name.startswith("recovery"):
        tx._klarna_place_order(token, "crash setup")
    if name.startswith("refund"):
        env.cr.commit()  # the operation log writes in its own transaction
        compat.capture(tx)  # all of it: the refund steps refund part of it
    if name == "inbox":  # a Klarna event the inbox worker will process (and be killed in)
        env["payment.klarna.event"].create({{
            "event_id": "{event_id}", "event_type": "order.captured", "provider_id": provider.id,
            "klarna_order_id": tx.klarna_order_id, "reference": tx.reference,
            "next_attempt_at": fields.Datetime.now(), "attempts": 0, "state": "pending",
        }})
    rows[name] = {{"id": tx.id, "reference": tx.reference, "order_id": tx.klarna_order_id,
                   "token": token, "state": tx.state}}
env.cr.commit()
print({marker!r} + json.dumps(rows))
"""
)
OPERATION = """
from odoo.addons.payment_klarna import compat
tx = env["payment.transaction"].browse({tx_id})
{call}
env.cr.commit()
"""
RECOVER = """
tx = env["payment.transaction"].browse({tx_id})
tx._klarna_record_callback_authorization({token!r})  # as the authorization callback does
env.cr.commit()
env["payment.transaction"]._cron_klarna_recover_authorizations()
env.cr.commit()
"""
INBOX = """
env["payment.klarna.event"]._cron_process()
env.cr.commit()
"""
REPAIR = """
import json
# The killed runs counted their attempts and set the retry time: let that time pass.
env.cr.execute("UPDATE payment_klarna_event SET next_attempt_at = now() AT TIME ZONE 'UTC' "
               "WHERE state = 'pending'")
env["payment.klarna.event"]._cron_process()
env.cr.commit()
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
                           if c.operation != "refund" and c.state == "done")
                    + ([[tx.klarna_capture_id, round(tx.amount * 100)]]
                       if tx.klarna_capture_id else []),
        "refunds": sorted([c.provider_reference, round(-c.amount * 100)]
                          for c in tx.child_transaction_ids
                          if c.operation == "refund" and c.state == "done"),
        "operations": sorted([o.kind, o.state] for o in tx.klarna_operation_ids),
    }}
event = env["payment.klarna.event"].search([("event_id", "=", {event_id!r})])
print({marker!r} + json.dumps({{"books": rows, "event": [event.state, event.attempts]}}))
"""


def _wait(condition, timeout=PAUSE_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def _operation_states(odoo, tx_id, kind):
    return [
        state
        for (state,) in odoo.query(
            "SELECT state FROM payment_klarna_operation WHERE transaction_id = %s AND kind = %s",
            tx_id,
            kind,
        )
    ]


def _kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _kill_at_pause(odoo, rule, script, unreached, paused_problem=lambda: None):
    """Run ``script`` until it hangs at the fault ``rule``, check the pause, kill -9 it there.

    :param str unreached: the problem when the script never reaches the rule
    :param paused_problem: what is wrong with the paused state, or None
    :return: a problem or None
    """
    proc = odoo.spawn_shell(script)
    try:
        if not rule.reached.wait(PAUSE_TIMEOUT):
            return unreached
        problem = paused_problem()
        if problem:
            return problem
        _kill(proc)
    finally:
        rule.release()
        if proc.poll() is None:
            _kill(proc)
    return None


def crash_operation(odoo, sim, tx, kind, step):
    """Pause a capture or refund at ``step``, verify the pause, kill -9: a problem or None."""
    endpoint, prefix, call = OPERATIONS[kind]
    path = f"/ordermanagement/v1/orders/{tx['order_id']}/{endpoint}"
    script = OPERATION.format(tx_id=tx["id"], call=call.format(amount=AMOUNT_MINOR / 100))
    if step in ("intent", "applied"):
        rule = sim.faults.add(
            "hang", method="POST", path=path, when="before" if step == "intent" else "after"
        )

        def paused_problem():
            done = len(getattr(sim.state.orders[tx["order_id"]], endpoint))
            states = _operation_states(odoo, tx["id"], kind)
            if states != ["intent"] or done != int(step == "applied"):
                return f"{kind} {step}: paused with operations {states}, {done} {endpoint}"
            return None

        return _kill_at_pause(
            odoo, rule, script, f"{kind} {step}: the call never reached Klarna", paused_problem
        )
    # committed: a conflicting uncommitted row makes the child's insert wait.
    holder = odoo.connect()
    holder.autocommit = False
    proc = None
    try:
        with holder.cursor() as cr:
            cr.execute(
                "INSERT INTO payment_transaction SELECT (json_populate_record(t, json_build_object("
                "'id', nextval('payment_transaction_id_seq'), 'reference', %s || t.reference,"
                " 'klarna_order_id', NULL, 'provider_reference', NULL,"
                " 'klarna_callback_token_hash', NULL))).* FROM payment_transaction t WHERE id = %s",
                (prefix, tx["id"]),
            )
        proc = odoo.spawn_shell(script)

        def blocked_after_outcome():
            return _operation_states(odoo, tx["id"], kind) == ["done"] and _lock_waiters(
                odoo, holder
            )

        if not _wait(blocked_after_outcome):
            states = _operation_states(odoo, tx["id"], kind)
            return f"{kind} committed: never blocked after the outcome (operations {states})"
        _kill(proc)
        for pid in _lock_waiters(odoo, holder):  # the dead worker's connection
            odoo.query("SELECT pg_terminate_backend(%s)", pid)
    finally:
        holder.rollback()
        holder.close()
        if proc and proc.poll() is None:
            _kill(proc)
    return None


def _lock_waiters(odoo, holder):
    """Backends waiting for a lock the ``holder`` connection holds."""
    return [
        pid
        for (pid,) in odoo.query(
            "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
            holder.info.backend_pid,
        )
    ]


def crash_recovery(odoo, sim, tx, step):
    path = f"/payments/v1/authorizations/{tx['token']}/order"
    rule = sim.faults.add("hang", method="POST", path=path, when=step)

    def paused_problem():
        placed = [o for o in sim.state.orders.values() if o.merchant_reference1 == tx["reference"]]
        if len(placed) != (step == "after"):
            return f"recovery {step}: paused with {len(placed)} Klarna orders"
        return None

    return _kill_at_pause(
        odoo,
        rule,
        RECOVER.format(tx_id=tx["id"], token=tx["token"]),
        f"recovery {step}: the order call never reached Klarna",
        paused_problem,
    )


def expected(name):
    """What Klarna must hold after the repair: ``(captured, refunded, Odoo state)``."""
    kind, _, step = name.partition("-")
    acted = AMOUNT_MINOR if step in ("applied", "committed") else 0
    if kind == "capture":
        return acted, 0, "authorized"
    if kind == "refund":
        return ORDER_MINOR, acted, "done"
    # recovery (placed once by the repair) and inbox (the event processed once repaired)
    return 0, 0, "authorized"


def crash_inbox(odoo, sim, tx, event_id):
    """Kill the inbox worker while it processes the event, INBOX_KILLS times."""
    path = f"/ordermanagement/v1/orders/{tx['order_id']}"
    for kill in range(1, INBOX_KILLS + 1):
        # The killed run counted its attempt and set the retry time: let that time pass.
        odoo.execute(
            "UPDATE payment_klarna_event SET next_attempt_at = now() AT TIME ZONE 'UTC' "
            "WHERE event_id = %s",
            event_id,
        )
        rule = sim.faults.add("hang", method="GET", path=path)
        problem = _kill_at_pause(
            odoo, rule, INBOX, f"inbox kill {kill}: the worker never read the order"
        )
        if problem:
            return problem
    state, attempts = odoo.query(
        "SELECT state, attempts FROM payment_klarna_event WHERE event_id = %s", event_id
    )[0]
    if attempts < INBOX_KILLS:
        return (
            f"inbox: after {INBOX_KILLS} killed runs the event is {state} with {attempts} "
            "attempts counted: the count rolled back with each run (a poison event never "
            "reaches the dead letters)"
        )
    return None


def check(sim, txs, books):
    """Compare the simulator's orders with Odoo's books: ``(passed, failures)``."""
    passed, failures = 0, []
    for name, tx in txs.items():
        odoo_tx = books.get(tx["reference"], {})
        problems = []
        orders = [o for o in sim.state.orders.values() if o.merchant_reference1 == tx["reference"]]
        captured, refunded, state = expected(name)
        if len(orders) != 1:
            problems.append(f"{len(orders)} Klarna orders")
        elif odoo_tx.get("order_id") != orders[0].order_id:
            problems.append(f"Odoo order {odoo_tx.get('order_id')}, Klarna {orders[0].order_id}")
        else:
            order = orders[0]
            captures = sorted([c.capture_id, c.captured_amount] for c in order.captures)
            refunds = sorted([r.refund_id, r.refunded_amount] for r in order.refunds)
            if sorted(odoo_tx["captures"]) != captures:
                problems.append(f"Klarna captures {captures}, Odoo {odoo_tx['captures']}")
            if odoo_tx["refunds"] != refunds:
                problems.append(f"Klarna refunds {refunds}, Odoo {odoo_tx['refunds']}")
            if (order.captured_amount, order.refunded_amount) != (captured, refunded):
                problems.append(
                    f"Klarna captured {order.captured_amount} and refunded "
                    f"{order.refunded_amount}; expected {captured} and {refunded}"
                )
        if odoo_tx.get("state") != state:
            problems.append(f"state {odoo_tx.get('state')}, expected {state}")
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
    steps = [(kind, step) for kind in OPERATIONS for step in OPERATION_STEPS]
    names = [f"{kind}-{step}" for kind, step in steps]
    names += [f"recovery-{step}" for step in RECOVERY_STEPS] + ["inbox"]
    event_id = str(uuid.uuid4())
    failures = []
    try:
        with Simulator(SIM_USER, password, secrets_file=str(secrets.path)) as sim:
            txs = odoo.setup(
                SETUP,
                sim,
                password,
                ("crash-key", f"crash-whsec-{uuid.uuid4().hex}"),
                ("ada.crash@example.com", "+49 30 5550166", "Absturzallee 9"),
                names=names,
                event_id=event_id,
            )
            # These steps touch different transactions: they crash side by side.
            with ThreadPoolExecutor(len(steps)) as pool:
                failures += pool.map(
                    lambda pair: crash_operation(odoo, sim, txs["-".join(pair)], *pair), steps
                )
            # The recovery job works on every waiting transaction: one crash at a time.
            for step in RECOVERY_STEPS:
                failures.append(crash_recovery(odoo, sim, txs[f"recovery-{step}"], step))
            failures.append(crash_inbox(odoo, sim, txs["inbox"], event_id))
            paused = failures.count(None)
            failures = [failure for failure in failures if failure]
            repaired = odoo.shell(REPAIR.format(marker=MARKER, event_id=event_id))
            books = repaired["books"]
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
            if repaired["event"][0] != "processed":
                problems.append(f"inbox: the event is {repaired['event']} after the repair")
    finally:
        odoo.drop()
    failures += problems
    figures = {
        "kill -9": len(names) - 1 + INBOX_KILLS,
        "pauses verified": paused,
        "transactions": len(txs),
    }
    return passed + paused, len(failures), failures, figures
