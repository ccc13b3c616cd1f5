"""Order management over a faulty network: Klarna's books stay Odoo's, nothing happens twice.

Issue 13's "order-management faults" suite: real Odoo, real PostgreSQL with committed data,
and the simulator over real HTTP on localhost, failing 20 % of the Order Management calls made
during captures and refunds: 5xx before applying, the answer lost after applying (what a
timeout does), or 429. Size: 200 operations; ``KLARNA_CHAOS_SIZE=full`` runs 2,000 (a number
runs that many). Counts are asserted, times are not.

Decisions:

* Each staff action runs as a request does: with its own cursor, committed when it succeeds
  and rolled back when it fails, while the operation log commits apart on its own connection
  (``journal_env`` is told it is not in a test; nothing else is).
* The client retries at most once, without sleeping, so that most faults reach Odoo; a failed
  action is retried by the staff with the same amount, mostly at once, sometimes the next day
  (Klarna's idempotency keys and Odoo's intents then look 25 hours old).
* One seed drives the network and another the staff, so a run repeats exactly.
"""

import dataclasses
import logging
import os
import random
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged
from odoo.tools import config

from odoo.addons.payment_klarna import compat, const, utils
from odoo.addons.payment_klarna.klarna.client import KlarnaClient
from odoo.addons.payment_klarna.klarna.config import KlarnaConfig
from odoo.addons.payment_klarna.models import payment_klarna_operation
from odoo.addons.payment_klarna.tests.common import TEST_SECRET_KEY, LocalRequests

try:
    from klarna_simulator import Simulator
    from klarna_simulator.faults import FaultRule, Faults
except ImportError:  # the simulator lives beside the addon, not inside it
    Simulator = None

_logger = logging.getLogger(__name__)

CI_SIZE = 200
FULL_SIZE = 2000
FAULT_RATE = 0.2
FAULTS = {
    "5xx before applying": {"kind": "error", "status": 503},
    "answer lost after applying": {"kind": "drop", "when": "after"},
    "429": {"kind": "rate_limit", "retry_after": 0},
}
NEXT_DAY_RATE = 0.25
MAX_ATTEMPTS = 20
OM = "/ordermanagement/v1/orders/"
PROVIDER_NAME = "Klarna order-management faults"


def chaos_size():
    setting = os.environ.get("KLARNA_CHAOS_SIZE", "")
    if setting == "full":
        return FULL_SIZE
    return int(setting) if setting.isdigit() else CI_SIZE


if Simulator is not None:

    class ChaosFaults(Faults):
        """The simulator's fault rules, plus a seeded chance of a fault on every Order
        Management call; ``injected`` counts them by (fault, method)."""

        def __init__(self, seed, rate):
            super().__init__()
            self.random = random.Random(seed)
            self.rate = rate
            self.injected = Counter()

        def take_for_request(self, method, path):
            fired = super().take_for_request(method, path)
            if path.startswith(OM) and self.random.random() < self.rate:
                name = self.random.choice(sorted(FAULTS))
                self.injected[name, method] += 1
                fired.append(FaultRule(**FAULTS[name]))
            return fired


@tagged("post_install", "-at_install")
class TestOrderManagementFaults(LocalRequests, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if Simulator is None:
            raise ImportError("klarna_simulator is not importable: add the repository root "
                              "to PYTHONPATH")  # fmt: skip
        cls.startClassPatcher(
            patch.dict(config.options, {const.SECRET_KEYS_CONFIG_OPTION: TEST_SECRET_KEY})
        )
        # Requests run outside the test's transaction: the log takes its production path.
        cls.startClassPatcher(patch.object(payment_klarna_operation, "in_test", lambda: False))
        cls.simulator = Simulator(username="chaos_user", password="chaos_pass")
        cls.simulator.start()
        cls.addClassCleanup(cls.simulator.stop)
        cls.max_retries = [0]

        def client(provider):
            config_ = utils.build_client_config(provider)
            retries = cls.max_retries.pop(0) if len(cls.max_retries) > 1 else cls.max_retries[0]
            return KlarnaClient(
                dataclasses.replace(config_, max_retries=retries), sleep=lambda _seconds: None
            )

        cls.startClassPatcher(
            patch.object(type(cls.env["payment.provider"]), "_klarna_get_client", client)
        )

    def setUp(self):
        super().setUp()
        self.simulator.reset()
        self.network = ChaosFaults(seed=13, rate=0)
        self.simulator.faults = self.network
        self.run_id = uuid.uuid4().hex[:8]
        with self._cursor() as env:
            env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM ir_cron_trigger")
            (self.last_trigger,) = env.cr.fetchone()
        self._delete_committed()  # what a killed run left
        with self._cursor() as env:
            self.provider_id = (
                env["payment.provider"]
                .create(
                    {
                        "name": f"{PROVIDER_NAME} {self.run_id}",
                        "code": "klarna",
                        "state": "test",
                        "klarna_api_username": "chaos_user",
                        "klarna_api_password": "chaos_pass",
                        "klarna_base_url": self.simulator.url,
                        "klarna_capture_policy": "manual",
                    }
                )
                .id
            )
        self.addCleanup(self._delete_committed)

    # === COMMITTED DATA === #

    @contextmanager
    def _cursor(self):
        """An environment of its own, committed at the end unless an exception ends it."""
        with self.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {})

    def _delete_committed(self):
        """Delete this suite's providers and their transactions (the log goes with them)."""
        with self._cursor() as env:
            env.cr.execute(
                "SELECT id FROM payment_provider WHERE code = 'klarna' AND name->>'en_US' LIKE %s",
                [f"{PROVIDER_NAME} %"],
            )
            provider_ids = [row[0] for row in env.cr.fetchall()]
            env.cr.execute(
                "DELETE FROM payment_transaction WHERE provider_id = ANY(%s)", [provider_ids]
            )
            env.cr.execute("DELETE FROM payment_provider WHERE id = ANY(%s)", [provider_ids])
            env.cr.execute("DELETE FROM ir_cron_trigger WHERE id > %s", [self.last_trigger])

    def _authorized_txs(self, amounts):
        """One Klarna order (placed over HTTP) and one authorized transaction per amount."""
        client = KlarnaClient(
            KlarnaConfig(username="chaos_user", password="chaos_pass", base_url=self.simulator.url)
        )
        order_ids = []
        for amount in amounts:
            cart = self._cart(amount)
            session = client.create_session(cart)
            token = self.simulator.authorize(session.session_id, "pay_later")
            order_ids.append(client.create_order(token, cart).order_id)
        with self._cursor() as env:
            return (
                env["payment.transaction"]
                .create(
                    [
                        {
                            "provider_id": self.provider_id,
                            "payment_method_id": env.ref("payment.payment_method_klarna").id,
                            "amount": amount / 100,
                            "currency_id": env.ref("base.EUR").id,
                            "partner_id": env.ref("base.partner_admin").id,
                            "reference": f"CHAOS-{self.run_id}-{index}",
                            "operation": "online_direct",
                            "state": "authorized",
                            "klarna_order_id": order_id,
                            "provider_reference": order_id,
                        }
                        for index, (amount, order_id) in enumerate(
                            zip(amounts, order_ids, strict=True)
                        )
                    ]
                )
                .ids
            )

    @staticmethod
    def _cart(amount):
        tax = amount - amount * 10000 // 11900
        return {
            "purchase_country": "DE",
            "purchase_currency": "EUR",
            "locale": "de-DE",
            "order_amount": amount,
            "order_tax_amount": tax,
            "order_lines": [
                {
                    "type": "physical",
                    "reference": "CHAIR",
                    "name": "Chair",
                    "quantity": 1,
                    "unit_price": amount,
                    "tax_rate": 1900,
                    "total_amount": amount,
                    "total_discount_amount": 0,
                    "total_tax_amount": tax,
                }
            ],
        }

    # === THE STAFF === #

    def _request(self, action):
        """Run ``action(env)`` as a request: its own cursor, committed on success, rolled back
        on a UserError. Returns ``(result, error)``; anything else fails the test."""
        with self._cursor() as env:
            try:
                return action(env), None
            except UserError as error:
                env.cr.rollback()
                return None, error

    def _capture(self, tx_id, amount):
        def action(env):
            tx = env["payment.transaction"].browse(tx_id)
            return compat.capture(tx, amount / 100).id or tx_id

        return self._request(action)

    def _refund(self, source_id, amount):
        def action(env):
            source = env["payment.transaction"].browse(source_id)
            return compat.refund(source, amount / 100).id

        return self._request(action)

    def _next_day(self, tx_id):
        """A day passes for this order: Klarna forgets idempotency keys, Odoo's intents age."""
        with self.simulator.state.lock:
            store = self.simulator.state.idempotency
            for key, (fingerprint, reply, at) in list(store.items()):
                store[key] = (fingerprint, reply, at - timedelta(hours=25))
        with self._cursor() as env:
            env.cr.execute(
                "UPDATE payment_klarna_operation SET create_date = create_date - "
                "interval '25 hours' WHERE transaction_id = %s",
                [tx_id],
            )

    def _until_done(self, staff, stats, tx_id, step):
        """Retry a staff action with the same amount until Odoo accepts it."""
        for _attempt in range(MAX_ATTEMPTS):
            stats["attempts"] += 1
            result, error = step()
            if not error:
                return result
            stats["refused"] += 1
            if staff.random() < NEXT_DAY_RATE:
                stats["next day"] += 1
                self._next_day(tx_id)
        self.fail(f"still refused after {MAX_ATTEMPTS} attempts: {error}")

    # === THE BOOKS === #

    def _plans(self, size):
        """Per order: its amount and its operations, ``size`` operations in all.

        Even orders: two partial captures, then a refund of each. Odd ones: one capture of
        the whole, then two refunds of it. Operation: (kind, capture index or None, amount).
        """
        plans = []
        count = 0
        while count < size:
            amount = 10000 + 5 * len(plans)
            if len(plans) % 2:
                operations = [
                    ("capture", None, amount),
                    ("refund", 0, amount * 3 // 10),
                    ("refund", 0, amount // 5),
                ]
            else:
                first = amount * 2 // 5
                operations = [
                    ("capture", None, first),
                    ("capture", None, amount - first),
                    ("refund", 0, first // 2),
                    ("refund", 1, (amount - first) // 4),
                ]
            operations = operations[: size - count]
            plans.append((amount, operations))
            count += len(operations)
        return plans

    def _assert_books_equal(self, tx_id, operations):
        """Klarna's order and Odoo's records agree, and each operation happened exactly once."""
        with self._cursor() as env:
            tx = env["payment.transaction"].browse(tx_id)
            order = self.simulator.state.orders[tx.klarna_order_id]
            planned = {
                kind: sorted(amount for k, _source, amount in operations if k == kind)
                for kind in ("capture", "refund")
            }
            # Klarna: each planned operation once, each under one of Odoo's references.
            self.assertEqual(sorted(c.captured_amount for c in order.captures), planned["capture"])
            self.assertEqual(sorted(r.refunded_amount for r in order.refunds), planned["refund"])
            references = [item.reference for item in (*order.captures, *order.refunds)]
            self.assertEqual(len(set(references)), len(references), "a reference applied twice")
            # Odoo: one transaction per Klarna capture and refund, with its id and amount.
            captures = tx.child_transaction_ids.filtered(lambda t: t.operation != "refund")
            odoo_captures = (
                {(t.provider_reference, round(t.amount * 100)) for t in captures}
                if captures
                else {(tx.klarna_capture_id, round(tx.amount * 100))}
                if tx.state == "done"
                else set()
            )
            self.assertEqual(
                odoo_captures, {(c.capture_id, c.captured_amount) for c in order.captures}
            )
            refunds = (tx | captures).child_transaction_ids.filtered(
                lambda t: t.operation == "refund"
            )
            self.assertEqual(
                {(t.provider_reference, round(-t.amount * 100), t.state) for t in refunds},
                {(r.refund_id, r.refunded_amount, "done") for r in order.refunds},
            )
            # The log: every Klarna id once, from Odoo's own call; nothing left open.
            log = tx.klarna_operation_ids
            self.assertFalse(log.filtered(lambda op: op.state == "intent"))
            self.assertFalse(log.filtered(lambda op: op.origin == "klarna"))
            done = log.filtered(lambda op: op.state == "done")
            self.assertEqual(
                sorted(done.mapped("klarna_reference")),
                sorted(item_id for item_id in [c.capture_id for c in order.captures]
                       + [r.refund_id for r in order.refunds]),
            )  # fmt: skip
            self.assertEqual(
                sorted(done.mapped("reference")), sorted(references), "Klarna holds what Odoo did"
            )

    # === TESTS === #

    def test_a_capture_whose_answer_was_lost_is_recorded_once(self):
        """The answer to a capture is lost after Klarna applied it; the staff retries the next
        day, past Klarna's idempotency window: one capture in Klarna, one child in Odoo."""
        (tx_id,) = self._authorized_txs([20000])
        with self._cursor() as env:
            order_id = env["payment.transaction"].browse(tx_id).klarna_order_id
        for kind in ("captures", "refunds"):
            self.simulator.faults.add(
                "drop", method="POST", path=f"{OM}{order_id}/{kind}", when="after"
            )
        self.max_retries[:] = [0]
        child_id, error = self._capture(tx_id, 5000)
        self.assertIn("no clear answer", str(error))
        self._next_day(tx_id)
        child_id, error = self._capture(tx_id, 5000)
        self.assertFalse(error)
        refund_id, error = self._refund(child_id, 2000)
        self.assertIn("no clear answer", str(error))
        refund_id, error = self._refund(child_id, 2000)
        self.assertFalse(error)
        order = self.simulator.state.orders[order_id]
        self.assertEqual([c.captured_amount for c in order.captures], [5000])
        self.assertEqual([r.refunded_amount for r in order.refunds], [2000])
        with self._cursor() as env:
            tx = env["payment.transaction"].browse(tx_id)
            child = tx.child_transaction_ids
            self.assertEqual(child.id, child_id)
            self.assertEqual(child.provider_reference, order.captures[0].capture_id)
            self.assertEqual(child.child_transaction_ids.id, refund_id)
            self.assertEqual(
                child.child_transaction_ids.provider_reference, order.refunds[0].refund_id
            )
        self._assert_books_equal(
            tx_id, [("capture", None, 5000), ("refund", 0, 2000)]
        )  # fmt: skip

    def test_twenty_percent_of_calls_fail_and_the_books_still_agree(self):
        size = chaos_size()
        plans = self._plans(size)
        tx_ids = self._authorized_txs([amount for amount, _operations in plans])
        staff = random.Random(2026)
        # The client retries at most once: a third of the calls get one retry.
        self.max_retries[:] = [staff.choice((0, 0, 1)) for _index in range(20 * size)]
        self.network.rate = FAULT_RATE
        stats = Counter()
        started = time.monotonic()
        for tx_id, (_amount, operations) in zip(tx_ids, plans, strict=True):
            captures = []
            for kind, source, amount in operations:
                stats["operations"] += 1
                if kind == "capture":
                    step = partial(self._capture, tx_id, amount)
                    captures.append(self._until_done(staff, stats, tx_id, step))
                else:
                    step = partial(self._refund, captures[source], amount)
                    self._until_done(staff, stats, tx_id, step)
        seconds = time.monotonic() - started
        self.network.rate = 0
        # Reconciliation (which reads every order) must find nothing left to repair.
        with self._cursor() as env:
            for tx in env["payment.transaction"].browse(tx_ids):
                tx._klarna_reconcile()
        for tx_id, (_amount, operations) in zip(tx_ids, plans, strict=True):
            self._assert_books_equal(tx_id, operations)
        injected = Counter()
        for (name, method), count in self.network.injected.items():
            injected[name] += count
            injected[method] += count
        self.assertEqual(stats["operations"], size)
        # The faults happened, reached Odoo, and lost answers of applied calls among them.
        for name in FAULTS:
            self.assertGreater(injected[name], 0, name)
        self.assertGreater(self.network.injected["answer lost after applying", "POST"], 0)
        self.assertGreater(stats["refused"], 0)
        self.assertGreater(stats["next day"], 0)
        _logger.info(
            "order-management faults: %s operations on %s orders, %s attempts, %s refused "
            "(%s retried the next day); faults injected: %s; books equal, 0 double captures "
            "or refunds; %.1f s",
            stats["operations"],
            len(plans),
            stats["attempts"],
            stats["refused"],
            stats["next day"],
            dict(sorted(injected.items())),
            seconds,
        )
