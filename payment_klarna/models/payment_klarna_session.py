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
    cart_key = fields.Char(required=True, index=True, help="The document the widget pays.")
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
        # A session lives in one Klarna account and environment: other credentials (going
        # live, another merchant) never get it back.
        account = [
            provider.state,
            provider.klarna_region,
            provider.klarna_base_url,
            provider.klarna_api_username,
        ]
        payload_hash = hashlib.sha256(
            json.dumps([account, payload], sort_keys=True, default=str).encode()
        ).hexdigest()
        now = fields.Datetime.now()
        cart = [("provider_id", "=", provider.id), ("cart_key", "=", cart_key)]
        live = sessions.search(
            [
                *cart,
                ("payload_hash", "=", payload_hash),
                ("session_id", "!=", False),
                ("expires_at", ">", now + timedelta(hours=const.SESSION_REUSE_MARGIN_HOURS)),
            ],
            limit=1,
        )
        if live and not live._klarna_taken():
            return live._klarna_widget_values()
        # Per network, as for webhooks: a host holds a whole IPv6 /64 and each fresh
        # address in it must not get a bound of its own.
        address_key = hmac_tool(
            self.env(su=True), "payment_klarna_session_address", sender_network(address or "")
        )
        since = now - timedelta(minutes=const.SESSION_BOUND_WINDOW_MINUTES)
        recent = [("opened_at", ">=", since)]
        per_cart = const.SESSIONS_PER_CART
        per_address = self._klarna_sessions_per_address()
        by_address = [("address_key", "=", address_key), *recent]
        if (
            sessions.search_count([*cart, *recent], limit=per_cart) >= per_cart
            or sessions.search_count(by_address, limit=per_address) >= per_address
        ):
            _logger.warning("Klarna widget session for %s refused: too many new ones", cart_key)
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
                        "provider_id": provider.id,
                        "cart_key": cart_key,
                        "payload_hash": payload_hash,
                        "address_key": address_key,
                        "opened_at": now,
                    }
                )
                .id
            )
        try:
            session = provider._klarna_get_client().create_session(payload)
        except KlarnaError as error:
            raise ValidationError(
                self.env._("Klarna: the payment option could not be prepared: %s", error)
            ) from error
        with journal_env(self.env) as env:
            opened = env[self._name].sudo().browse(attempt_id)
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
