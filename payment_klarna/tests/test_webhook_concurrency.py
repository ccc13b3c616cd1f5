import uuid
from unittest.mock import patch

from odoo import SUPERUSER_ID, api, fields, sql_db
from odoo.tests import TransactionCase, tagged

from odoo.addons.payment_klarna.models import payment_klarna_event


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
        claimed_first = first["payment.klarna.event"]._klarna_claim(3)
        claimed_second = second["payment.klarna.event"]._klarna_claim(10)
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
            worker["payment.klarna.event"]._klarna_claim(10)._klarna_process()
        worker.cr.commit()
        event = worker["payment.klarna.event"].browse(event_id)
        self.assertEqual((event.state, event.attempts), ("pending", 0))
        self.assertGreater(event.next_attempt_at, fields.Datetime.now())
        self.assertEqual(worker["payment.transaction"].browse(tx.id).state, "pending")

        staff.cr.rollback()
        event.next_attempt_at = fields.Datetime.now()
        worker.cr.commit()
        worker["payment.klarna.event"]._klarna_claim(10)._klarna_process()
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
