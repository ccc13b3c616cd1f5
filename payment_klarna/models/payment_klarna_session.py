"""The Klarna Payments sessions opened for the payment form's widget.

Decisions:

- Anyone may open the payment form, and each session costs an outbound Klarna call. So an
  unchanged cart (same provider, Klarna account and environment, same document, same
  payload hash) reuses its live session and its client token, while Klarna keeps it (48 h)
  and no order came of it.
- New sessions are bounded per cart and per customer address (an IPv6 address by its /64)
  within a window; past the bound the customer reads a clear message and Klarna is not called.
- The attempt is recorded in its own committed transaction before the call, so calls that
  fail still count against the bounds.
- The same bounds, in the same window, serve every Klarna call an anonymous browser makes
  happen: the prepare route's session update and the authorize route's order placement are
  recorded here too (``kind``), each counted on its own, per widget session and per address
  (see ``_klarna_count_call``).
- The client token is stored encrypted like every secret of the addon, readable by system
  administrators only; the address only as a keyed hash. Neither is ever logged.
"""

import hashlib
import json
import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools.misc import hmac as hmac_tool

from .. import const
from .. import utils as klarna_utils
from ..klarna.errors import KlarnaError
from ..klarna.webhook_guard import sender_network
from .payment_klarna_operation import journal_env

_logger = logging.getLogger(__name__)


class PaymentKlarnaSession(models.Model):
    _name = "payment.klarna.session"
    _description = "Klarna Widget Session"
    _order = "id desc"

    provider_id = fields.Many2one(
        comodel_name="payment.provider", required=True, ondelete="cascade", index=True
    )
    kind = fields.Selection(
        selection=[
            ("session", "New session"),
            ("prepare", "Session update"),
            ("authorize", "Order placement"),
        ],
        required=True,
        default="session",
        help="Which Klarna call the browser made happen; each kind has its own bounds.",
    )
    # The id only, no foreign key: the attempt is committed on its own before the call,
    # possibly while the transaction is still uncommitted in the caller's (a shell, a
    # checkout creating and binding it in one request).
    transaction_id = fields.Integer(string="Transaction ID", index=True)
    cart_key = fields.Char(
        required=True,
        index=True,
        help="The document the widget pays; for a session update or an order placement, the "
        "widget session (the transaction's reference without one).",
    )
    payload_hash = fields.Char(required=True, help="SHA-256 of the cart as sent to Klarna.")
    address_key = fields.Char(index=True, help="Keyed hash of the customer's address.")
    opened_at = fields.Datetime(required=True, default=fields.Datetime.now, index=True)
    expires_at = fields.Datetime()
    session_id = fields.Char(string="Klarna Session ID")
    client_token_encrypted = fields.Char(groups="base.group_system")
    categories = fields.Json()

    @api.model
    def _klarna_open(self, provider, draft_tx, cart_key, address):
        """The live session of an unchanged cart, or a new one within the bounds.

        :param provider: the Klarna provider (sudo)
        :param draft_tx: the transaction the cart would become (a new record, not saved)
        :param str cart_key: which document the cart is, e.g. ``sale.order,12``
        :param str address: the customer's IP address; only its network's keyed hash is
            stored
        :return: ``session_id``, ``client_token`` and ``categories`` for the widget
        :raise UserError: past a bound, or when Klarna refuses the cart
        """
        sessions = self.sudo()
        payload = draft_tx._klarna_order_payload()
        payload_hash = self._klarna_payload_hash(provider, payload)
        now = fields.Datetime.now()
        live = sessions.search(
            [
                ("kind", "=", "session"),
                ("provider_id", "=", provider.id),
                ("cart_key", "=", cart_key),
                ("payload_hash", "=", payload_hash),
                ("session_id", "!=", False),
                ("expires_at", ">", now + timedelta(hours=const.SESSION_REUSE_MARGIN_HOURS)),
            ],
            limit=1,
        )
        if live and not live._klarna_taken():
            return live._klarna_widget_values()
        attempt = self._klarna_count_call(
            provider, "session", cart_key, address, const.SESSIONS_PER_CART, payload_hash
        )
        try:
            session = provider._klarna_get_client().create_session(payload)
        except KlarnaError as error:
            raise ValidationError(
                self.env._("Klarna: the payment option could not be prepared: %s", error)
            ) from error
        with journal_env(self.env) as env:
            opened = attempt.with_env(env).sudo()
            opened.write(
                {
                    "session_id": session.session_id,
                    "client_token_encrypted": klarna_utils.encrypt_secret(
                        self.env, session.client_token
                    ),
                    "categories": [c.identifier for c in session.payment_method_categories],
                    "expires_at": now + timedelta(hours=const.SESSION_LIFETIME_HOURS),
                }
            )
            _logger.info("Klarna widget session %s opened for %s", session.session_id, cart_key)
            return opened._klarna_widget_values()

    @api.model
    def _klarna_payload_hash(self, provider, payload):
        """What a Klarna call carries, with the Klarna account and environment it goes to.

        A session lives in one account and environment: other credentials (going live,
        another merchant) never get it back, nor count as unchanged.
        """
        account = [
            provider.state,
            provider.klarna_region,
            provider.klarna_base_url,
            provider.klarna_api_username,
        ]
        return hashlib.sha256(
            json.dumps([account, payload], sort_keys=True, default=str).encode()
        ).hexdigest()

    @api.model
    def _klarna_count_call(self, provider, kind, key, address, per_key, payload_hash, tx=None):
        """Record one Klarna call an anonymous browser makes happen, within the bounds.

        The bounds count the calls of the same kind in the last window: ``per_key`` for the
        key, the address bound for the customer's network (an IPv6 address by its /64, as
        for webhooks: a host holds a whole /64 and each fresh address in it must not get a
        bound of its own). The record is committed before the caller calls Klarna, so a
        failed call counts too.

        :param provider: the Klarna provider
        :param str kind: ``session``, ``prepare`` or ``authorize``
        :param str key: what the bound is per: the cart, or the widget session
        :param str address: the customer's IP address; only its network's keyed hash is
            stored
        :param int per_key: the bound per key
        :param str payload_hash: what the call sends (see ``_klarna_payload_hash``)
        :param tx: the transaction the call is for, if any
        :return: the recorded attempt, in this environment
        :raise UserError: past a bound: the caller must not call Klarna
        """
        sessions = self.sudo()
        address_key = hmac_tool(
            self.env(su=True), "payment_klarna_session_address", sender_network(address or "")
        )
        now = fields.Datetime.now()
        since = now - timedelta(minutes=const.SESSION_BOUND_WINDOW_MINUTES)
        recent = [("kind", "=", kind), ("opened_at", ">=", since)]
        by_key = [("provider_id", "=", provider.id), ("cart_key", "=", key), *recent]
        by_address = [("address_key", "=", address_key), *recent]
        per_address = self._klarna_sessions_per_address()
        if (
            sessions.search_count(by_key, limit=per_key) >= per_key
            or sessions.search_count(by_address, limit=per_address) >= per_address
        ):
            _logger.warning("Klarna %s call for %s refused: too many", kind, key)
            raise UserError(
                self.env._(
                    "Klarna: too many payment attempts in a short time. Wait a few minutes, "
                    "then reload the page."
                )
            )
        with journal_env(self.env) as env:
            attempt_id = (
                env[self._name]
                .sudo()
                .create(
                    {
                        "kind": kind,
                        "provider_id": provider.id,
                        "transaction_id": tx.id if tx else 0,
                        "cart_key": key,
                        "payload_hash": payload_hash,
                        "address_key": address_key,
                        "opened_at": now,
                    }
                )
                .id
            )
        return sessions.browse(attempt_id)

    @api.model
    def _klarna_sessions_per_address(self):
        """The address bound: the system parameter when it is a positive number."""
        value = self.env["ir.config_parameter"].sudo().get_param(const.SESSIONS_PER_ADDRESS_PARAM)
        if value and value.isdigit() and int(value):
            return int(value)
        return const.SESSIONS_PER_ADDRESS

    def _klarna_taken(self):
        """Whether a payment already went through with this session: never offer it again."""
        return bool(
            self.env["payment.transaction"]
            .sudo()
            .search_count(
                [
                    ("klarna_session_id", "=", self.session_id),
                    "|",
                    "|",
                    ("klarna_order_id", "!=", False),
                    ("klarna_authorization_token", "!=", False),
                    ("state", "in", ("pending", "authorized", "done")),
                ],
                limit=1,
            )
        )

    def _klarna_widget_values(self):
        self.ensure_one()
        return {
            "session_id": self.session_id,
            "client_token": klarna_utils.decrypt_secret(
                self.env, self.sudo().client_token_encrypted
            ),
            "categories": self.categories or [],
        }

    @api.autovacuum
    def _gc_klarna_sessions(self):
        """Forget sessions Klarna no longer keeps; the bounds look at the last hour only."""
        limit = fields.Datetime.now() - timedelta(hours=const.SESSION_LIFETIME_HOURS)
        self.sudo().search([("opened_at", "<", limit)]).unlink()
