"""The Klarna payment transaction: checkout, notifications, recovery and Order Management.

Sections, in the order of a payment's life: the payment flow (the widget's session, the
hosted page, the order placement), the one lookup and the one door that changes states
(``_klarna_find_tx``, ``_klarna_apply_notification``, behind the hooks of Odoo 18 and 19;
``compat`` holds the series' entry points), webhook events, the
authorization recovery job, then Order Management from Odoo's own buttons and the
reconciliation and expiry jobs. Decisions:

* Exactly one Klarna order per authorization, whoever brings it first (browser, callback,
  recovery job): every decision on a transaction is taken under its row lock
  (``_klarna_lock``), and the order placement carries an idempotency key derived from the
  transaction, so a retry after a crash returns the same order.
* States change only through Odoo's notification flow (``compat.handle_notification``) and
  Odoo's ``_set_*`` methods,
  and only forwards (``klarna.status``); where Klarna holds money on a payment Odoo
  considers dead, Klarna's status wins and a person is told.
* The transaction that placed the Klarna order (the "order transaction") owns every
  operation. A partial capture is Odoo's child transaction (``P-...``); a refund asked on
  such a child is sent for the order and recorded as a refund child of the capture child.
* Before each Order Management call the order transaction is locked and the Klarna order is
  read: the amount is checked against what Klarna and Odoo's own children still allow
  (``klarna.amounts``), and a cancelled or expired order is refused.
* Before a capture or refund, Klarna's books are compared with Odoo's (``_klarna_settle``):
  what Klarna holds under the reference of one of Odoo's operations (an answer lost to a
  timeout or a crash) is recorded instead of being sent again, whatever its age; anything
  else Klarna holds that Odoo has not recorded (its portal) stops the call until
  reconciliation records it. An unanswered call Klarna does not show blocks other amounts
  until it is stale (``const.INTENT_GRACE``), then is closed as never applied.
* Each call goes through ``payment.klarna.operation._run``: intent committed, call with the
  operation's idempotency key, outcome committed. Only then does Odoo create its child
  transaction, so a refused call changes nothing in Odoo.
* A full capture makes the order transaction ``done`` and keeps the Capture-Id in
  ``klarna_capture_id``; a partial one sets the child's ``provider_reference`` to it.
* Klarna's ``order_lines`` are sent when Odoo knows what is captured or refunded: lines given
  by the caller (a delivery), the whole order, a posted invoice or the credit note being
  refunded, whichever adds up to the amount exactly. Otherwise only the amount goes.
* The jobs treat each transaction apart: a savepoint, any error logged (its type and place,
  never its text, which may quote customer data), a commit, and on to the next one.
"""

import logging
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, format_amount
from odoo.tools.misc import hmac as hmac_tool

from odoo.addons.payment import utils as payment_utils

from .. import compat, const
from ..controllers.main import KlarnaController
from ..klarna import amounts, callback_token, inbound, reconcile
from ..klarna.authorization_token import is_authorization_token
from ..klarna.errors import KlarnaError, KlarnaNotFound, KlarnaValidationError
from ..klarna.events import (
    EventError,
    EventKind,
    outcome_for_payment_request,
    parse_authorization_callback,
    payment_request_state,
)
from ..klarna.idempotency import operation_key
from ..klarna.masking import error_origin
from ..klarna.money import from_minor, to_minor
from ..klarna.status import (
    OPEN_ORDER_STATUSES,
    Outcome,
    is_conflict,
    is_forward,
    klarna_wins,
    outcome_for_order,
    outcome_for_payment_status,
    outcome_for_placement,
)
from ..payload import amount_lines, document_lines, order_payload, payable_lines
from ..utils import in_test
from .payment_klarna_event import TransactionMismatch

_logger = logging.getLogger(__name__)
_security_logger = logging.getLogger(__name__ + ".security")


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

    klarna_capture_id = fields.Char(
        string="Klarna Capture ID",
        readonly=True,
        copy=False,
        help="The capture of the whole amount; partial captures are child transactions.",
    )
    klarna_expires_at = fields.Datetime(
        string="Klarna Authorization Expiry", readonly=True, copy=False
    )
    klarna_expiry_warned = fields.Boolean(readonly=True, copy=False)
    klarna_reconciled_at = fields.Datetime(readonly=True, copy=False)
    klarna_operation_ids = fields.One2many(
        string="Klarna Operations",
        comodel_name="payment.klarna.operation",
        inverse_name="transaction_id",
        readonly=True,
    )

    _klarna_order_id_unique = compat.Constraint(
        "UNIQUE(klarna_order_id)",
        "Klarna: this Klarna order already belongs to another transaction.",
    )

    # === ACTION METHODS === #

    def action_klarna_reconcile(self):
        """Read the Klarna orders now and correct Odoo, as the hourly cron does.

        :return: None
        :raise AccessError: the user may not manage payments.
        :raise UserError: Klarna's order could not be read.
        """
        payment_utils.check_rights_on_recordset(self)
        for tx in self:
            tx.sudo()._klarna_order_tx()._klarna_reconcile()

    def action_klarna_extend_authorization(self):
        """Push back the expiry of the uncaptured authorizations (the button's action).

        :return: None
        :raise AccessError: the user may not manage payments.
        :raise UserError: the authorization cannot be extended, or Klarna refused.
        """
        payment_utils.check_rights_on_recordset(self)
        for tx in self:
            tx.sudo()._klarna_extend_authorization()

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

        :param dict processing_values: The generic processing values of the transaction.
        :return: The provider-specific processing values.
        :rtype: dict
        """
        res = super()._get_specific_processing_values(processing_values)
        if self.provider_code != const.PROVIDER_CODE:
            return res
        return {"klarna_payment_category": self._klarna_category()}

    def _get_specific_rendering_values(self, processing_values):
        """Override of `payment` to redirect to Klarna's hosted payment page.

        :param dict processing_values: The generic and specific processing values.
        :return: The redirect form's URL and its parameters.
        :rtype: dict
        :raise ValidationError: Klarna's page could not be opened.
        """
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

    def _klarna_session_payload(self, payload=None):
        """The cart as Odoo computes it, plus a new one-time authorization callback URL.

        :param dict payload: the cart as this request already computed it
            (:meth:`_klarna_order_payload`), else computed here
        """
        payload = payload or self._klarna_order_payload()
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
        payload = self._klarna_order_payload()
        payload_hash = sessions._klarna_payload_hash(self.provider_id, payload)
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
            client.update_session(session_id, self._klarna_session_payload(payload))
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

    def _klarna_place_order(self, authorization_token, source, payload=None):
        """Turn an authorization into exactly one Klarna order, whoever asks first.

        The browser, the authorization callback and the recovery cron may all hold a token
        for the same session. The transaction row lock serialises them: the first places
        the order, the others find it placed. The idempotency key, derived from the
        transaction, makes a retry after a crash between Klarna's answer and our commit
        return the same order instead of a second one.

        :param str authorization_token: the token to place the order with
        :param str source: who brought it, for the state message and the log
        :param dict payload: the cart as this request already computed it, else computed here
            (the snapshot is the same before and after the lock)
        :return: whether this call placed the order (a refused cart makes an error).
        :raise KlarnaError: Klarna did not answer, or refused the authorization.
        """
        self.ensure_one()
        self._klarna_lock()
        if self.klarna_order_id or self.state not in ("draft", "pending"):
            return False
        provider = self.provider_id
        auto_capture = provider.klarna_capture_policy == "at_placement"
        payload = payload or self._klarna_order_payload()
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
            compat.handle_notification(
                self,
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
        compat.handle_notification(
            self,
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
        payload = None
        if address is not None and self.state in ("draft", "pending") and not self.klarna_order_id:
            sessions = self.env["payment.klarna.session"].sudo()
            payload = self._klarna_order_payload()
            sessions._klarna_count_call(
                self.provider_id,
                "authorize",
                self.klarna_session_id or self.reference,
                address,
                const.AUTHORIZATIONS_PER_SESSION,
                sessions._klarna_payload_hash(self.provider_id, payload),
                tx=self,
            )
        try:
            self._klarna_place_order(authorization_token, source, payload)
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
        self.ensure_one()
        try:
            callback = parse_authorization_callback(body)
        except EventError as error:
            reason = error.reason_code
        else:
            if callback.session_id == self.klarna_session_id:
                return callback.authorization_token
            reason = "session mismatch"
        _security_logger.warning("Klarna callback for %s refused: %s", self.reference, reason)
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
        """Override of `payment` (Odoo 18) to find the Klarna transaction: `_klarna_find_tx`."""
        tx = super()._get_tx_from_notification_data(provider_code, notification_data)
        if provider_code != const.PROVIDER_CODE or len(tx) == 1:
            return tx
        return self._klarna_find_tx(notification_data)

    @api.model
    def _search_by_reference(self, provider_code, payment_data):
        """Override of `payment` (Odoo 19) to find the Klarna transaction: `_klarna_find_tx`."""
        if provider_code != const.PROVIDER_CODE:
            return super()._search_by_reference(provider_code, payment_data)
        return self._klarna_find_tx(payment_data)

    @api.model
    def _klarna_find_tx(self, notification_data):
        """Find the one Klarna transaction the data names.

        The one lookup of the webhook worker, the fraud notifications, the authorization
        callback and the browser and hosted-page routes. Within ``provider_id`` when the
        data gives one (the provider whose key verified a webhook: a playground key must
        not reach a live transaction), by Klarna order id first, since the order, not the
        editable merchant reference, is Klarna's identity of a payment.

        :param dict notification_data: Any of ``klarna_callback_token_hash``,
            ``klarna_order_id``, ``reference`` (strings) and ``provider_id``.
        :return: The transaction.
        :rtype: recordset of `payment.transaction`
        :raise TransactionMismatch: The data names a transaction of another provider, or
            a transaction that belongs to another Klarna order.
        :raise ValidationError: No transaction matches, or the data is malformed.
        """
        tx = self.browse()
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
            named = [(field, "=", value) for field, value in named_by if value]
            either = ["|"] * (len(named) - 1) + named
            if self.search_count([*either, *klarna], limit=1):
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
        """Override of `payment` (Odoo 18): see `_klarna_apply_notification`."""
        super()._process_notification_data(notification_data)
        if self.provider_code != const.PROVIDER_CODE:
            return
        self._klarna_apply_notification(notification_data)

    def _extract_amount_data(self, payment_data):
        """Override of `payment` (Odoo 19): Klarna's data holds an outcome, not an amount.

        The amount is Klarna's order, created from this transaction's own payload and
        checked by Order Management before every capture and refund (``klarna.amounts``).

        :return: None, so Odoo skips its amount check for Klarna.
        """
        if self.provider_code != const.PROVIDER_CODE:
            return super()._extract_amount_data(payment_data)
        return None

    def _apply_updates(self, payment_data):
        """Override of `payment` (Odoo 19): see `_klarna_apply_notification`."""
        if self.provider_code != const.PROVIDER_CODE:
            return super()._apply_updates(payment_data)
        self._klarna_apply_notification(payment_data)

    def _klarna_apply_notification(self, notification_data):
        """Apply a Klarna outcome, never moving backwards.

        :param dict notification_data: ``outcome`` (a :class:`Outcome` value), ``source``,
            and optionally ``klarna_order_id``, ``fraud_status`` and ``message``.
        :return: None
        :raise ValidationError: the data holds no valid outcome.
        """
        self.ensure_one()
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
            self._log_message_on_linked_documents(
                self.env._(
                    "Klarna reported %(new)s (%(origin)s) for %(reference)s, which Odoo had "
                    "as %(current)s: Klarna's status is applied. Please review the order.",
                    **facts,
                )
            )
            return self._klarna_set(outcome, message, extra_allowed_states=(self.state,))
        if not is_forward(current, outcome):
            if is_conflict(current, outcome):
                self._log_message_on_linked_documents(
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
        return compat.handle_notification(
            self,
            const.PROVIDER_CODE,
            {
                "reference": self.reference,
                "klarna_order_id": klarna_order.order_id,
                "fraud_status": klarna_order.fraud_status,
                "outcome": outcome.value,
                "source": source,
            },
        )

    # === BUSINESS METHODS - WEBHOOK EVENTS === #

    def _klarna_apply_event(self, kind, event_type, payment_status):
        """Apply an event of the webhook inbox (``payment.klarna.event``) to this transaction.

        The inbox has found and row-locked the transaction and retries the event on any
        exception, so nothing is caught here.

        :param EventKind kind: What the event asks (:func:`klarna.events.classify`).
        :param str event_type: Klarna's event type.
        :param str payment_status: The event's payment status, None if it has none.
        :return: What happened, for the event's outcome.
        :rtype: str
        """
        self.ensure_one()
        match kind:
            case EventKind.PAYMENT_STATUS:
                return self._klarna_handle_payment_status(payment_status)
            case EventKind.FRAUD_NOTIFICATION:
                return self._klarna_handle_fraud_notification()
            case EventKind.ORDER_CHANGE:
                return self._klarna_handle_order_change()
            case EventKind.PAYMENT_REQUEST:
                return self._klarna_handle_payment_request(event_type)
            case EventKind.DISPUTE:
                return self._klarna_handle_dispute(event_type)
        raise ValueError(f"no handler for Klarna event kind {kind!r}")

    def _klarna_handle_payment_status(self, payment_status):
        """Pay Now standalone: UNPAID pending, PAID authorized or done, CLOSED canceled.

        Only an order captured at placement counts as captured: a partial capture made
        from Odoo keeps the rest of the authorization open, and a full one has already
        made the transaction done.

        :param str payment_status: ``UNPAID``, ``PAID`` or ``CLOSED``.
        :return: What happened.
        :rtype: str
        :raise UnknownStatusError: Another payment status.
        """
        captured = (
            payment_status == "PAID" and self.provider_id.klarna_capture_policy == "at_placement"
        )
        outcome = outcome_for_payment_status(payment_status, captured=captured)
        message = None
        if payment_status == "CLOSED":
            message = self.env._(
                "Klarna closed the order: the bank transfer did not arrive in time. Klarna "
                "cancels the order, or reverses a capture in the next settlement."
            )
        return self._klarna_apply_webhook_outcome(outcome, message)

    def _klarna_handle_fraud_notification(self):
        """Unsigned, so only a hint that the fraud decision was made: ask Klarna.

        :return: What happened.
        :rtype: str
        """
        return self._klarna_sync_order("fraud notification")

    def _klarna_handle_order_change(self):
        """A capture, refund or cancellation made on Klarna's side: reconcile with the order.

        Reconciliation reads the order from Klarna and records captures and refunds made
        outside Odoo as child transactions, so the event's claim itself is never applied.

        :return: What happened.
        :rtype: str
        """
        before = self.state
        order = self._klarna_reconcile()
        return self._klarna_describe_change(before, f"order {order.status}")

    def _klarna_handle_payment_request(self, event_type):
        """Payment request states: an order, if any, is re-read; a final state before any
        order ends the payment; the other states are progress reports.

        :param str event_type: ``payment.request.state-change.<state>``.
        :return: What happened.
        :rtype: str
        """
        state = payment_request_state(event_type)
        if self.klarna_order_id:
            return self._klarna_sync_order("webhook")
        outcome = outcome_for_payment_request(state)
        if outcome is None:
            return f"{self.reference}: no change (payment request {state})."
        return self._klarna_apply_webhook_outcome(outcome, None)

    def _klarna_handle_dispute(self, event_type):
        """A dispute is followed up in Klarna's Merchant Portal: note it on the documents.

        :param str event_type: ``payment.dispute.<...>``.
        :return: What happened.
        :rtype: str
        """
        self._log_message_on_linked_documents(
            self.env._(
                "Klarna dispute event %(event)s for %(reference)s: follow it up in Klarna's "
                "Merchant Portal.",
                event=event_type,
                reference=self.reference,
            )
        )
        return f"{self.reference}: dispute logged on the document."

    def _klarna_sync_order(self, source):
        """Re-read the order from Klarna and apply what it says, never the event's claim.

        :param str source: Where the reason to re-read came from, for the logs.
        :return: What happened.
        :rtype: str
        :raise ValidationError: The transaction has no Klarna order yet.
        """
        if not self.klarna_order_id:
            raise ValidationError(
                self.env._("Klarna: transaction %s has no Klarna order yet.", self.reference)
            )
        before = self.state
        order = self.provider_id.sudo()._klarna_get_client().get_order(self.klarna_order_id)
        self._klarna_sync_from_order(order, source)
        return self._klarna_describe_change(before, f"order {order.status}")

    def _klarna_apply_webhook_outcome(self, outcome, message):
        """Apply an outcome a webhook reported, as Odoo's notification flow does.

        :param Outcome outcome: The outcome to apply (if it moves the transaction forward).
        :param str message: The state message, or None.
        :return: What happened.
        :rtype: str
        """
        before = self.state
        compat.handle_notification(
            self,
            const.PROVIDER_CODE,
            {
                "reference": self.reference,
                "outcome": outcome.value,
                "source": "webhook",
                "message": message,
            },
        )
        return self._klarna_describe_change(before, outcome.value)

    def _klarna_describe_change(self, before, told):
        """The outcome text of an event: the state change, or none, and what Klarna said."""
        if self.state == before:
            return f"{self.reference}: stays {before} (Klarna: {told})."
        return f"{self.reference}: {before} -> {self.state} (Klarna: {told})."

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

    # === BUSINESS METHODS - ORDER MANAGEMENT (ODOO'S BUTTONS) === #

    def _send_capture_request(self, **kwargs):
        """Override of `payment` (Odoo 18, ``amount_to_capture``) to capture with Klarna.

        On Odoo 19 this runs on a child Odoo created first; Klarna's captures go through
        :meth:`_capture` instead, so the argument is passed on only for other providers.
        """
        if self.provider_code != const.PROVIDER_CODE:
            return super()._send_capture_request(**kwargs)
        return self._klarna_capture(kwargs.get("amount_to_capture"))

    def _capture(self, amount_to_capture=None):
        """Override of `payment` (Odoo 19) to capture with Klarna before Odoo creates a child.

        Odoo 19 creates the child transaction before calling the provider; here it exists
        only once Klarna accepted, as on Odoo 18, so a refused call changes nothing.
        """
        if self.provider_code != const.PROVIDER_CODE:
            return super()._capture(amount_to_capture=amount_to_capture)
        return self._klarna_capture(amount_to_capture)

    def _klarna_capture(self, amount_to_capture=None):
        """Capture with Klarna, then record it as Odoo does.

        The context may carry ``klarna_capture_line_ids`` (sale order lines being captured)
        and ``klarna_shipping_info`` (Klarna shipping_info objects), as a delivery does.

        :param float amount_to_capture: The amount to capture; the whole remainder if None.
        :return: The capture child, or an empty recordset when the whole amount was captured.
        :rtype: recordset of `payment.transaction`
        :raise UserError: the capture is not allowed, or Klarna refused or did not answer.
        """
        klarna_order, books = self._klarna_start_operation("capture")
        amount_minor = self._klarna_minor(amount_to_capture) if amount_to_capture else None
        amount_minor = amount_minor or books.remaining
        adopted = self._klarna_settle(klarna_order, self)
        if "capture" in adopted:
            return self._klarna_adopted("capture", adopted["capture"], amount_minor)
        if klarna_order.status not in OPEN_ORDER_STATUSES:
            raise UserError(self._klarna_closed_message(klarna_order, "capture"))
        self._klarna_check_amount(amount_minor, amounts.capturable(books, klarna_order), "capture")
        lines = self.env["sale.order.line"].browse(
            self.env.context.get("klarna_capture_line_ids") or []
        )
        order_lines = self._klarna_order_lines(amount_minor, [lines, *self._klarna_line_sets()])
        shipping_info = self.env.context.get("klarna_shipping_info") or None
        self.env["payment.klarna.operation"]._settle_intents(self, "capture", amount_minor)

        def send(client, key, reference):
            return client.capture(
                self.klarna_order_id,
                amount_minor,
                idempotency_key=key,
                order_lines=order_lines,
                shipping_info=shipping_info,
                reference=reference,
            )

        capture_id, reference = self.env["payment.klarna.operation"]._run(
            self, "capture", amount_minor, send
        )
        child = self._klarna_child(self._klarna_major(amount_minor))
        self._klarna_record_capture(capture_id, child, "capture")
        self._log_message_on_linked_documents(
            self.env._(
                "Klarna captured %(amount)s of order %(order)s: capture %(capture)s "
                "(operation %(operation)s%(details)s).",
                amount=self._klarna_format(amount_minor),
                order=self.klarna_order_id,
                capture=capture_id,
                operation=reference,
                details=self._klarna_details(order_lines, shipping_info),
            )
        )
        return child

    def _send_void_request(self, **kwargs):
        """Override of `payment` (Odoo 18) to void with Klarna: :meth:`_klarna_void`.

        ``amount_to_void`` is ignored for Klarna (see there) and passed on for other
        providers; on Odoo 19 Klarna's voids go through :meth:`_void`.
        """
        if self.provider_code != const.PROVIDER_CODE:
            return super()._send_void_request(**kwargs)
        return self._klarna_void()

    def _void(self, amount_to_void=None):
        """Override of `payment` (Odoo 19) to void with Klarna before Odoo creates a child."""
        if self.provider_code != const.PROVIDER_CODE:
            return super()._void(amount_to_void=amount_to_void)
        return self._klarna_void()

    def _klarna_void(self):
        """Cancel the Klarna order, or release what was not captured.

        Before any capture the order is cancelled; after partial captures the remaining
        authorization is released. Odoo then records the void as it does for any provider:
        the transaction is canceled, or a canceled child closes the partly captured one.
        The amount is recomputed here, so a stale wizard cannot void a wrong amount.

        :return: The void child of a partly captured transaction, else an empty recordset.
        :rtype: recordset of `payment.transaction`
        :raise UserError: the void is not allowed, or Klarna refused or did not answer.
        """
        klarna_order, books = self._klarna_start_operation("void")
        if klarna_order.captured_amount != books.captured:
            raise UserError(self._klarna_out_of_step_message(klarna_order))
        remaining = books.remaining
        if klarna_order.status == "AUTHORIZED":
            kind = "cancel"
            self.env["payment.klarna.operation"]._run(
                self,
                kind,
                remaining,
                lambda client, key, _reference: client.cancel_order(
                    self.klarna_order_id, idempotency_key=key
                ),
            )
        elif klarna_order.status == "PART_CAPTURED":
            kind = "release"
            self.env["payment.klarna.operation"]._run(
                self,
                kind,
                remaining,
                lambda client, key, _reference: client.release_remaining_authorization(
                    self.klarna_order_id, idempotency_key=key
                ),
            )
        else:  # Klarna ended the order already: record that instead of calling.
            self._klarna_reconcile_status(klarna_order)
            return self.env["payment.transaction"]
        message = (
            self.env._("Klarna: the order was cancelled.")
            if kind == "cancel"
            else self.env._("Klarna: the remaining authorization was released.")
        )
        child = self._klarna_child(self._klarna_major(remaining))
        (child or self)._klarna_set_outcome("cancel", "void", message)
        self._log_message_on_linked_documents(
            self.env._(
                "Klarna voided %(amount)s of order %(order)s (%(action)s).",
                amount=self._klarna_format(remaining),
                order=self.klarna_order_id,
                action=self.env._("order cancelled")
                if kind == "cancel"
                else self.env._("remaining authorization released"),
            )
        )
        return child

    def _send_refund_request(self, **kwargs):
        """Override of `payment` (Odoo 18, ``amount_to_refund``) to refund with Klarna.

        On Odoo 19 Klarna's refunds go through :meth:`_refund`.
        """
        if self.provider_code != const.PROVIDER_CODE:
            return super()._send_refund_request(**kwargs)
        return self._klarna_refund(kwargs.get("amount_to_refund"))

    def _refund(self, amount_to_refund=None):
        """Override of `payment` (Odoo 19) to refund with Klarna before Odoo creates a child."""
        if self.provider_code != const.PROVIDER_CODE:
            return super()._refund(amount_to_refund=amount_to_refund)
        return self._klarna_refund(amount_to_refund)

    def _klarna_refund(self, amount_to_refund=None):
        """Refund with Klarna, then record Odoo's refund child.

        ``self`` is the transaction whose payment is refunded: the order transaction after a
        full capture, a capture child after partial ones. The context may name the credit
        note being refunded (``klarna_credit_note_id``); otherwise an open credit note of the
        same amount on the order's invoices is taken. Its lines are sent to Klarna and the
        refund transaction is linked to it, so Odoo's refund payment settles it.

        :param float amount_to_refund: The amount to refund; the whole payment if None.
        :return: The refund transaction.
        :rtype: recordset of `payment.transaction`
        :raise UserError: the refund is not allowed, or Klarna refused or did not answer.
        """
        self.ensure_one()
        self._ensure_provider_is_not_disabled()
        order_tx = self._klarna_order_tx()
        order_tx._klarna_lock()
        self._klarna_check_state("done", "refund")
        klarna_order = order_tx._klarna_read_order()
        amount_minor = self._klarna_minor(amount_to_refund or self.amount)
        adopted = order_tx._klarna_settle(klarna_order, self)
        if "refund" in adopted:
            return order_tx._klarna_adopted("refund", adopted["refund"], amount_minor)
        allowed = amounts.refundable(self._klarna_refundable(), klarna_order)
        self._klarna_check_amount(amount_minor, allowed, "refund")
        credit_note = order_tx._klarna_credit_note(amount_minor)
        order_lines = order_tx._klarna_order_lines(
            amount_minor, [credit_note.invoice_line_ids] if credit_note else []
        )
        self.env["payment.klarna.operation"]._settle_intents(order_tx, "refund", amount_minor)

        def send(client, key, reference):
            return client.refund(
                order_tx.klarna_order_id,
                amount_minor,
                idempotency_key=key,
                order_lines=order_lines,
                description=credit_note.name if credit_note else None,
                reference=reference,
            )

        refund_id, reference = self.env["payment.klarna.operation"]._run(
            order_tx, "refund", amount_minor, send
        )
        refund_tx = self._klarna_child(self._klarna_major(amount_minor), is_refund=True)
        refund_tx.provider_reference = refund_id
        if credit_note:
            refund_tx.invoice_ids = credit_note
        refund_tx._klarna_set_outcome("done", "refund")
        order_tx._log_message_on_linked_documents(
            self.env._(
                "Klarna refunded %(amount)s of order %(order)s: refund %(refund)s "
                "(operation %(operation)s%(details)s).",
                amount=self._klarna_format(amount_minor),
                order=order_tx.klarna_order_id,
                refund=refund_id,
                operation=reference,
                details=self._klarna_details(order_lines, None, credit_note),
            )
        )
        # The customer does not come back to trigger post-processing of a refund.
        self.env.ref("payment.cron_post_process_payment_tx")._trigger()
        return refund_tx

    def _klarna_child(self, amount, is_refund=False):
        """Odoo's child transaction for an operation Klarna accepted, as Odoo 18 makes it: a
        refund, or a partial capture or void (a whole one changes the transaction itself).

        :param float amount: The amount Klarna accepted.
        :param bool is_refund: Whether the operation is a refund.
        :return: The child, or an empty recordset for a whole capture or void.
        :rtype: recordset of `payment.transaction`
        """
        if not is_refund and amount == self.amount:
            return self.browse()
        child = self._create_child_transaction(amount, is_refund=is_refund)
        if is_refund:
            child._log_sent_message()
        return child

    def _klarna_extend_authorization(self):
        """Push back the expiry of the uncaptured authorization (Klarna: 28 days by default)."""
        self.ensure_one()
        self._klarna_lock()
        self._klarna_check_state("authorized", "extend")
        klarna_order = self._klarna_read_order()
        if klarna_order.status not in OPEN_ORDER_STATUSES:
            raise UserError(self._klarna_closed_message(klarna_order, "extend"))
        self.env["payment.klarna.operation"]._run(
            self,
            "extend",
            0,
            lambda client, key, _reference: client.extend_authorization_time(
                self.klarna_order_id, idempotency_key=key
            ),
        )
        self._klarna_read_order()
        self.klarna_expiry_warned = False
        self._log_message_on_linked_documents(
            self.env._(
                "Klarna extended the authorization of order %(order)s; it now expires on "
                "%(date)s (UTC).",
                order=self.klarna_order_id,
                date=self.klarna_expires_at or self.env._("an unknown date"),
            )
        )

    # === BUSINESS METHODS - CHECKS AND AMOUNTS === #

    def _klarna_start_operation(self, operation):
        """Before a capture or a void of the authorization: the provider is not disabled, the
        row is locked and the transaction authorized. Returns the Klarna order as just read and
        Odoo's books (:meth:`_klarna_books`)."""
        self.ensure_one()
        self._ensure_provider_is_not_disabled()
        self._klarna_lock()
        self._klarna_check_state("authorized", operation)
        return self._klarna_read_order(), self._klarna_books()

    def _klarna_order_tx(self):
        """The transaction that holds the Klarna order (self, or the source of a child)."""
        if self.klarna_order_id or not self.source_transaction_id:
            return self
        return self.source_transaction_id._klarna_order_tx()

    def _klarna_check_state(self, state, operation):
        if self.state != state or not self._klarna_order_tx().klarna_order_id:
            raise UserError(
                self.env._(
                    "Klarna: %(reference)s cannot get a %(operation)s: it is %(state)s in Odoo, "
                    "and a %(operation)s needs a Klarna order that is %(expected)s.",
                    reference=self.reference,
                    operation=operation,
                    state=self.state,
                    expected=state,
                )
            )

    def _klarna_error_text(self, error):
        """Klarna's own words and the correlation id support asks for."""
        text = "; ".join(error.error_messages) or error.detail or error.lead
        if error.error_code:
            text = f"{error.error_code}: {text}"
        if error.correlation_id:
            text += self.env._(" [correlation id %(id)s]", id=error.correlation_id)
        return text

    def _klarna_read_order(self):
        """Read the Klarna order (the truth before acting) and keep its expiry."""
        try:
            klarna_order = (
                self.provider_id.sudo()._klarna_get_client().get_order(self.klarna_order_id)
            )
        except KlarnaError as error:
            raise UserError(
                self.env._(
                    "Klarna: order %(order)s could not be read: %(error)s",
                    order=self.klarna_order_id,
                    error=self._klarna_error_text(error),
                )
            ) from error
        self.klarna_expires_at = reconcile.expiry(klarna_order) or self.klarna_expires_at
        return klarna_order

    def _klarna_check_amount(self, amount_minor, allowed, operation):
        if not amounts.allows(amount_minor, allowed):
            raise UserError(
                self.env._(
                    "Klarna: cannot %(operation)s %(amount)s for %(reference)s: at most "
                    "%(allowed)s can be.",
                    operation=operation,
                    amount=self._klarna_format(amount_minor),
                    reference=self.reference,
                    allowed=self._klarna_format(max(allowed, 0)),
                )
            )

    def _klarna_closed_message(self, klarna_order, operation):
        if klarna_order.status == "EXPIRED":
            return self.env._(
                "Klarna: the authorization of order %(order)s expired; it cannot get a "
                "%(operation)s any more.",
                order=klarna_order.order_id,
                operation=operation,
            )
        return self.env._(
            "Klarna: order %(order)s is %(status)s in Klarna; it cannot get a %(operation)s.",
            order=klarna_order.order_id,
            status=klarna_order.status,
            operation=operation,
        )

    def _klarna_out_of_step_message(self, klarna_order):
        books = self._klarna_books()
        return self.env._(
            "Klarna: order %(order)s has %(klarna_captured)s captured and %(klarna_refunded)s "
            "refunded in Klarna, but %(captured)s and %(refunded)s in Odoo: something was done "
            "in Klarna's portal. Click Check with Klarna on the transaction (or wait for the "
            "hourly check) so that Odoo records it, then try again.",
            order=klarna_order.order_id,
            klarna_captured=self._klarna_format(klarna_order.captured_amount),
            klarna_refunded=self._klarna_format(klarna_order.refunded_amount),
            captured=self._klarna_format(books.captured),
            refunded=self._klarna_format(books.refunded),
        )

    def _klarna_minor(self, amount):
        return to_minor(amount, self.currency_id.decimal_places)

    def _klarna_major(self, amount_minor):
        return float(from_minor(amount_minor, self.currency_id.decimal_places))

    def _klarna_format(self, amount_minor):
        return format_amount(self.env, self._klarna_major(amount_minor), self.currency_id)

    def _klarna_captures(self):
        """Odoo's captures of the order transaction: its capture children, or itself."""
        children = self.child_transaction_ids.filtered(lambda tx: tx.operation == self.operation)
        captures = children.filtered(lambda tx: tx.state == "done")
        if not children and self.state == "done":
            captures = self
        return captures

    def _klarna_books(self):
        """Odoo's books of the order transaction (:class:`klarna.amounts.Books`): authorized,
        captured (its capture children, or itself), voided, and refunded (done refunds of it
        and of its captures), in minor units."""
        children = self.child_transaction_ids.filtered(lambda tx: tx.operation == self.operation)
        refunds = (self | self.child_transaction_ids).child_transaction_ids.filtered(
            lambda tx: tx.operation == "refund" and tx.state == "done"
        )
        return amounts.Books(
            authorized=self._klarna_minor(self.amount),
            captured=sum(self._klarna_minor(tx.amount) for tx in self._klarna_captures()),
            voided=sum(self._klarna_minor(tx.amount) for tx in children if tx.state == "cancel"),
            refunded=sum(self._klarna_minor(-tx.amount) for tx in refunds),
        )

    def _klarna_refundable(self):
        """What the payment of this transaction still allows to refund, in minor units."""
        refunds = self.child_transaction_ids.filtered(
            lambda tx: tx.operation == "refund" and tx.state in ("pending", "authorized", "done")
        )
        return self._klarna_minor(self.amount) + sum(
            self._klarna_minor(tx.amount) for tx in refunds
        )

    # === BUSINESS METHODS - ORDER LINES === #

    def _klarna_line_sets(self):
        """Line sets a capture may be made of: the whole order, then each posted invoice."""
        invoices = (self.invoice_ids | self.sale_order_ids.invoice_ids).filtered(
            lambda move: move.move_type == "out_invoice" and move.state == "posted"
        )
        return [self.sale_order_ids.order_line, *(move.invoice_line_ids for move in invoices)]

    def _klarna_order_lines(self, amount_minor, line_sets):
        """Klarna order_lines for the first set of lines adding up to ``amount_minor``, or None.

        A set holding every line of one document adds up to that document's total, whether
        Odoo rounds taxes per line or globally (:func:`payload.amount_lines`).
        """
        for lines in map(payable_lines, line_sets):
            if not lines or lines.currency_id != self.currency_id:
                continue
            document = lines.order_id if lines._name == "sale.order.line" else lines.move_id
            whole = len(document) == 1 and lines == payable_lines(document_lines(document))
            if whole and self._klarna_minor(document.amount_total) == amount_minor:
                return amount_lines(self, amount_minor, lines, document)["order_lines"]
            if sum(self._klarna_minor(line.price_total) for line in lines) == amount_minor:
                return amount_lines(self, amount_minor, lines)["order_lines"]
        return None

    def _klarna_credit_note(self, amount_minor):
        """The credit note this refund settles: named in the context, else an open one of the
        same amount reversing one of the order's invoices."""
        moves = self.env["account.move"]
        if credit_note_id := self.env.context.get("klarna_credit_note_id"):
            return moves.browse(credit_note_id)
        invoices = self.invoice_ids | self.sale_order_ids.invoice_ids
        candidates = invoices | moves.search(
            [("reversed_entry_id", "in", invoices.ids), ("move_type", "=", "out_refund")]
        )
        return candidates.filtered(
            lambda move: (
                move.move_type == "out_refund"
                and move.state == "posted"
                and move.payment_state in ("not_paid", "partial")
                and self._klarna_minor(move.amount_residual) == amount_minor
            )
        ).sorted("id")[:1]

    # === BUSINESS METHODS - KLARNA'S BOOKS BEFORE A CAPTURE OR REFUND === #

    def _klarna_settle(self, klarna_order, source):
        """Record what Klarna already holds of Odoo's own calls, then require equal books.

        A capture or refund whose answer was lost is in Klarna's order under the reference of
        Odoo's operation: it is recorded as if the answer had come (operation done, Odoo's
        child), instead of being sent again. Anything else Klarna holds that Odoo has not
        recorded was done elsewhere; acting before reconciliation records it could capture or
        refund the same goods twice.

        :param klarna_order: the order as just read, ``self`` being the order transaction
        :param source: the transaction an adopted refund is recorded on (the one refunded)
        :return: ``{kind: transaction}`` of the last capture and refund recorded; a capture
                 of the whole amount is the order transaction itself
        :raise UserError: if Klarna's captured or refunded total still differs from Odoo's
        """
        self.env["payment.klarna.operation"]._resolve_intents(self, klarna_order, held_only=True)
        ours, _elsewhere = reconcile.unrecorded(
            klarna_order,
            self._klarna_recorded_ids(),
            self.env["payment.klarna.operation"]._sent_references(self),
        )
        adopted = self._klarna_record_items(ours, source)
        if not amounts.books_agree(self._klarna_books(), klarna_order):
            raise UserError(self._klarna_out_of_step_message(klarna_order))
        return adopted

    def _klarna_adopted(self, kind, record, amount_minor):
        """Answer a capture or refund request with the earlier one Klarna already held.

        A different amount asked now is not sent: whether it was meant as a retry or as one
        more operation cannot be known, and sending it could move money twice. The staff sees
        the recorded one and asks again if more is due.
        """
        adopted_minor = abs(self._klarna_minor(record.amount))
        if adopted_minor != amount_minor:
            self._log_message_on_linked_documents(
                self.env._(
                    "Klarna: the %(operation)s of %(asked)s for %(reference)s was not sent: "
                    "Klarna already held the %(operation)s of %(held)s from an earlier attempt "
                    "whose answer was lost, and Odoo recorded that one. Ask again if more is "
                    "due.",
                    operation=kind,
                    asked=self._klarna_format(amount_minor),
                    reference=self.reference,
                    held=self._klarna_format(adopted_minor),
                )
            )
        if kind == "capture" and record == self:
            return self.env["payment.transaction"]  # Odoo's answer to a capture of the whole
        return record

    def _klarna_recorded_ids(self):
        """Klarna ids of the captures and refunds Odoo has recorded for this order."""
        captures = self.child_transaction_ids.filtered(lambda tx: tx.operation == self.operation)
        refunds = (self | captures).child_transaction_ids.filtered(
            lambda tx: tx.operation == "refund"
        )
        return (
            set((captures | refunds).mapped("provider_reference"))
            | self.env["payment.klarna.operation"]._noted_references(self)
            | {self.klarna_capture_id}
        )

    # === BUSINESS METHODS - RECORDING OUTCOMES === #

    def _klarna_set_outcome(self, outcome, source, message=None):
        """Apply an outcome through the one door that changes states."""
        data = {"reference": self.reference, "outcome": outcome, "source": source}
        if message:
            data["message"] = message
        compat.handle_notification(self, const.PROVIDER_CODE, data)

    def _klarna_record_capture(self, capture_id, child, source):
        """Make Odoo show a Klarna capture: a done child, or the whole transaction done."""
        if child:
            child.provider_reference = capture_id
            child._klarna_set_outcome("done", source)
        else:
            self.klarna_capture_id = capture_id
            self._klarna_set_outcome("done", source)

    def _klarna_details(self, order_lines, shipping_info, credit_note=None):
        parts = []
        if order_lines:
            parts.append(self.env._("%(count)s order lines", count=len(order_lines)))
        if shipping_info:
            numbers = ", ".join(info.get("tracking_number", "") for info in shipping_info)
            parts.append(self.env._("tracking %(numbers)s", numbers=numbers))
        if credit_note:
            parts.append(self.env._("credit note %(name)s", name=credit_note.name))
        return "".join(f"; {part}" for part in parts)

    # === BUSINESS METHODS - RECONCILIATION === #

    @api.model
    def _cron_klarna_reconcile(self):
        """Bring open Klarna transactions in line with their Klarna orders.

        Open: pending or authorized, done recently enough for a refund in Klarna's portal, or
        holding an operation whose outcome is unknown. The least recently reconciled first.
        """
        now = fields.Datetime.now()
        intent_tx_ids = (
            self.env["payment.klarna.operation"]
            .sudo()
            .search([("state", "=", "intent"), ("create_date", "<", now - const.INTENT_GRACE)])
            .transaction_id.ids
        )
        txs = self.search(
            [
                ("provider_code", "=", const.PROVIDER_CODE),
                ("klarna_order_id", "!=", False),
                "|",
                "|",
                ("id", "in", intent_tx_ids),
                ("state", "in", ("pending", "authorized")),
                "&",
                ("state", "=", "done"),
                ("last_state_change", ">", now - const.RECONCILE_DONE_FOR),
            ],
            order="klarna_reconciled_at ASC NULLS FIRST, id",
            limit=const.RECONCILE_BATCH,
        )
        for tx in txs:
            tx._klarna_run_apart("reconciliation", tx._klarna_reconcile)
            tx.klarna_reconciled_at = now  # even after a failure: it must not starve the others
            if not in_test():
                self.env.cr.commit()  # pylint: disable=invalid-commit

    def _klarna_run_apart(self, job, method, *args):
        """Run a cron's work on one transaction in a savepoint and log any failure.

        Nothing raised here may stop the cron: a transaction failing in a way nobody foresaw
        would fail every run again and keep the others waiting. Klarna's refusals and Odoo's
        checks are expected and logged with their text; anything else with its type and place
        only (see ``klarna.masking.error_origin``).
        """
        try:
            with self.env.cr.savepoint():
                method(*args)
        except (KlarnaError, UserError) as error:
            _logger.warning("Klarna %s of %s failed: %s", job, self.reference, error)
        except Exception as error:  # anything at all: see the docstring
            _logger.error(
                "Klarna %s of %s failed unexpectedly: %s", job, self.reference, error_origin(error)
            )

    def _klarna_reconcile(self):
        """Read the order and correct Odoo: unknown outcomes, captures and refunds made
        elsewhere, and the end of the order (cancelled, expired, closed, fully captured).

        Returns the order as read, for callers that report what Klarna said."""
        self.ensure_one()
        self._klarna_lock()
        klarna_order = self._klarna_read_order()
        self.env["payment.klarna.operation"]._resolve_intents(self, klarna_order)
        ours, elsewhere = reconcile.unrecorded(
            klarna_order,
            self._klarna_recorded_ids(),
            self.env["payment.klarna.operation"]._sent_references(self),
        )
        self._klarna_record_items(ours + elsewhere, self)
        self._klarna_reconcile_status(klarna_order)
        return klarna_order

    def _klarna_record_items(self, items, source):
        """Record Klarna's captures and refunds that Odoo lacks (``reconcile.Item``).

        :param source: the transaction refunds are recorded on
        :return: ``{kind: transaction}`` of the last capture and refund recorded (for a capture
                 of the whole amount, ``self``)
        """
        recorded = {}
        for item in sorted(items, key=lambda item: item.kind == "refund"):
            record = (
                self._klarna_record_capture_item(item)
                if item.kind == "capture"
                else source._klarna_record_refund_item(self, item)
            )
            if record:
                recorded[item.kind] = record
        return recorded

    def _klarna_record_capture_item(self, item):
        children = self.child_transaction_ids.filtered(lambda tx: tx.operation == self.operation)
        whole = not children and item.amount == self._klarna_minor(self.amount)
        if whole and self.state == "done" and not self.klarna_capture_id:
            # Captured as the order was placed (auto_capture): only the id was missing.
            self.klarna_capture_id = item.klarna_id
            return None
        if self.state != "authorized":
            self.env["payment.klarna.operation"]._note_outside(
                self,
                "capture",
                item.klarna_id,
                item.amount,
                self.env._(
                    "Klarna reconciliation: Klarna shows capture %(capture)s of %(amount)s "
                    "that Odoo cannot record on %(reference)s (%(state)s): please review.",
                    capture=item.klarna_id,
                    amount=self._klarna_format(item.amount),
                    reference=self.reference,
                    state=self.state,
                ),
            )
            return None
        child = self.env["payment.transaction"]
        if not whole:
            child = self._create_child_transaction(self._klarna_major(item.amount))
        self._klarna_record_capture(item.klarna_id, child, "reconciliation")
        self.env["payment.klarna.operation"]._note_outside(
            self, "capture", item.klarna_id, item.amount
        )
        return child or self

    def _klarna_record_refund_item(self, order_tx, item):
        """Record a refund Klarna holds as a refund of ``self`` (the order or a capture)."""
        refund_tx = self._create_child_transaction(
            self._klarna_major(item.amount), is_refund=True, provider_reference=item.klarna_id
        )
        refund_tx._klarna_set_outcome("done", "reconciliation")
        self.env["payment.klarna.operation"]._note_outside(
            order_tx, "refund", item.klarna_id, item.amount
        )
        return refund_tx

    def _klarna_reconcile_status(self, klarna_order):
        """An order Klarna ended: cancel the authorization, or close the rest of a partial one."""
        if self.state not in ("pending", "authorized"):
            return
        if klarna_order.status in OPEN_ORDER_STATUSES and self.state == "authorized":
            return
        remaining = self._klarna_books().remaining
        if self.state == "authorized" and self._klarna_captures() and remaining > 0:
            child = self._create_child_transaction(self._klarna_major(remaining))
            child._klarna_set_outcome(
                "cancel",
                "reconciliation",
                self.env._("Klarna: the order is %(status)s.", status=klarna_order.status),
            )
        else:
            before = self.state
            self._klarna_sync_from_order(klarna_order, "reconciliation")
            if self.state == before:
                return
        self._log_message_on_linked_documents(
            self.env._(
                "Klarna reconciliation: order %(order)s is %(status)s in Klarna; %(reference)s "
                "is now %(state)s in Odoo.",
                order=klarna_order.order_id,
                status=klarna_order.status,
                reference=self.reference,
                state=self.state,
            )
        )

    # === BUSINESS METHODS - AUTHORIZATION EXPIRY === #

    @api.model
    def _cron_klarna_extend_authorizations(self):
        """Extend authorizations about to expire where the merchant enabled it, else warn."""
        now = fields.Datetime.now()
        txs = self.search(
            [
                ("provider_code", "=", const.PROVIDER_CODE),
                ("state", "=", "authorized"),
                ("klarna_order_id", "!=", False),
                "|",
                ("klarna_expires_at", "<=", now + const.EXPIRY_NOTICE),
                "&",
                ("klarna_expires_at", "=", False),
                ("create_date", "<=", now + const.EXPIRY_NOTICE - const.AUTHORIZATION_LIFETIME),
            ]
        )
        for tx in txs:
            tx._klarna_run_apart("expiry handling", tx._klarna_handle_expiry, now)
            if not in_test():
                self.env.cr.commit()  # pylint: disable=invalid-commit

    def _klarna_handle_expiry(self, now):
        klarna_order = self._klarna_read_order()
        if klarna_order.status not in OPEN_ORDER_STATUSES:
            self._klarna_reconcile()
            return
        expiry = self.klarna_expires_at or self.create_date + const.AUTHORIZATION_LIFETIME
        if expiry > now + const.EXPIRY_NOTICE:
            return
        if self.provider_id.klarna_auto_extend:
            self._klarna_extend_authorization()
        elif not self.klarna_expiry_warned:
            self.sale_order_ids._klarna_warn_expiry(self, expiry)
            self.klarna_expiry_warned = True
