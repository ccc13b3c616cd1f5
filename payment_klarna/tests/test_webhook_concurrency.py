import json
import os
import subprocess
import sys
import textwrap
import uuid
from unittest.mock import patch

from odoo import SUPERUSER_ID, api, fields, sql_db
from odoo.tests import TransactionCase, tagged
from odoo.tools import config

from odoo.addons.payment_klarna import const
from odoo.addons.payment_klarna.models import payment_klarna_event

# Runs the inbox worker in real processes on committed data. The registry is loaded once;
# each run is a forked child that is killed (SIGKILL) when it touches the poison event,
# as an out-of-memory kill or Odoo's ``limit_time_real`` would kill a cron worker.
WORKER = textwrap.dedent(
    """
    import json, os, signal, sys, traceback
    from odoo import SUPERUSER_ID, api, sql_db
    from odoo.modules.registry import Registry
    from odoo.tools import config

    conf, db, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    config.parse_config(["-c", conf, "-d", db, "--log-level=critical"])
    registry = Registry(db)
    from odoo.addons.payment_klarna.models.payment_klarna_event import PaymentKlarnaEvent

    dispatch = PaymentKlarnaEvent._klarna_dispatch

    def poisoned(self):
        if self.event_type == "test.poison":
            os.kill(os.getpid(), signal.SIGKILL)
        return dispatch(self)

    PaymentKlarnaEvent._klarna_dispatch = poisoned
    sql_db.close_all()  # each child opens its own connections
    signals = []
    for _run in range(runs):
        pid = os.fork()
        if not pid:
            code = 1
            try:
                with registry.cursor() as cr:
                    # Time passes: whatever the last run left scheduled is due again.
                    cr.execute(
                        "UPDATE payment_klarna_event SET next_attempt_at = '2000-01-01' "
                        "WHERE event_type = 'test.poison' AND state = 'pending'"
                    )
                    cr.commit()
                    api.Environment(cr, SUPERUSER_ID, {})["payment.klarna.event"]._cron_process()
                code = 0
            except Exception:
                traceback.print_exc()
            finally:
                os._exit(code)
        _pid, status = os.waitpid(pid, 0)
        signals.append(os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0)
    print("RUNS " + json.dumps(signals))
    """
)

# Runs inbox workers in parallel real processes on committed data, one per cron record named
# in argv, each applying an event in 20 ms so that they drain the inbox together.
WORKERS = textwrap.dedent(
    """
    import json, os, sys, time
    from odoo import SUPERUSER_ID, api, sql_db
    from odoo.modules.registry import Registry
    from odoo.tools import config

    conf, db, crons = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    config.parse_config(["-c", conf, "-d", db, "--log-level=critical"])
    registry = Registry(db)
    from odoo.addons.payment_klarna.models.payment_klarna_event import PaymentKlarnaEvent

    dispatch = PaymentKlarnaEvent._klarna_dispatch

    def slow(self):
        time.sleep(0.02)
        return dispatch(self)

    PaymentKlarnaEvent._klarna_dispatch = slow
    sql_db.close_all()  # each child opens its own connections
    children = []
    for cron_id in crons:
        read, write = os.pipe()
        pid = os.fork()
        if not pid:
            os.close(read)
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {"cron_id": cron_id})
                done = env["payment.klarna.event"]._cron_process()
            os.write(write, str(done).encode())
            os._exit(0)
        os.close(write)
        children.append((pid, read))
    done = []
    for pid, read in children:
        os.waitpid(pid, 0)
        done.append(int(os.read(read, 64) or -1))
    print("DONE " + json.dumps(done))
    """
)


@tagged("post_install", "-at_install")
class TestWebhookConcurrency(TransactionCase):
    """Real concurrency needs real connections: rows are committed, then deleted."""

    def _env(self):
        cr = sql_db.db_connect(self.env.cr.dbname).cursor()
        self.addCleanup(cr.close)
        return api.Environment(cr, SUPERUSER_ID, {})

    def _committed_events(self, count, **values):
        env = self._env()
        events = env["payment.klarna.event"].create(
            [
                {
                    "event_id": str(uuid.uuid4()),
                    "event_type": "merchant.settings.updated",
                    "next_attempt_at": fields.Datetime.now(),
                    **values,
                }
                for _index in range(count)
            ]
        )
        env.cr.commit()
        self.addCleanup(self._delete, "payment_klarna_event", events.ids)
        return events.ids

    def _delete(self, table, ids):
        env = self._env()
        env.cr.execute(f"DELETE FROM {table} WHERE id = ANY(%s)", [ids])  # noqa: S608
        env.cr.commit()

    def test_two_workers_claim_disjoint_events_and_process_each_once(self):
        ids = self._committed_events(6)
        first, second = self._env(), self._env()
        claimed_first = first["payment.klarna.event"].browse()
        for _claim in range(3):
            claimed_first |= first["payment.klarna.event"]._klarna_claim()
        claimed_second = second["payment.klarna.event"].browse()
        while claimed := second["payment.klarna.event"]._klarna_claim():
            claimed_second |= claimed
        mine = set(ids)
        self.assertEqual(len(set(claimed_first.ids) & mine), 3)
        self.assertFalse(set(claimed_first.ids) & set(claimed_second.ids))
        self.assertEqual((set(claimed_first.ids) | set(claimed_second.ids)) & mine, mine)
        claimed_first._klarna_process()
        claimed_second._klarna_process()
        first.cr.commit()
        second.cr.commit()
        check = self._env()
        check.cr.execute(
            "SELECT state, attempts, count(*) FROM payment_klarna_event WHERE id = ANY(%s) "
            "GROUP BY state, attempts",
            [ids],
        )
        self.assertEqual(check.cr.fetchall(), [("ignored", 1, 6)])

    def test_locked_transaction_postpones_the_event_without_counting_a_failure(self):
        setup = self._env()
        provider = setup.ref("payment_klarna.payment_provider_klarna")
        tx = setup["payment.transaction"].create(
            {
                "provider_id": provider.id,
                "payment_method_id": setup.ref("payment.payment_method_klarna").id,
                "amount": 11.11,
                "currency_id": setup.ref("base.EUR").id,
                "partner_id": setup.ref("base.partner_admin").id,
                "reference": f"KLARNA-LOCK-{uuid.uuid4().hex[:8]}",
                "klarna_order_id": f"ord-lock-{uuid.uuid4().hex[:8]}",
                "state": "pending",
            }
        )
        setup.cr.commit()
        self.addCleanup(self._delete, "payment_transaction", tx.ids)
        (event_id,) = self._committed_events(
            1,
            event_type="non_guaranteed_payment.updated",
            payment_status="PAID",
            klarna_order_id=tx.klarna_order_id,
        )
        staff = self._env()
        staff.cr.execute("SELECT id FROM payment_transaction WHERE id = %s FOR UPDATE", [tx.id])

        worker = self._env()
        with patch.object(payment_klarna_event.time, "sleep"):
            worker["payment.klarna.event"]._klarna_claim()._klarna_process()
        worker.cr.commit()
        event = worker["payment.klarna.event"].browse(event_id)
        self.assertEqual((event.state, event.attempts), ("pending", 0))
        self.assertGreater(event.next_attempt_at, fields.Datetime.now())
        self.assertEqual(worker["payment.transaction"].browse(tx.id).state, "pending")

        staff.cr.rollback()
        event.next_attempt_at = fields.Datetime.now()
        worker.cr.commit()
        worker["payment.klarna.event"]._klarna_claim()._klarna_process()
        worker.cr.commit()
        event.invalidate_recordset()
        self.assertEqual((event.state, event.attempts), ("processed", 1))
        self.assertEqual(worker["payment.transaction"].browse(tx.id).state, "authorized")

    def test_duplicate_committed_after_the_snapshot_is_a_duplicate_not_an_error(self):
        values = {
            "event_id": str(uuid.uuid4()),
            "event_type": "merchant.settings.updated",
            "provider_id": None,
            "payment_status": None,
            "scheme": "payload-signature",
            "key_id": "1",
            "order_id": None,
            "reference": None,
            "occurred_at": None,
            "payload": {},
        }
        late, early = self._env(), self._env()
        late.cr.execute("SELECT 1")  # REPEATABLE READ: the snapshot is taken here
        first = early["payment.klarna.event"]._klarna_insert(**values)
        early.cr.commit()
        self.addCleanup(self._delete, "payment_klarna_event", first.ids)
        self.assertFalse(late["payment.klarna.event"]._klarna_insert(**values))
        late.cr.execute("SELECT count(*) FROM payment_klarna_event WHERE id = %s", [first.id])
        self.assertEqual(late.cr.fetchone(), (0,), "the request's snapshot is still usable")

    def test_a_poison_event_that_kills_the_worker_becomes_a_dead_letter(self):
        setup = self._env()
        now = fields.Datetime.now()
        events = setup["payment.klarna.event"].create(
            [
                {
                    "event_id": str(uuid.uuid4()),
                    "event_type": event_type,
                    "next_attempt_at": now,
                }
                for event_type in ("test.poison", "merchant.settings.updated")
            ]
        )
        setup.cr.commit()
        self.addCleanup(self._delete, "payment_klarna_event", events.ids)
        runs = const.EVENT_MAX_ATTEMPTS + 1
        result = subprocess.run(  # noqa: S603 (our own interpreter and script)
            [sys.executable, "-c", WORKER, config.rcfile, self.env.cr.dbname, str(runs)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            check=True,
        )
        signals = json.loads(result.stdout.split("RUNS ", 1)[1])
        self.assertEqual(signals, [9] * const.EVENT_MAX_ATTEMPTS + [0], result.stderr[-2000:])
        check = self._env()
        poison, other = check["payment.klarna.event"].browse(events.ids)
        self.assertEqual((poison.state, poison.attempts), ("dead", const.EVENT_MAX_ATTEMPTS))
        self.assertIn("stopped", poison.last_error)
        self.assertEqual((other.state, other.attempts), ("ignored", 1))

    def test_two_inbox_workers_drain_together_each_event_once(self):
        setup = self._env()
        workers = setup["payment.klarna.event"]._klarna_workers()
        setup.cr.execute("SELECT coalesce(max(id), 0) FROM ir_cron_trigger")
        last_trigger = setup.cr.fetchone()[0]
        self.addCleanup(self._delete_triggers_after, last_trigger)
        ids = self._committed_events(2 * const.EVENT_WORKER_BACKLOG)
        result = subprocess.run(  # noqa: S603 (our own interpreter and script)
            [
                sys.executable,
                "-c",
                WORKERS,
                config.rcfile,
                self.env.cr.dbname,
                json.dumps(workers.ids[:2]),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            check=True,
        )
        done = json.loads(result.stdout.split("DONE ", 1)[1])
        self.assertEqual(len(done), 2, result.stderr[-2000:])
        self.assertTrue(all(count > 0 for count in done), f"each worker took a share: {done}")
        check = self._env()
        check.cr.execute(
            "SELECT state, attempts, count(*) FROM payment_klarna_event WHERE id = ANY(%s) "
            "GROUP BY state, attempts",
            [ids],
        )
        self.assertEqual(check.cr.fetchall(), [("ignored", 1, len(ids))])
        # The backlog made the first worker wake the others.
        check.cr.execute(
            "SELECT DISTINCT cron_id FROM ir_cron_trigger WHERE id > %s AND cron_id = ANY(%s)",
            [last_trigger, workers[1:].ids],
        )
        self.assertEqual({row[0] for row in check.cr.fetchall()}, set(workers[1:].ids))

    def _delete_triggers_after(self, last_id):
        env = self._env()
        env.cr.execute("DELETE FROM ir_cron_trigger WHERE id > %s", [last_id])
        env.cr.commit()
