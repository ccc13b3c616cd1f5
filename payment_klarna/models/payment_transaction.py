import logging
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.osv import expression
from odoo.tools import SQL, consteq
from odoo.tools.misc import hmac as hmac_tool

from .. import const
from ..controllers.main import KlarnaController
from ..klarna import callback_token
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
from .klarna_payload import order_payload
from .payment_klarna_event import TransactionMismatch

_logger = logging.getLogger(__name__)

# Klarna Payments sessions live 48 hours; an authorization token lives 60 minutes.
SESSION_LIFETIME = timedelta(hours=48)
STALE_AFTER = timedelta(minutes=10)


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

    _sql_constraints = [
        (
            "klarna_order_id_unique",
            "UNIQUE(klarna_order_id)",
            "Klarna: this Klarna order already belongs to another transaction.",
        ),
    ]

    # === BUSINESS METHODS - PAYMENT FLOW === #

    def _get_specific_processing_values(self, processing_values):
        """Override of `payment` to give the browser what it needs to authorize with Klarna.

        The client token is deliberately absent: processing values are logged by Odoo.
        """
        res = super()._get_specific_processing_values(processing_values)
        if self.provider_code != "klarna":
            return res
        return {
            "klarna_access_token": self._klarna_access_token(),
            "klarna_payment_category": self._klarna_category(),
        }

    def _get_specific_rendering_values(self, processing_values):
        """Override of `payment` to redirect to Klarna's hosted payment page."""
        res = super()._get_specific_rendering_values(processing_values)
        if self.provider_code != "klarna":
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
        return isinstance(access_token, str) and consteq(self._klarna_access_token(), access_token)

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

    def _klarna_attach_session(self, session_id):
        """Bind the browser's Klarna session to this transaction with the server's cart.

        The session was created when the customer chose Klarna; the cart may have changed
        since (another tab, a coupon), so it is sent again as Odoo computes it now.
        """
        self.ensure_one()
        client = self.provider_id._klarna_get_client()
        try:
            client.update_session(session_id, self._klarna_session_payload())
        except KlarnaNotFound:
            raise UserError(
                self.env._("Klarna: the payment session expired. Reload the page and pay again.")
            ) from None
        except KlarnaError as error:
            raise UserError(self.env._("Klarna: the payment could not start: %s", error)) from error
        self.klarna_session_id = session_id
        self.klarna_payment_category = self._klarna_category()

    def _klarna_start_hosted_page(self):
        """Create a Payments session and its Hosted Payment Page for the redirect flow."""
        client = self.provider_id._klarna_get_client()
        base_url = self.provider_id.get_base_url().rstrip("/")
        try:
            session = client.create_session(self._klarna_session_payload())
            self.klarna_session_id = session.session_id
            self.klarna_payment_category = self._klarna_category()
            query = urlencode(
                {"reference": self.reference, "access_token": self._klarna_access_token()}
            )
            return_url = f"{base_url}{KlarnaController._hpp_return_url}?{query}"
            hpp = client.create_hpp_session(
                {
                    "payment_session_url": f"{client.config.api_url}/payments/v1/sessions/"
                    f"{session.session_id}",
                    "merchant_urls": {
                        "success": return_url
                        + "&status=success&authorization_token={{authorization_token}}",
                        "cancel": return_url + "&status=cancel",
                        "back": return_url + "&status=back",
                        "failure": return_url + "&status=failure",
                        "error": return_url + "&status=error",
                    },
                    "options": {"payment_method_categories": [self.klarna_payment_category]},
                }
            )
        except KlarnaError as error:
            raise ValidationError(
                self.env._("Klarna: the payment page could not be opened: %s", error)
            ) from error
        return hpp

    def _klarna_place_order(self, authorization_token, source):
        """Turn an authorization into exactly one Klarna order, whoever asks first.

        The browser, the authorization callback and the recovery cron may all hold a token
        for the same session. The transaction row lock serialises them: the first places
        the order, the others find it placed. The idempotency key, derived from the
        transaction, makes a retry after a crash between Klarna's answer and our commit
        return the same order instead of a second one.
        """
        self.ensure_one()
        self.env.cr.execute(
            SQL("SELECT id FROM payment_transaction WHERE id = %s FOR UPDATE", self.id)
        )
        self.invalidate_recordset()
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
            self._handle_notification_data(
                "klarna",
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
        self.sudo().klarna_authorization_token = False
        self._handle_notification_data(
            "klarna",
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

    def _klarna_store_authorization(self, authorization_token):
        """Keep the newest token for the recovery cron; False when another worker holds the row."""
        try:
            with self.env.cr.savepoint():
                self.env.cr.execute(
                    SQL(
                        "SELECT id FROM payment_transaction WHERE id = %s FOR UPDATE NOWAIT",
                        self.id,
                    )
                )
        except pg_errors.LockNotAvailable:
            return False
        self.invalidate_recordset()
        if not self.klarna_order_id and self.state in ("draft", "pending"):
            self.sudo().klarna_authorization_token = authorization_token
        return True

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
        if provider_code != "klarna" or len(tx) == 1:
            return tx
        keys = ("klarna_callback_token_hash", "klarna_order_id", "reference")
        token_hash, order_id, reference = (notification_data.get(key) or None for key in keys)
        if not any((token_hash, order_id, reference)) or not all(
            value is None or isinstance(value, str) for value in (token_hash, order_id, reference)
        ):
            raise ValidationError(
                self.env._("Klarna: received data without a usable reference or order id.")
            )
        named_by = (("klarna_order_id", order_id), ("reference", reference))
        klarna = [("provider_code", "=", "klarna")]
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
        if self.provider_code != "klarna":
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
            "klarna",
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

        A transaction with a stored token (from the callback) is placed at once; one still
        waiting after a while asks Klarna for the session's authorization; one whose
        session expired is canceled.
        """
        now = fields.Datetime.now()
        txs = self.search(
            [
                ("provider_code", "=", "klarna"),
                ("state", "in", ("draft", "pending")),
                ("klarna_order_id", "=", False),
                ("klarna_session_id", "!=", False),
            ],
            limit=200,
        )
        for tx in txs:
            # One failure must not undo the others; a crash before the cron's commit is
            # harmless: the next run repeats the placement with the same idempotency key.
            try:
                with self.env.cr.savepoint():
                    tx._klarna_recover(now)
            except (KlarnaError, UserError, ValidationError) as error:
                _logger.warning("Klarna recovery of %s failed: %s", tx.reference, error)

    def _klarna_recover(self, now):
        token = self.sudo().klarna_authorization_token
        if token:
            self._klarna_place_order(token, "callback")
            return
        if now - self.create_date < STALE_AFTER:
            return
        if now - self.create_date > SESSION_LIFETIME:
            self._set_canceled(state_message=self.env._("Klarna: the payment session expired."))
            return
        try:
            session = self.provider_id._klarna_get_client().read_session(self.klarna_session_id)
        except KlarnaNotFound:
            self._set_canceled(state_message=self.env._("Klarna: the payment session expired."))
            return
        if session.authorization_token:
            self._klarna_place_order(session.authorization_token, "recovery")
