import logging
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.osv import expression
from odoo.tools import SQL
from odoo.tools.misc import hmac as hmac_tool

from .. import const
from ..controllers.main import KlarnaController
from ..klarna import callback_token, inbound
from ..klarna.authorization_token import is_authorization_token
from ..klarna.errors import KlarnaError, KlarnaNotFound, KlarnaValidationError
from ..klarna.idempotency import operation_key
from ..klarna.money import to_minor
from ..klarna.status import (
    Outcome,
    is_conflict,
    is_forward,
    klarna_wins,
    outcome_for_order,
    outcome_for_placement,
)
from ..utils import in_test
from .klarna_payload import order_payload
from .payment_klarna_event import TransactionMismatch

_logger = logging.getLogger(__name__)


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    klarna_order_id = fields.Char(
        string="Klarna Order ID", readonly=True, copy=False, index="btree_not_null"
    )
    klarna_session_id = fields.Char(readonly=True, copy=False)
    klarna_payment_category = fields.Char(readonly=True)
    klarna_fraud_status = fields.Char(readonly=True, copy=False)
    klarna_callback_token_hash = fields.Char(
        readonly=True, copy=False, index="btree_not_null", groups="base.group_system"
    )
    # The newest authorization token Klarna gave for the session, until the order is placed.
    klarna_authorization_token = fields.Char(readonly=True, copy=False, groups="base.group_system")
    # When that token arrived: Klarna honours it for 60 minutes.
    klarna_authorization_at = fields.Datetime(readonly=True, copy=False)
    # The authorization recovery job: how often it looked, and when it looks next.
    klarna_recovery_attempts = fields.Integer(readonly=True, copy=False)
    klarna_recovery_next_at = fields.Datetime(readonly=True, copy=False, index="btree_not_null")

    _sql_constraints = [
        (
            "klarna_order_id_unique",
            "UNIQUE(klarna_order_id)",
            "Klarna: this Klarna order already belongs to another transaction.",
        ),
    ]

    # === BUSINESS METHODS - PAYMENT FLOW === #

    def _get_processing_values(self):
        """Override of `payment` to give the browser the transaction's access token.

        Core logs the processing values at INFO, and the access token lets whoever holds it
        act on the transaction: it joins them after that log line.

        :return: The processing values.
        :rtype: dict
        """
        processing_values = super()._get_processing_values()
        if self.provider_code == const.PROVIDER_CODE:
            processing_values["klarna_access_token"] = self._klarna_access_token()
        return processing_values

    def _get_specific_processing_values(self, processing_values):
        """Override of `payment` to give the browser the Klarna category to authorize.

        Nothing secret goes here (client token, access token): Odoo logs these values.
        """
        res = super()._get_specific_processing_values(processing_values)
        if self.provider_code != const.PROVIDER_CODE:
            return res
        return {"klarna_payment_category": self._klarna_category()}

    def _get_specific_rendering_values(self, processing_values):
        """Override of `payment` to redirect to Klarna's hosted payment page."""
        res = super()._get_specific_rendering_values(processing_values)
        if self.provider_code != const.PROVIDER_CODE:
            return res
        redirect = urlsplit(self._klarna_start_hosted_page().redirect_url)
        return {
            "api_url": urlunsplit(redirect._replace(query="")),
            "url_params": dict(parse_qsl(redirect.query)),
        }

    def _klarna_access_token(self):
        """Authorises the browser's follow-up calls for this transaction only."""
        return hmac_tool(self.env(su=True), "payment_klarna_transaction", self.reference)

    def _klarna_check_access_token(self, access_token):
        return inbound.same_secret(self._klarna_access_token(), access_token)

    def _klarna_check_authorization_token(self, authorization_token):
        """Refuse anything but Klarna's token format: the token goes into a Klarna URL.

        :raise ValidationError: the token is malformed; nothing was stored or sent.
        """
        if not is_authorization_token(authorization_token):
            raise ValidationError(
                self.env._("Klarna: the authorization is not valid. Please pay again.")
            )

    def _klarna_return_signature(self, status):
        """Signs one hosted-page return URL: its reference and its status only."""
        return hmac_tool(
            self.env(su=True), "payment_klarna_hosted_page_return", f"{self.reference}:{status}"
        )

    def _klarna_category(self):
        return const.PAYMENT_METHOD_CATEGORIES.get(self.payment_method_id.code, "pay_later")

    def _klarna_order_payload(self):
        """The cart as Odoo computes it, in Klarna's wire format."""
        return order_payload(self)

    def _klarna_session_payload(self):
        """The cart as Odoo computes it, plus a new one-time authorization callback URL."""
        payload = self._klarna_order_payload()
        token = callback_token.new_token()
        self.sudo().klarna_callback_token_hash = callback_token.hash_token(token)
        base_url = self.provider_id.get_base_url().rstrip("/")
        if self.provider_id.state == "enabled" and not base_url.startswith("https://"):
            # Klarna calls production merchant URLs over HTTPS only.
            raise UserError(
                self.env._(
                    "Klarna: the shop's address (%(url)s) must use https to take live Klarna "
                    "payments. Set the website's domain or web.base.url to an https address.",
                    url=base_url,
                )
            )
        payload["merchant_urls"] = {
            "authorization": base_url + KlarnaController._authorization_callback_prefix + token,
        }
        return payload

    def _klarna_attach_session(self, session_id, address=None):
        """Bind the browser's Klarna session to this transaction with the server's cart.

        The session was created when the customer chose Klarna; the cart may have changed
        since (another tab, a coupon), so it is sent again as Odoo computes it now. Only a
        payment not yet under way takes a session: a placed or finished one keeps its own,
        and Klarna is not called.

        A repeated prepare of the same session on this transaction is answered without
        calling Klarna only when nothing changed since the last update that went through:
        the transaction still holds that session, the cart as Odoo computes it now (with
        the Klarna account) hashes the same, and that update was the transaction's latest
        attempt. Klarna's session then holds this very cart and the callback URL whose token
        this transaction still stores (its success is written in the same database
        transaction as the token). Any change, another session in between, or a failed or
        refused attempt since (Klarna may have applied it) makes a new call, within the
        bounds: per widget session (anyone can create draft transactions, so not per
        transaction) and per address (see payment.klarna.session).

        :param str session_id: the widget's session, signed by the session route
        :param str address: the customer's IP address
        :raise UserError: the payment is under way, past a bound, or Klarna refused
        """
        self.ensure_one()
        if self.state != "draft" or self.klarna_order_id:
            raise UserError(self.env._("Klarna: the payment session is not valid."))
        sessions = self.env["payment.klarna.session"].sudo()
        payload_hash = sessions._klarna_payload_hash(self.provider_id, self._klarna_order_payload())
        last = sessions.search(
            [("kind", "=", "prepare"), ("transaction_id", "=", self.id)], order="id desc", limit=1
        )
        if (
            self.klarna_session_id == session_id
            and last.cart_key == session_id
            and last.session_id == session_id
            and last.payload_hash == payload_hash
        ):
            return
        attempt = sessions._klarna_count_call(
            self.provider_id,
            "prepare",
            session_id,
            address,
            const.PREPARES_PER_SESSION,
            payload_hash,
            tx=self,
        )
        client = self.provider_id._klarna_get_client()
        try:
            client.update_session(session_id, self._klarna_session_payload())
        except KlarnaError as error:
            self._klarna_raise_browser_error(error, "prepare")
        self._klarna_bind_session(session_id)
        attempt.session_id = session_id

    def _klarna_bind_session(self, session_id):
        """Remember the session; the recovery job looks at it once the customer had time."""
        first_check = timedelta(minutes=const.RECOVERY_FIRST_CHECK_MINUTES)
        self.write(
            {
                "klarna_session_id": session_id,
                "klarna_payment_category": self._klarna_category(),
                "klarna_recovery_next_at": fields.Datetime.now() + first_check,
            }
        )

    def _klarna_start_hosted_page(self):
        """Create a Payments session and its Hosted Payment Page for the redirect flow.

        The return URLs carry no token (the HTTP access log records them): each is signed
        for its own status, and the authorization is read from Klarna's session on return.
        """
        client = self.provider_id._klarna_get_client()
        base_url = self.provider_id.get_base_url().rstrip("/")
        try:
            session = client.create_session(self._klarna_session_payload())
            self._klarna_bind_session(session.session_id)
            merchant_urls = {
                status: f"{base_url}{KlarnaController._hpp_return_url}?"
                + urlencode(
                    {
                        "reference": self.reference,
                        "status": status,
                        "signature": self._klarna_return_signature(status),
                    }
                )
                for status in const.HOSTED_PAGE_RETURN_STATUSES
            }
            hpp = client.create_hpp_session(
                {
                    "payment_session_url": f"{client.config.api_url}/payments/v1/sessions/"
                    f"{session.session_id}",
                    "merchant_urls": merchant_urls,
                    "options": {"payment_method_categories": [self.klarna_payment_category]},
                }
            )
        except KlarnaError as error:
            raise ValidationError(
                self.env._("Klarna: the payment page could not be opened: %s", error)
            ) from error
        return hpp

    def _klarna_lock(self, lock_timeout=None):
        """Take the transaction's row lock: the one lock of every Klarna decision on it.

        The browser, the authorization callback, the recovery job, the webhook worker and
        staff's order-management actions all decide on the transaction under this lock, so
        the second one waits here. ``FOR NO KEY UPDATE`` lets a key share (a foreign key to
        the transaction, as the operation log's) pass. If the first one changed the row
        after this transaction's snapshot, PostgreSQL answers with a serialization failure.
        It is expected, so it is not logged as a failed query: a browser request is retried
        by Odoo with a fresh snapshot; the callback, the jobs and the webhook worker step
        aside.

        :param str lock_timeout: the longest wait (a PostgreSQL duration); None waits on.
        :raise psycopg2.errors.LockNotAvailable: the wait timed out.
        :raise psycopg2.errors.SerializationFailure: another worker changed the row first.
        """
        self.ensure_one()
        cr = self.env.cr
        if lock_timeout:
            cr.execute("SHOW lock_timeout")
            previous = cr.fetchone()[0]
            cr.execute(SQL("SELECT set_config('lock_timeout', %s, true)", lock_timeout))
        cr.execute(
            SQL("SELECT id FROM payment_transaction WHERE id = %s FOR NO KEY UPDATE", self.id),
            log_exceptions=False,
        )
        if lock_timeout:
            cr.execute(SQL("SELECT set_config('lock_timeout', %s, true)", previous))
        self.invalidate_recordset()

    def _klarna_place_order(self, authorization_token, source):
        """Turn an authorization into exactly one Klarna order, whoever asks first.

        The browser, the authorization callback and the recovery cron may all hold a token
        for the same session. The transaction row lock serialises them: the first places
        the order, the others find it placed. The idempotency key, derived from the
        transaction, makes a retry after a crash between Klarna's answer and our commit
        return the same order instead of a second one.

        :return: whether this call placed the order (a refused cart makes an error).
        :raise KlarnaError: Klarna did not answer, or refused the authorization.
        """
        self.ensure_one()
        self._klarna_lock()
        if self.klarna_order_id or self.state not in ("draft", "pending"):
            return False
        provider = self.provider_id
        auto_capture = provider.klarna_capture_policy == "at_placement"
        payload = self._klarna_order_payload()
        client = provider._klarna_get_client()
        key = operation_key(
            self.reference, "place_order", to_minor(self.amount, self.currency_id.decimal_places)
        )
        try:
            placed = client.create_order(
                authorization_token, payload, idempotency_key=key, auto_capture=auto_capture
            )
        except KlarnaValidationError as error:
            self._klarna_forget_authorization()
            self._handle_notification_data(
                const.PROVIDER_CODE,
                {
                    "reference": self.reference,
                    "outcome": Outcome.ERROR.value,
                    "message": self.env._(
                        "Klarna refused the order: %(error)s",
                        error="; ".join(error.error_messages) or str(error),
                    ),
                    "source": source,
                },
            )
            return False
        self._klarna_forget_authorization()
        self._handle_notification_data(
            const.PROVIDER_CODE,
            {
                "reference": self.reference,
                "klarna_order_id": placed.order_id,
                "fraud_status": placed.fraud_status,
                "outcome": outcome_for_placement(
                    placed.fraud_status,
                    auto_capture,
                    guaranteed=self.klarna_payment_category != "pay_now",
                ).value,
                "source": source,
            },
        )
        return True

    def _klarna_authorize(self, authorization_token, source, address=None):
        """Place the order for an authorization the customer just gave.

        When Klarna is unavailable, the token is kept and the recovery job places the order
        soon. A token Klarna refuses is never kept, so nothing retries a dead one. A token
        from an anonymous browser (``address`` given) may be anything well-formed, so each
        order placement it asks for counts against the bounds per widget session (the
        transaction's reference without one) and per address (see payment.klarna.session);
        a customer who retries after an outage stays far below them.

        :param str authorization_token: the token from Klarna's widget or session.
        :param str source: who brought it, for the state message and the log.
        :param str address: the browser's IP address, when a browser brought the token.
        :raise ValidationError: the token is malformed, or Klarna refused it.
        :raise UserError: past a bound; Klarna was not called.
        """
        self._klarna_check_authorization_token(authorization_token)
        if address is not None and self.state in ("draft", "pending") and not self.klarna_order_id:
            sessions = self.env["payment.klarna.session"].sudo()
            sessions._klarna_count_call(
                self.provider_id,
                "authorize",
                self.klarna_session_id or self.reference,
                address,
                const.AUTHORIZATIONS_PER_SESSION,
                sessions._klarna_payload_hash(self.provider_id, self._klarna_order_payload()),
                tx=self,
            )
        try:
            self._klarna_place_order(authorization_token, source)
        except KlarnaError as error:
            if not error.retryable:
                self._klarna_raise_browser_error(error, "authorize")
            _logger.warning(
                "Klarna order for %s queued after %s", self.reference, type(error).__name__
            )
            self._klarna_queue_authorization(authorization_token)

    def _klarna_record_callback_authorization(self, authorization_token):
        """Keep the callback's authorization for the recovery job, durably or not at all.

        Klarna retries a callback that gets no 2xx, and allows it 2 s: the row lock is
        awaited briefly, and a busy transaction is reported so that the answer asks Klarna
        to call again instead of claiming a token that was never stored.

        :param str authorization_token: the token from the callback's body.
        :return: True when the token is stored (committed with the answer) or the order is
            already placed; False when the transaction was busy and nothing was stored.
        :raise ValidationError: the token is malformed.
        """
        self.ensure_one()
        self._klarna_check_authorization_token(authorization_token)
        try:
            with self.env.cr.savepoint():
                self._klarna_lock(const.CALLBACK_LOCK_TIMEOUT)
        except (pg_errors.LockNotAvailable, pg_errors.SerializationFailure):
            _logger.info("Klarna callback for %s deferred: the transaction is busy", self.reference)
            return False
        if not self.klarna_order_id and self.state in ("draft", "pending"):
            self._klarna_queue_authorization(authorization_token)
        return True

    def _klarna_process_hosted_page_return(self, status, signature):
        """Apply the customer's return from Klarna's hosted page.

        A copy of the return URL (the HTTP access log keeps it) can only repeat what already
        happened: it is signed for its own status, and the authorization it stands for is
        read from Klarna's session, never from the URL.

        :param str status: which of the hosted page's merchant URLs Klarna sent the customer to.
        :param str signature: that URL's signature.
        :raise ValidationError: the status is missing or unknown, or the signature is wrong;
            nothing was changed.
        """
        self.ensure_one()
        if status not in const.HOSTED_PAGE_RETURN_STATUSES or not inbound.same_secret(
            self._klarna_return_signature(status), signature
        ):
            raise ValidationError(
                self.env._("Klarna: this return from Klarna's payment page is not valid.")
            )
        if status == "success":
            self._klarna_authorize_from_session("hosted page")
        elif self.state == "draft" and status in ("cancel", "back"):
            self._set_canceled(
                state_message=self.env._("The customer left Klarna before approving.")
            )
        elif self.state == "draft":
            self._set_error(self.env._("Klarna could not complete the payment."))

    # === THE BROWSER'S AND KLARNA'S REQUESTS (called by the routes) === #

    def _klarna_cancel_by_customer(self, declined):
        """The customer closed Klarna's dialog, or Klarna declined: a payment that is not
        under way is canceled, so the cart stays payable; any other is left as it is.

        :param bool declined: Klarna declined the payment (else the customer left).
        """
        self.ensure_one()
        if self.state == "draft" and not self.klarna_order_id:
            self._set_canceled(
                state_message=self.env._("Klarna declined the payment.")
                if declined
                else self.env._("The customer left Klarna before approving.")
            )

    def _klarna_read_authorization_callback(self, body):
        """The authorization token of Klarna's authorization callback for this transaction.

        The body must be a well-formed callback for the session this transaction holds. A
        refusal is logged on the security logger with its reason code, never the body.

        :param bytes body: the callback's raw body, its size already bounded.
        :return: the authorization token.
        :rtype: str
        :raise ValidationError: the body is not a callback for this transaction's session.
        """
        # Imported here: this block is the only part of the module this change may edit.
        from ..klarna.events import EventError, parse_authorization_callback

        self.ensure_one()
        try:
            callback = parse_authorization_callback(body)
        except EventError as error:
            reason = error.reason_code
        else:
            if callback.session_id == self.klarna_session_id:
                return callback.authorization_token
            reason = "session mismatch"
        logging.getLogger(f"{__name__}.security").warning(
            "Klarna callback for %s refused: %s", self.reference, reason
        )
        raise ValidationError(self.env._("Klarna: this authorization callback is not valid."))

    def _klarna_raise_browser_error(self, error, step):
        """Turn a Klarna error met on the customer's behalf into the customer's message.

        The one policy for the browser's Klarna calls: an authorization Klarna cannot take
        now (a retryable error) is kept and placed by the recovery job, so
        :meth:`_klarna_authorize` queues it instead of calling this. A session update cannot
        be queued (Klarna's widget authorizes the session as it stands), so each of its
        errors, retryable or not, is the customer's to retry. The message gives Klarna's
        lead only: the details may quote the customer's data or a token.

        :param KlarnaError error: what the Klarna client raised.
        :param str step: ``"prepare"`` (a session update) or ``"authorize"`` (an order).
        :raise UserError: for a session update.
        :raise ValidationError: for an order placement.
        """
        if step == "prepare":
            if isinstance(error, KlarnaNotFound):
                raise UserError(
                    self.env._(
                        "Klarna: the payment session expired. Reload the page and pay again."
                    )
                ) from None
            raise UserError(
                self.env._("Klarna: the payment could not start: %s", error.lead)
            ) from error
        raise ValidationError(
            self.env._("Klarna: the order could not be placed: %s.", error.lead)
        ) from error

    def _klarna_authorize_from_session(self, source):
        """Place the order with the authorization Klarna's session holds.

        Where Klarna cannot tell yet (unavailable, nothing authorized so far), the recovery
        job asks again right away. Once the order is placed or the payment is over, a
        repeated return (a reload, a copy of the URL) asks Klarna nothing.
        """
        if self.klarna_order_id or self.state not in ("draft", "pending"):
            return
        try:
            session = self.provider_id._klarna_get_client().read_session(self.klarna_session_id)
        except KlarnaError as error:
            _logger.warning(
                "Klarna session of %s not read after the hosted page: %s",
                self.reference,
                type(error).__name__,
            )
            self._klarna_wake_recovery()
            return
        if not session.authorization_token:
            self._klarna_wake_recovery()
            return
        try:
            self._klarna_authorize(session.authorization_token, source)
        except ValidationError as error:
            self._set_error(error.args[0])

    def _klarna_queue_authorization(self, authorization_token):
        """Keep a token Klarna may still take, for the recovery job, and wake the job."""
        self.sudo().write(
            {
                "klarna_authorization_token": authorization_token,
                "klarna_authorization_at": fields.Datetime.now(),
            }
        )
        self._klarna_wake_recovery()

    def _klarna_forget_authorization(self):
        self.sudo().write({"klarna_authorization_token": False, "klarna_authorization_at": False})

    def _klarna_wake_recovery(self):
        """Make the transaction due for the recovery job and run the job soon."""
        self.klarna_recovery_next_at = fields.Datetime.now()
        self.env.ref("payment_klarna.cron_recover_authorizations").sudo()._trigger()

    # === BUSINESS METHODS - NOTIFICATIONS === #

    def _get_tx_from_notification_data(self, provider_code, notification_data):
        """Override of `payment` to find the one Klarna transaction the data names.

        The one lookup of the webhook worker, the fraud notifications, the authorization
        callback and the browser and hosted-page routes. Within ``provider_id`` when the
        data gives one (the provider whose key verified a webhook: a playground key must
        not reach a live transaction), by Klarna order id first, since the order, not the
        editable merchant reference, is Klarna's identity of a payment.

        :param str provider_code: The code of the provider that handled the transaction.
        :param dict notification_data: Any of ``klarna_callback_token_hash``,
            ``klarna_order_id``, ``reference`` (strings) and ``provider_id``.
        :return: The transaction.
        :rtype: recordset of `payment.transaction`
        :raise TransactionMismatch: The data names a transaction of another provider, or
            a transaction that belongs to another Klarna order.
        :raise ValidationError: No transaction matches, or the data is malformed.
        """
        tx = super()._get_tx_from_notification_data(provider_code, notification_data)
        if provider_code != const.PROVIDER_CODE or len(tx) == 1:
            return tx
        keys = ("klarna_callback_token_hash", "klarna_order_id", "reference")
        token_hash, order_id, reference = (notification_data.get(key) or None for key in keys)
        if not any((token_hash, order_id, reference)) or not all(
            value is None or inbound.is_text(value) for value in (token_hash, order_id, reference)
        ):
            raise ValidationError(
                self.env._("Klarna: received data without a usable reference or order id.")
            )
        named_by = (("klarna_order_id", order_id), ("reference", reference))
        klarna = [("provider_code", "=", const.PROVIDER_CODE)]
        provider_id = notification_data.get("provider_id")
        scope = [*klarna, ("provider_id", "=", provider_id)] if provider_id else klarna
        if token_hash:
            tx = self.search([("klarna_callback_token_hash", "=", token_hash), *scope], limit=1)
        if order_id and not tx:
            tx = self.search([("klarna_order_id", "=", order_id), *scope], limit=1)
        if reference and not tx:
            tx = self.search([("reference", "=", reference), *scope], limit=1)
            if tx.klarna_order_id and order_id and tx.klarna_order_id != order_id:
                raise TransactionMismatch(
                    self.env._(
                        "Klarna: %(reference)s belongs to another Klarna order than the one "
                        "received; nothing was changed.",
                        reference=reference,
                    )
                )
        if not tx and provider_id:
            named = [[(field, "=", value)] for field, value in named_by if value]
            if self.search_count(expression.AND([expression.OR(named), klarna]), limit=1):
                raise TransactionMismatch(
                    self.env._(
                        "Klarna: the data names a transaction of another provider than the one "
                        "whose key signed it; nothing was changed."
                    )
                )
        if not tx:
            raise ValidationError(self.env._("Klarna: no transaction matches the received data."))
        return tx

    def _process_notification_data(self, notification_data):
        """Override of `payment` to apply a Klarna outcome, never moving backwards."""
        super()._process_notification_data(notification_data)
        if self.provider_code != const.PROVIDER_CODE:
            return
        order_id = notification_data.get("klarna_order_id")
        if order_id and not self.klarna_order_id:
            self.write({"klarna_order_id": order_id, "provider_reference": order_id})
        if fraud_status := notification_data.get("fraud_status"):
            self.klarna_fraud_status = fraud_status
        try:
            outcome = Outcome(notification_data["outcome"])
        except (KeyError, ValueError):
            raise ValidationError(
                self.env._("Klarna: received data without a valid outcome.")
            ) from None
        self._klarna_apply_outcome(
            outcome, notification_data.get("source"), notification_data.get("message")
        )

    def _klarna_apply_outcome(self, outcome, source, message=None):
        """Apply a Klarna outcome through Odoo's `_set_*` methods if it moves forward.

        Out-of-order news (a late "pending" after "done") is ignored. Where Klarna holds
        or has moved money on a transaction Odoo considers dead, Klarna's status wins;
        any other contradiction between final states is kept as it is. Both are written
        on the chatter for a person.
        """
        self.ensure_one()
        current = None if self.state == "draft" else Outcome(self.state)
        facts = {
            "new": outcome.name.lower(),
            "origin": source,
            "reference": self.reference,
            "current": self.state,
        }
        if klarna_wins(current, outcome):
            self._klarna_log(
                self.env._(
                    "Klarna reported %(new)s (%(origin)s) for %(reference)s, which Odoo had "
                    "as %(current)s: Klarna's status is applied. Please review the order.",
                    **facts,
                )
            )
            return self._klarna_set(outcome, message, extra_allowed_states=(self.state,))
        if not is_forward(current, outcome):
            if is_conflict(current, outcome):
                self._klarna_log(
                    self.env._(
                        "Klarna reported %(new)s (%(origin)s) for %(reference)s, which is "
                        "already %(current)s in Odoo: please review it in Klarna's portal.",
                        **facts,
                    )
                )
            _logger.info(
                "Klarna %s for %s ignored: %s is not forward from %s",
                source,
                self.reference,
                outcome.value,
                self.state,
            )
            return False
        return self._klarna_set(outcome, message)

    def _klarna_set(self, outcome, message, extra_allowed_states=()):
        setter = {
            Outcome.PENDING: self._set_pending,
            Outcome.AUTHORIZED: self._set_authorized,
            Outcome.DONE: self._set_done,
            Outcome.CANCELED: self._set_canceled,
            Outcome.ERROR: self._set_error,
        }[outcome]
        if outcome is Outcome.ERROR:
            message = message or self.env._("Klarna declined the payment.")
        setter(state_message=message, extra_allowed_states=extra_allowed_states)
        return True

    def _klarna_sync_from_order(self, klarna_order, source):
        """Bring the transaction in line with an order read from Order Management.

        Used where Klarna's word must be re-read rather than trusted from a message
        (unsigned fraud notifications, reconciliation).
        """
        self.ensure_one()
        outcome = outcome_for_order(
            klarna_order.status, klarna_order.fraud_status, klarna_order.captured_amount
        )
        return self._handle_notification_data(
            const.PROVIDER_CODE,
            {
                "reference": self.reference,
                "klarna_order_id": klarna_order.order_id,
                "fraud_status": klarna_order.fraud_status,
                "outcome": outcome.value,
                "source": source,
            },
        )

    def _klarna_log(self, message):
        """Write on the chatter of the documents the transaction pays, or log it."""
        documents = self.sale_order_ids or self.invoice_ids
        if documents:
            for document in documents:
                document.message_post(body=message)
        else:
            _logger.warning("%s", message)

    # === CRON === #

    @api.model
    def _cron_klarna_recover_authorizations(self):
        """Place orders for authorizations the browser did not finish, or whose callback was lost.

        Each transaction is handled and committed on its own: an error is logged and
        counted and the job moves on, and a crash loses nothing already placed. Stored
        tokens (they expire within the hour) go first, then the longest-waiting sessions;
        each session looked at waits ever longer for its next look, so drafts anyone can
        create cannot crowd out real payments.
        """
        now = fields.Datetime.now()
        due = [
            ("provider_code", "=", const.PROVIDER_CODE),
            ("state", "in", ("draft", "pending")),
            ("klarna_order_id", "=", False),
            ("klarna_session_id", "!=", False),
            "|",
            ("klarna_recovery_next_at", "=", False),
            ("klarna_recovery_next_at", "<=", now),
        ]
        order = "klarna_recovery_next_at ASC NULLS FIRST, id"
        txs = self.search(
            [*due, ("klarna_authorization_token", "!=", False)],
            order=order,
            limit=const.RECOVERY_BATCH,
        )
        if len(txs) < const.RECOVERY_BATCH:
            txs |= self.search(
                [*due, ("id", "not in", txs.ids)],
                order=order,
                limit=const.RECOVERY_BATCH - len(txs),
            )
        for tx in txs:
            try:
                with self.env.cr.savepoint():
                    tx._klarna_recover(now)
            except (pg_errors.LockNotAvailable, pg_errors.SerializationFailure):
                _logger.info("Klarna recovery of %s left to the worker placing it", tx.reference)
            # One bad transaction must not stop the others, whatever went wrong.
            except Exception as error:  # pylint: disable=broad-exception-caught
                tx._klarna_recovery_failed(now, error)
            if not in_test():
                self.env.cr.commit()  # pylint: disable=invalid-commit
        self.env["ir.cron"]._notify_progress(done=len(txs), remaining=self.search_count(due))

    def _klarna_recover(self, now):
        """One look at a transaction whose order nobody has placed yet.

        The session's 48 hours bound everything. A stored token is used within its 60
        minutes only; after that, or when Klarna refuses it, Klarna's session has the last
        word, and an authorization Klarna refuses there too is given up.
        """
        self._klarna_lock()
        if self.klarna_order_id or self.state not in ("draft", "pending"):
            return
        expired = self.env._("Klarna: the payment session expired.")
        if now - self.create_date >= timedelta(hours=const.SESSION_LIFETIME_HOURS):
            self._klarna_forget_authorization()
            self._set_canceled(state_message=expired)
            return
        stored, received = self.sudo().klarna_authorization_token, self.klarna_authorization_at
        refused = None
        if stored:
            self._klarna_forget_authorization()
            token_lifetime = timedelta(minutes=const.AUTHORIZATION_TOKEN_LIFETIME_MINUTES)
            if not received or now - received < token_lifetime:
                if self._klarna_try_placement(stored, "callback"):
                    return
                refused = stored
        elif now - self.create_date < timedelta(minutes=const.RECOVERY_FIRST_CHECK_MINUTES):
            # Leave the customer time: look when the first check is due.
            self.klarna_recovery_next_at = self.create_date + timedelta(
                minutes=const.RECOVERY_FIRST_CHECK_MINUTES
            )
            return
        try:
            session = self.provider_id._klarna_get_client().read_session(self.klarna_session_id)
        except KlarnaNotFound:
            self._set_canceled(state_message=expired)
            return
        token = session.authorization_token
        if token and token == refused:
            self._klarna_give_up()
            return
        if is_authorization_token(token) and token != stored:
            if not self._klarna_try_placement(token, "recovery"):
                self._klarna_give_up()
            return
        # Nothing new to place (no authorization yet, or only the expired one): look later.
        self._klarna_schedule_next_check(now)

    def _klarna_try_placement(self, authorization_token, source):
        """Place the order; False when Klarna does not know the token (expired or unknown)."""
        try:
            self._klarna_place_order(authorization_token, source)
        except KlarnaNotFound:
            return False
        return True

    def _klarna_give_up(self):
        self._set_error(
            self.env._(
                "Klarna: the authorization expired before the order could be placed. "
                "The customer can pay again."
            )
        )

    def _klarna_schedule_next_check(self, now):
        """Count the look and push the next one back, ever further up to a cap."""
        attempts = self.klarna_recovery_attempts + 1
        delay = min(
            const.RECOVERY_FIRST_CHECK_MINUTES * 2 ** min(attempts - 1, 16),
            const.RECOVERY_MAX_DELAY_MINUTES,
        )
        self.write(
            {
                "klarna_recovery_attempts": attempts,
                "klarna_recovery_next_at": now + timedelta(minutes=delay),
            }
        )

    def _klarna_recovery_failed(self, now, error):
        """Log a failed look without secrets or personal data, count it and move on."""
        details = (
            f" ({error.error_code or error.status}, correlation id {error.correlation_id})"
            if isinstance(error, KlarnaError)
            else ""
        )
        _logger.warning(
            "Klarna recovery of %s failed (attempt %d): %s%s",
            self.reference,
            self.klarna_recovery_attempts + 1,
            type(error).__name__,
            details,
        )
        self._klarna_schedule_next_check(now)
