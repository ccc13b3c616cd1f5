"""The webhook inbox: every Klarna event is stored once, then acted on by a worker.

The webhook route only verifies and inserts (``_klarna_store_*``). The worker claims
one due event at a time (``FOR UPDATE SKIP LOCKED``), counting the attempt and
scheduling its retry, and commits that before applying the event in a savepoint; the
result is committed together with the next event's claim (one commit per event). A run
killed while applying an event keeps the attempt, so a poison event reaches the dead
letters after ``const.EVENT_MAX_ATTEMPTS`` instead of looping, and never costs another
event an attempt. Failures are retried with exponential backoff.
An event that names a transaction outside the provider whose key signed it, or of
another Klarna order, changes nothing and is set aside as a dead letter with the
reason, for an administrator to retry or resolve.

This model only keeps the inbox. What an event type asks is decided by
:func:`klarna.events.classify`; what it does is the business of its transaction,
found and row-locked here and then told (``payment.transaction._klarna_apply_event``).
"""

import json
import logging
import time
import uuid
from datetime import timedelta

from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL
from odoo.tools.sql import create_index

from .. import compat, const
from ..klarna.events import classify
from ..utils import in_test

_logger = logging.getLogger(__name__)


class TransactionBusy(Exception):
    """The transaction stayed locked by another worker; try the event again shortly."""


class TransactionMismatch(ValidationError):
    """The data names a transaction it may not change (another provider's, another
    Klarna order's): retrying cannot help, a person must look."""


class PaymentKlarnaEvent(models.Model):
    _name = "payment.klarna.event"
    _description = "Klarna Webhook Event"
    _order = "received_at desc, id desc"
    _rec_name = "event_id"
    # An inbox row is written by Klarna, not by a user: ``received_at`` is its date, and
    # no user columns means no foreign-key lock on ``res_users`` per webhook.
    _log_access = False

    event_id = fields.Char(string="Event ID", required=True, readonly=True)
    event_type = fields.Char(required=True, readonly=True, index=True)
    provider_id = fields.Many2one(
        comodel_name="payment.provider", readonly=True, ondelete="set null"
    )
    transaction_id = fields.Many2one(
        comodel_name="payment.transaction",
        readonly=True,
        ondelete="set null",
        index="btree_not_null",
    )
    klarna_order_id = fields.Char(string="Klarna Order ID", readonly=True)
    reference = fields.Char(string="Merchant Reference", readonly=True)
    payment_status = fields.Char(readonly=True)
    signature_scheme = fields.Selection(
        selection=[
            ("payload-signature", "Payload-Signature (HMAC-SHA512)"),
            ("klarna-signature", "Klarna-Signature (HMAC-SHA256)"),
            ("unsigned", "Unsigned (re-read from Klarna)"),
        ],
        readonly=True,
    )
    signing_key_id = fields.Char(readonly=True)
    received_at = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)
    occurred_at = fields.Datetime(readonly=True)
    state = fields.Selection(
        selection=[
            ("pending", "To Process"),
            ("processed", "Processed"),
            ("ignored", "Ignored"),
            ("dead", "Dead Letter"),
            ("resolved", "Resolved"),
        ],
        default="pending",
        required=True,
        readonly=True,
    )
    attempts = fields.Integer(readonly=True)
    next_attempt_at = fields.Datetime(readonly=True)
    processed_at = fields.Datetime(readonly=True)
    outcome = fields.Char(readonly=True)
    last_error = fields.Text(readonly=True)
    # Minimised at reception (ids, amounts, statuses, timestamps); emptied after retention.
    payload = fields.Json(string="Minimised Payload", readonly=True)
    payload_display = fields.Text(string="Payload", compute="_compute_payload_display")
    payload_purged = fields.Boolean(readonly=True)

    _event_id_unique = compat.Constraint(
        "UNIQUE(event_id)", "Klarna: this event was already received."
    )

    def init(self):
        # The claim query reads only due pending events: keep that index small.
        create_index(
            self.env.cr,
            "payment_klarna_event_due_idx",
            self._table,
            ["next_attempt_at", "id"],
            where="state = 'pending'",
        )

    @api.depends("payload")
    def _compute_payload_display(self):
        for event in self:
            event.payload_display = (
                json.dumps(event.payload, indent=2, sort_keys=True) if event.payload else False
            )

    # === RECEPTION (webhook route) === #

    @api.model
    def _klarna_store_event(self, event, provider, signature):
        """Store a verified :class:`WebhookEvent`; False for a duplicate ``event_id``."""
        return self._klarna_insert(
            event_id=event.event_id,
            event_type=event.event_type,
            provider_id=provider.id,
            order_id=event.order_id,
            reference=event.merchant_reference1,
            payment_status=event.payment_status,
            occurred_at=event.occurred_at,
            scheme=signature.scheme,
            key_id=signature.key_id,
            payload=event.raw,
        )

    @api.model
    def _klarna_store_legacy(self, notification, now):
        """Store an unsigned fraud notification for an order Odoo knows.

        Anyone can send one, so it is accepted only for an existing Klarna order, and
        its id is derived from the order, the type and a 10-minute bucket: a flood of
        copies collapses into one event per bucket, each of which only makes Odoo
        re-read the order. Returns None for an unknown order, False for a duplicate.
        """
        try:
            tx = self.env["payment.transaction"]._klarna_find_tx(
                {"klarna_order_id": notification.order_id}
            )
        except ValidationError:
            return None
        bucket = int(now // const.LEGACY_EVENT_BUCKET_SECONDS)
        name = f"{notification.order_id}:{notification.event_type}:{bucket}"
        return self._klarna_insert(
            event_id=str(uuid.uuid5(uuid.UUID(const.LEGACY_EVENT_NAMESPACE), name)),
            event_type=notification.event_type,
            provider_id=tx.provider_id.id,
            transaction_id=tx.id,
            order_id=notification.order_id,
            reference=None,
            payment_status=None,
            occurred_at=None,
            scheme="unsigned",
            key_id=None,
            payload={"order_id": notification.order_id, "event_type": notification.event_type},
        )

    @api.model
    def _klarna_insert(self, *, occurred_at, payload, transaction_id=None, **values):
        """Insert once in one round trip and make the inbox cron due; False for a duplicate.

        ``ON CONFLICT DO NOTHING`` makes a duplicate a no-op. Under Odoo's REPEATABLE READ
        a copy committed by another worker after this request's snapshot still surfaces
        as a serialization failure: the savepoint opened in the same round trip is rolled
        back and the event counts as a duplicate, so the request is neither retried by
        Odoo nor logged as an SQL error. (The savepoint needs no release: the commit
        ends it.)

        The first inbox cron is triggered only when no due trigger is waiting: a cron
        run that has not yet ended drains this event too, and waking the cron workers
        costs Odoo a connection to the ``postgres`` database. That run wakes the other
        inbox workers if a backlog builds up. The transaction is linked by the worker.
        """
        cron_id = self._klarna_workers()[0].id
        now = fields.Datetime.now()
        query = SQL(
            """
            SAVEPOINT klarna_event_insert;
            WITH event AS (
                INSERT INTO payment_klarna_event (
                    event_id, event_type, provider_id, transaction_id, klarna_order_id,
                    reference, payment_status, signature_scheme, signing_key_id,
                    occurred_at, payload, state, attempts, received_at, next_attempt_at
                )
                VALUES (
                    %(event_id)s, %(event_type)s, %(provider_id)s, %(transaction_id)s,
                    %(order_id)s, %(reference)s, %(payment_status)s, %(scheme)s,
                    %(key_id)s, %(occurred_at)s, %(payload)s::jsonb, 'pending', 0,
                    %(now)s, %(now)s
                )
                ON CONFLICT (event_id) DO NOTHING
                RETURNING id
            )
            SELECT id, EXISTS (
                SELECT 1 FROM ir_cron_trigger
                 WHERE cron_id = %(cron_id)s AND call_at <= %(now)s
            )
              FROM event
            """,
            occurred_at=occurred_at and occurred_at.replace(tzinfo=None),
            payload=json.dumps(payload),
            transaction_id=transaction_id,
            cron_id=cron_id,
            now=now,
            **values,
        )
        try:
            self.env.cr.execute(query, log_exceptions=False)
            inserted = self.env.cr.fetchone()
        except pg_errors.SerializationFailure:
            self.env.cr.execute("ROLLBACK TO SAVEPOINT klarna_event_insert")
            inserted = None
        if not inserted:
            return False
        event_id, cron_due = inserted
        if not cron_due:
            self.env["ir.cron"].sudo().browse(cron_id)._trigger()
        return self.browse(event_id)

    @api.model
    def _klarna_alert_admins(self, network, provider_id, limit, window):
        """Tell the administrators that a network keeps sending refused webhooks, at most
        once per ``window`` per provider (``provider_id``: the one whose key the refused
        requests named, if any) whichever worker counted the failures.

        The marker is a system parameter written in SQL, on this failure path only: the
        ORM's write would clear every worker's caches, the webhook's keys included.
        Concurrent workers race on one row; the loser's serialization failure means the
        other one alerts.
        """
        now = fields.Datetime.now()
        try:
            self.env.cr.execute(
                SQL(
                    """
                    SAVEPOINT klarna_alert_marker;
                    INSERT INTO ir_config_parameter (key, value, create_date, write_date)
                    VALUES (%(key)s, %(now)s, %(now)s, %(now)s)
                    ON CONFLICT (key) DO UPDATE
                       SET value = EXCLUDED.value, write_date = EXCLUDED.write_date
                     WHERE ir_config_parameter.value NOT BETWEEN %(since)s AND %(now)s
                    RETURNING id
                    """,
                    key=const.WEBHOOK_ALERT_MARKER_PARAM % (provider_id or "unverified"),
                    now=fields.Datetime.to_string(now),
                    since=fields.Datetime.to_string(now - timedelta(seconds=window)),
                ),
                log_exceptions=False,
            )
            due = self.env.cr.fetchone()
        except pg_errors.SerializationFailure:
            self.env.cr.execute("ROLLBACK TO SAVEPOINT klarna_alert_marker")
            due = None
        if not due:
            return False
        admins = (
            self.env.ref("base.group_system")
            .sudo()[compat.GROUP_USERS]
            .filtered(lambda user: user.active and not user.share)
        )
        self.env["mail.thread"].sudo().message_notify(
            partner_ids=admins.partner_id.ids,
            author_id=self.env.ref("base.partner_root").id,
            subject=self.env._("Klarna: webhooks refused from %s", network),
            body=self.env._(
                "%(address)s sent %(limit)s Klarna webhooks that failed verification within "
                "%(minutes)s minutes; its unverified requests are refused for now (correctly "
                "signed ones are always accepted). If it is Klarna, check the webhook signing "
                "keys of the Klarna provider; otherwise someone is probing the webhook URL.",
                address=network,
                limit=limit,
                minutes=window // 60,
            ),
        )
        return True

    # === PROCESSING (cron) === #

    @api.model
    def _klarna_workers(self):
        """The inbox cron records (``const.EVENT_WORKERS``), the first being the one a
        stored event wakes: Odoo runs one record in one cron thread at a time."""
        names = ["payment_klarna.cron_process_events"] + [
            f"payment_klarna.cron_process_events_{number}"
            for number in range(2, const.EVENT_WORKERS + 1)
        ]
        data = self.env["ir.model.data"]
        return self.env["ir.cron"].sudo().browse([data._xmlid_to_res_id(name) for name in names])

    @api.model
    def _cron_process(self):
        """Drain the due events one by one, each claimed and then applied in its own
        committed step (see the module's docstring), until the run's time is up.

        An event's result and the next event's claim share one commit: the claim is
        committed before its event is applied, as it must be, and a commit costs the
        worker a round trip, a WAL flush and its whole ORM cache. The claim then reads
        the snapshot taken when the previous event's step began, so an empty claim is
        repeated once in a fresh transaction before the run ends.

        Every inbox cron record runs this; the claims skip each other's events. A worker
        that finds ``const.EVENT_WORKER_BACKLOG`` due events waiting wakes the others.
        Events of one transaction may be applied in any order, as with one worker (a
        postponed or failed event is retried after later ones): a payment status only
        moves forwards, every other kind re-reads the order from Klarna."""
        auto_commit = not in_test()
        deadline = time.monotonic() + const.EVENT_RUN_SECONDS
        next_look = time.monotonic()
        done = 0
        fresh = True  # nothing applied since the last commit: the claim's snapshot is new
        while time.monotonic() < deadline:
            if time.monotonic() >= next_look:
                next_look = time.monotonic() + const.EVENT_BACKLOG_CHECK_SECONDS
                self._klarna_wake_helpers()
            try:
                event = self._klarna_claim()
            except pg_errors.SerializationFailure:
                # Another worker finished a due row after this snapshot: keep the previous
                # result (the claim ran in its own savepoint) and look again afresh.
                if not auto_commit:
                    raise
                self.env.cr.execute("ROLLBACK TO SAVEPOINT klarna_event_claim")
                self.env.cr.commit()  # pylint: disable=invalid-commit
                fresh = True
                continue
            if not event:
                if auto_commit and not fresh:
                    self.env.cr.commit()  # pylint: disable=invalid-commit
                    fresh = True
                    continue
                if not self._klarna_wait_for_postponed(deadline):
                    break
                continue
            if auto_commit:
                # The previous result, and this attempt before anything in it can stop
                # this run.
                self.env.cr.commit()  # pylint: disable=invalid-commit
            event._klarna_process()
            fresh = False
            done += 1
        if auto_commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit
        remaining = self.search_count(
            [("state", "=", "pending"), ("next_attempt_at", "<=", fields.Datetime.now())]
        )
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        return done

    @api.model
    def _klarna_wake_helpers(self):
        """Wake the other inbox workers when ``const.EVENT_WORKER_BACKLOG`` due events
        wait: more than one worker should take alone. One bounded index scan, at most
        every ``const.EVENT_BACKLOG_CHECK_SECONDS`` per worker."""
        self.env.cr.execute(
            SQL(
                """
                SELECT count(*) FROM (
                    SELECT 1 FROM payment_klarna_event
                     WHERE state = 'pending' AND next_attempt_at <= %(now)s
                     LIMIT %(backlog)s
                ) due
                """,
                now=fields.Datetime.now(),
                backlog=const.EVENT_WORKER_BACKLOG,
            )
        )
        if self.env.cr.fetchone()[0] < const.EVENT_WORKER_BACKLOG:
            return False
        for cron in self._klarna_workers():
            if cron.id != self.env.context.get("cron_id"):
                cron._trigger()
        return True

    @api.model
    def _klarna_wait_for_postponed(self, deadline):
        """Sleep until the next event postponed on a busy transaction is due, if that is
        within ``const.EVENT_BUSY_DELAY_SECONDS`` and this run: a cron worker would
        otherwise only see it at its next wake-up, up to a minute later. False when there
        is none."""
        self.env.cr.execute(
            SQL("SELECT min(next_attempt_at) FROM payment_klarna_event WHERE state = 'pending'")
        )
        due = self.env.cr.fetchone()[0]
        if due is None:
            return False
        wait = (due - fields.Datetime.now()).total_seconds()
        if not 0 < wait <= const.EVENT_BUSY_DELAY_SECONDS or time.monotonic() + wait >= deadline:
            return False
        time.sleep(wait)
        return True

    @api.model
    def _klarna_claim(self):
        """Lock the next due event that no other worker holds, count the attempt and
        schedule it as a failure would be: if this run dies, it is retried then. An event
        whose every attempt stopped its worker becomes a dead letter here, unapplied.

        The claim runs in the savepoint ``klarna_event_claim``, opened in the same round
        trip: after a serialization failure the caller rolls back to it and keeps the rest
        of its transaction. (The savepoint needs no release: the commit ends it.)"""
        self.env.flush_all()
        while True:
            self.env.cr.execute(
                SQL(
                    """
                    SAVEPOINT klarna_event_claim;
                    UPDATE payment_klarna_event event
                       SET attempts = COALESCE(event.attempts, 0) + 1,
                           next_attempt_at = %(now)s + make_interval(
                               secs => %(backoff)s * 2 ^ LEAST(COALESCE(event.attempts, 0), 16)
                           )
                      FROM (
                            SELECT id FROM payment_klarna_event
                             WHERE state = 'pending' AND next_attempt_at <= %(now)s
                          ORDER BY next_attempt_at, id
                             LIMIT 1
                        FOR UPDATE SKIP LOCKED
                      ) due
                     WHERE event.id = due.id
                 RETURNING event.id, event.attempts
                    """,
                    now=fields.Datetime.now(),
                    backoff=const.EVENT_BACKOFF_SECONDS,
                ),
                log_exceptions=False,
            )
            row = self.env.cr.fetchone()
            if not row:
                return self.browse()
            event = self.browse(row[0])
            event.invalidate_recordset(["attempts", "next_attempt_at"])
            if row[1] <= const.EVENT_MAX_ATTEMPTS:
                return event
            event._klarna_give_up()

    def _klarna_give_up(self):
        _logger.warning(
            "Klarna event %s (%s) is a dead letter: its worker stopped in each of %s attempts",
            self.event_id,
            self.event_type,
            const.EVENT_MAX_ATTEMPTS,
        )
        self.write(
            {
                "state": "dead",
                "attempts": const.EVENT_MAX_ATTEMPTS,
                "last_error": self.env._(
                    "The worker stopped (killed, out of memory or out of time) while "
                    "applying this event, in each of its %s attempts.",
                    const.EVENT_MAX_ATTEMPTS,
                ),
            }
        )
        self.env.flush_all()

    def _klarna_process(self):
        """Apply each claimed event in its own savepoint and record what happened; the
        attempt was counted by the claim."""
        for event in self:
            try:
                with self.env.cr.savepoint():
                    state, outcome, tx = event._klarna_dispatch()
            except TransactionBusy:
                event._klarna_postpone()
            except TransactionMismatch as error:
                event._klarna_set_aside(error)
            except Exception as error:  # any failure is recorded, then retried or dead-lettered
                event._klarna_record_failure(error)
            else:
                # The transaction is linked with the result: one write of the event.
                event.write(
                    {
                        "state": state,
                        "outcome": outcome,
                        "processed_at": fields.Datetime.now(),
                        "last_error": False,
                        "transaction_id": tx.id,
                    }
                )

    def _klarna_postpone(self):
        """Wait for a busy transaction; that is no failure, so the attempt is given back."""
        when = fields.Datetime.now() + timedelta(seconds=const.EVENT_BUSY_DELAY_SECONDS)
        self.write(
            {
                "attempts": self.attempts - 1,
                "next_attempt_at": when,
                "last_error": "The transaction was busy.",
            }
        )
        self.env.ref("payment_klarna.cron_process_events")._trigger(when)

    def _klarna_set_aside(self, error):
        """Park an event that may not change the transaction it names; retrying it
        unchanged cannot help, so it goes to the dead letters at once."""
        message = str(error)[: const.EVENT_MAX_ERROR_LENGTH]
        _logger.warning(
            "Klarna event %s (%s) set aside: %s", self.event_id, self.event_type, message
        )
        self.write(
            {
                "state": "dead",
                "outcome": self.env._("Set aside: nothing was changed."),
                "last_error": message,
            }
        )

    def _klarna_record_failure(self, error):
        attempts = self.attempts
        message = f"{type(error).__name__}: {error}"[: const.EVENT_MAX_ERROR_LENGTH]
        if attempts >= const.EVENT_MAX_ATTEMPTS:
            _logger.warning(
                "Klarna event %s (%s) is a dead letter after %s attempts: %s",
                self.event_id,
                self.event_type,
                attempts,
                message,
            )
            self.write({"state": "dead", "last_error": message})
            return
        when = fields.Datetime.now() + timedelta(
            seconds=const.EVENT_BACKOFF_SECONDS * 2 ** (attempts - 1)
        )
        _logger.info(
            "Klarna event %s failed (attempt %s), retried at %s: %s",
            self.event_id,
            attempts,
            when,
            message,
        )
        self.write({"next_attempt_at": when, "last_error": message})
        self.env.ref("payment_klarna.cron_process_events")._trigger(when)

    def _klarna_dispatch(self):
        """Apply the event through its transaction: ``(state, outcome, transaction)`` to
        record (no transaction for an ignored event)."""
        kind = classify(self.event_type)
        if kind is None:
            return "ignored", "No handler for this event type.", self.transaction_id
        tx = self._klarna_locked_transaction()
        outcome = tx._klarna_apply_event(kind, self.event_type, self.payment_status)
        return "processed", outcome, tx

    def _klarna_locked_transaction(self):
        """The event's transaction, row-locked so a callback or a staff action cannot
        interleave; waits briefly, then postpones the event (:class:`TransactionBusy`).
        Called in :meth:`_klarna_process`'s savepoint, whose rollback ends the failed wait
        (and its lock timeout)."""
        tx = self._klarna_find_transaction()
        try:
            tx._klarna_lock(const.EVENT_LOCK_TIMEOUT)
        except (pg_errors.LockNotAvailable, pg_errors.SerializationFailure):
            # Held by another worker, or changed since this batch's snapshot: read it
            # again shortly. Locked without either, the snapshot's row is the latest.
            raise TransactionBusy() from None
        return tx

    def _klarna_find_transaction(self):
        """The transaction, found only inside the provider whose key verified the event
        (:meth:`payment.transaction._klarna_find_tx`). An event may arrive
        before the order placement commits, so a miss is retried; a mismatch raises
        :class:`TransactionMismatch`. The event is linked to it with its result."""
        tx = self.transaction_id
        if not tx:
            tx = (
                self.env["payment.transaction"]
                .sudo()
                ._klarna_find_tx(
                    {
                        "provider_id": self.provider_id.id,
                        "klarna_order_id": self.klarna_order_id,
                        "reference": self.reference,
                    },
                )
            )
        return tx.sudo()

    # === ACTIONS (dead letters) === #

    def action_retry(self):
        """Put dead letters back in the queue for a fresh series of attempts."""
        self.check_access("write")  # JSON-RPC reaches it, empty recordsets included
        if self.filtered(lambda e: e.state != "dead"):
            raise UserError(self.env._("Klarna: only dead-letter events can be retried."))
        self.write({"state": "pending", "attempts": 0, "next_attempt_at": fields.Datetime.now()})
        self.env.ref("payment_klarna.cron_process_events")._trigger()

    def action_mark_resolved(self):
        """Close dead letters that a person has dealt with outside the inbox."""
        self.check_access("write")  # JSON-RPC reaches it, empty recordsets included
        if self.filtered(lambda e: e.state != "dead"):
            raise UserError(self.env._("Klarna: only dead-letter events can be marked resolved."))
        self.write(
            {
                "state": "resolved",
                "processed_at": fields.Datetime.now(),
                "outcome": self.env._("Resolved by %s.", self.env.user.name),
            }
        )

    # === RETENTION (cron) === #

    @api.model
    def _cron_purge_payloads(self):
        """Empty the payload of finished events after the retention period (GDPR).

        Ids, types, states and outcomes stay for the audit trail.
        """
        days = int(
            self.env["ir.config_parameter"].sudo().get_param(const.EVENT_RETENTION_PARAM)
            or const.EVENT_DEFAULT_RETENTION_DAYS
        )
        limit = fields.Datetime.now() - timedelta(days=days)
        events = self.search(
            [
                ("state", "in", const.EVENT_FINAL_STATES),
                ("payload_purged", "=", False),
                ("received_at", "<", limit),
            ]
        )
        events.write({"payload": False, "payload_purged": True})
        return len(events)
