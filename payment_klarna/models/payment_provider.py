import json
import logging

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, ValidationError

from odoo.addons.payment import utils as payment_utils

from .. import const
from .. import utils as klarna_utils
from ..controllers.main import KlarnaController
from ..klarna.client import KlarnaClient
from ..klarna.errors import KlarnaAuthError, KlarnaError, KlarnaNotFound
from ..klarna.locale import MARKETS

_logger = logging.getLogger(__name__)


class PaymentProvider(models.Model):
    _inherit = "payment.provider"

    code = fields.Selection(
        selection_add=[(const.PROVIDER_CODE, "Klarna")],
        ondelete={const.PROVIDER_CODE: "set default"},
    )
    klarna_api_username = fields.Char(
        string="API Username",
        help="The Klarna API username (UID), e.g. K123456_abcdef or PK12345_abcdef.",
        required_if_provider=const.PROVIDER_CODE,
        copy=False,
    )
    # Write-only in the UI: the form never receives the stored secret back.
    klarna_api_password = fields.Char(
        string="API Password",
        compute="_compute_klarna_api_password",
        inverse="_inverse_klarna_api_password",
        groups="base.group_system",
    )
    klarna_api_password_encrypted = fields.Char(
        string="Encrypted API Password", groups="base.group_system", copy=False, readonly=True
    )
    klarna_api_password_set = fields.Boolean(
        string="API Password Saved", compute="_compute_klarna_api_password"
    )
    klarna_region = fields.Selection(
        string="Region",
        help="The Klarna region of the merchant account; test mode uses its playground.",
        selection=const.REGIONS,
        default="eu",
        required_if_provider=const.PROVIDER_CODE,
    )
    klarna_base_url = fields.Char(
        string="API Base URL Override",
        help="Developer setting: send every Klarna call to this URL instead of the region's "
        "host, e.g. the local Klarna simulator.",
        groups="base.group_system",
        copy=False,
    )
    klarna_capture_policy = fields.Selection(
        string="Capture",
        help="When Klarna collects the money: manually from Odoo, when the goods are "
        "delivered, or immediately when the order is placed.",
        selection=const.CAPTURE_POLICIES,
        default="manual",
        required_if_provider=const.PROVIDER_CODE,
    )
    klarna_checkout_flow = fields.Selection(
        string="Checkout",
        help="Embedded: Klarna's widget inside Odoo's payment form. Hosted: the customer is "
        "redirected to Klarna's hosted payment page and back.",
        selection=[("embedded", "Embedded widget"), ("hosted", "Klarna hosted page")],
        default="embedded",
        required_if_provider=const.PROVIDER_CODE,
    )
    klarna_auto_extend = fields.Boolean(
        string="Extend Authorizations",
        help="Every day, extend the authorization of uncaptured Klarna orders that expire "
        "within a week. Otherwise Odoo warns on the sales order.",
    )
    klarna_signing_key_ids = fields.One2many(
        string="Webhook Signing Keys",
        comodel_name="payment.klarna.signing.key",
        inverse_name="provider_id",
        groups="base.group_system",
        context={"active_test": False},
    )
    klarna_dead_event_count = fields.Integer(
        string="Dead Letters",
        compute="_compute_klarna_dead_event_count",
        groups="base.group_system",
    )
    klarna_webhook_url = fields.Char(
        string="Webhook URL", compute="_compute_klarna_urls", help="Register it with Klarna."
    )
    klarna_authorization_callback_url = fields.Char(
        string="Authorization Callback URL",
        compute="_compute_klarna_urls",
        help="Sent with every payment session, with a one-time token per payment.",
    )

    # === COMPUTE METHODS === #

    def _compute_feature_support_fields(self):
        """Override of `payment` to enable partial captures, voids and refunds."""
        res = super()._compute_feature_support_fields()
        self.filtered(lambda p: p.code == const.PROVIDER_CODE).update(
            {"support_manual_capture": "partial", "support_refund": "partial"}
        )
        return res

    def _compute_klarna_api_password(self):
        for provider in self:
            provider.klarna_api_password = False
            provider.klarna_api_password_set = bool(provider.sudo().klarna_api_password_encrypted)

    def _inverse_klarna_api_password(self):
        for provider in self:
            # An empty value means "unchanged": the form never shows the stored secret.
            if provider.klarna_api_password:
                provider.klarna_api_password_encrypted = klarna_utils.encrypt_secret(
                    self.env, provider.klarna_api_password
                )

    @api.depends("code")
    def _compute_klarna_urls(self):
        for provider in self:
            base_url = provider.get_base_url().rstrip("/")
            provider.klarna_webhook_url = base_url + KlarnaController._webhook_url
            provider.klarna_authorization_callback_url = (
                base_url + KlarnaController._authorization_callback_prefix + "<token>"
            )

    def _compute_klarna_dead_event_count(self):
        counts = dict(
            self.env["payment.klarna.event"]._read_group(
                [("provider_id", "in", self.ids), ("state", "=", "dead")],
                ["provider_id"],
                ["__count"],
            )
        )
        for provider in self:
            provider.klarna_dead_event_count = counts.get(provider, 0)

    # === CONSTRAINT METHODS === #

    @api.constrains("klarna_base_url")
    def _check_klarna_base_url(self):
        for provider in self.sudo():
            url = provider.klarna_base_url
            if url and not url.startswith(("https://", "http://127.", "http://localhost")):
                raise ValidationError(
                    self.env._(
                        "Klarna: the API base URL override must use https, or http on this "
                        "machine (127.0.0.1 or localhost) for the local simulator."
                    )
                )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._klarna_sync_capture_manually(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._klarna_sync_capture_manually(vals)
        if {"state", "code"} & vals.keys() and (
            vals.get("code") == const.PROVIDER_CODE or const.PROVIDER_CODE in self.mapped("code")
        ):
            self.env["payment.klarna.signing.key"]._klarna_clear_webhook_config()
        return super().write(vals)

    def unlink(self):
        if const.PROVIDER_CODE in self.mapped("code"):
            self.env["payment.klarna.signing.key"]._klarna_clear_webhook_config()
        return super().unlink()

    @api.model
    def _klarna_sync_capture_manually(self, vals):
        """Keep Odoo's own capture flag in step with the Klarna capture policy."""
        if vals.get("klarna_capture_policy"):
            vals["capture_manually"] = const.CAPTURE_MANUALLY[vals["klarna_capture_policy"]]

    # === BUSINESS METHODS === #

    @api.model
    def _get_compatible_providers(self, *args, is_validation=False, report=None, **kwargs):
        """Override of `payment` to hide Klarna where it cannot work: validations (no amount)."""
        providers = super()._get_compatible_providers(
            *args, is_validation=is_validation, report=report, **kwargs
        )
        if is_validation:
            unfit = providers.filtered(lambda p: p.code == const.PROVIDER_CODE)
            providers -= unfit
            payment_utils.add_to_report(
                report,
                unfit,
                available=False,
                reason=self.env._("Klarna cannot save a payment method without a purchase"),
            )
        return providers

    def _should_build_inline_form(self, is_validation=False):
        """Override of `payment` to use the redirect flow with Klarna's hosted page."""
        if self.code != const.PROVIDER_CODE:
            return super()._should_build_inline_form(is_validation=is_validation)
        return self.klarna_checkout_flow == "embedded"

    def _get_redirect_form_view(self, is_validation=False):
        """Override of `payment` to redirect only when the hosted page is chosen."""
        if self.code != const.PROVIDER_CODE:
            return super()._get_redirect_form_view(is_validation=is_validation)
        if self.klarna_checkout_flow != "hosted":
            return self.env["ir.ui.view"]
        return self.env.ref("payment_klarna.redirect_form")

    def _klarna_get_inline_form_values(self, payment_method_code):
        """What the payment form needs to show Klarna's widget for a payment method."""
        self.ensure_one()
        return json.dumps(
            {
                "sdk_url": self._klarna_sdk_url(),
                "category": const.PAYMENT_METHOD_CATEGORIES.get(payment_method_code, "pay_later"),
                "flow": "direct" if self.klarna_checkout_flow == "embedded" else "redirect",
            }
        )

    def _klarna_sdk_url(self, path=const.SDK_PATH, url=const.SDK_URL):
        """A Klarna browser library: Klarna's ``url``, or ``path`` on the base-URL override
        (the simulator serves stand-ins)."""
        self.ensure_one()
        base_url = self.sudo().klarna_base_url
        return f"{base_url.rstrip('/')}{path}" if base_url else url

    def _get_supported_currencies(self):
        """Override of `payment` to return the currencies of Klarna's markets."""
        supported_currencies = super()._get_supported_currencies()
        if self.code == const.PROVIDER_CODE:
            codes = {market.currency for market in MARKETS.values()}
            supported_currencies = supported_currencies.filtered(lambda c: c.name in codes)
        return supported_currencies

    def _get_default_payment_method_codes(self):
        """Override of `payment` to return the default payment method codes."""
        default_codes = super()._get_default_payment_method_codes()
        if self.code != const.PROVIDER_CODE:
            return default_codes
        return const.DEFAULT_PAYMENT_METHOD_CODES

    def _klarna_get_api_password(self):
        """Decrypt the API password; only for system administrators and sudo'ed code."""
        self.ensure_one()
        return klarna_utils.decrypt_secret(self.env, self.klarna_api_password_encrypted)

    def _klarna_open_widget_session(
        self,
        payment_method_code,
        address,
        document=None,
        amount=None,
        currency_id=None,
        partner_id=None,
    ):
        """The Klarna session that shows the widget for a cart (reused while unchanged).

        The cart is ``document``, or else a payment link's amount, currency and partner.

        :param str payment_method_code: the payment method the customer chose
        :param str address: the customer's IP address, to bound new sessions
        :param document: the sale order or invoice the payment form pays, access checked
        :param float amount: a payment link's amount, access checked
        :param int currency_id: a payment link's currency
        :param int partner_id: a payment link's partner
        :return: ``session_id``, ``client_token`` and ``categories``
        :raise ValidationError: for a payment method that is not Klarna's
        """
        self.ensure_one()
        payment_method = self.env["payment.method"]._get_from_code(payment_method_code)
        if payment_method_code not in const.PAYMENT_METHOD_CATEGORIES or not payment_method:
            raise ValidationError(self.env._("Klarna: this payment method is not available."))
        if document:
            amount_field, partner_field, link_field = const.WIDGET_DOCUMENTS[document._name]
            values = {
                "amount": document[amount_field],
                "currency_id": document.currency_id.id,
                "partner_id": document[partner_field].id,
                link_field: [Command.set(document.ids)],
                "reference": document.name,
            }
            cart_key = f"{document._name},{document.id}"
        else:
            amount, currency_id, partner_id = float(amount), int(currency_id), int(partner_id)
            values = {
                "amount": amount,
                "currency_id": currency_id,
                "partner_id": partner_id,
                "reference": self.env._("Payment"),
            }
            cart_key = f"payment,{partner_id},{currency_id},{amount}"
        draft_tx = self.env["payment.transaction"].new(
            {"provider_id": self.id, "payment_method_id": payment_method.id, **values}
        )
        return self.env["payment.klarna.session"]._klarna_open(self, draft_tx, cart_key, address)

    def _klarna_get_client(self):
        self.ensure_one()
        return KlarnaClient(klarna_utils.build_client_config(self))

    def action_klarna_test_connection(self):
        """Prove the credentials by reading an order id Klarna cannot know.

        A 404 answer means Klarna accepted the credentials; nothing is created.

        :return: a notification action
        :raise AccessError: for anyone but a system administrator, JSON-RPC included
        """
        self._klarna_check_admin()
        self.ensure_one()
        try:
            self._klarna_get_client().get_order(const.CONNECTION_CHECK_ORDER_ID)
        except KlarnaNotFound:
            return self._klarna_notification(
                "success",
                self.env._("Klarna: the connection works and Klarna accepted the credentials."),
            )
        except KlarnaAuthError as error:
            _logger.info("Klarna connection check of provider %s: refused (%s)", self.id, error)
            return self._klarna_notification(
                "danger",
                self.env._(
                    "Klarna: the credentials were refused (%(error)s). Check the API username, "
                    "the password, the region and whether test mode matches the credentials.",
                    error=error,
                ),
            )
        except KlarnaError as error:
            return self._klarna_notification(
                "danger", self.env._("Klarna: the connection check failed: %(error)s", error=error)
            )
        # An existing order under that id is as good a proof as a 404.
        return self._klarna_notification(
            "success",
            self.env._("Klarna: the connection works and Klarna accepted the credentials."),
        )

    def action_klarna_rotate_secrets(self):
        """Re-encrypt the secrets of these providers (password, signing keys, widget client
        tokens) with the newest key.

        :return: a notification action
        :raise AccessError: for anyone but a system administrator, JSON-RPC included
        """
        self._klarna_check_admin()
        box = klarna_utils.get_secret_box(self.env)
        providers = self.sudo().filtered("klarna_api_password_encrypted")
        for provider in providers:
            provider.klarna_api_password_encrypted = box.rotate(
                provider.klarna_api_password_encrypted
            )
        keys = self.sudo().with_context(active_test=False).klarna_signing_key_ids
        for key in keys.filtered("secret_encrypted"):
            key.secret_encrypted = box.rotate(key.secret_encrypted)
        sessions = self.env["payment.klarna.session"].sudo()
        for session in sessions.search([("provider_id", "in", self.ids)]).filtered(
            "client_token_encrypted"
        ):
            session.client_token_encrypted = box.rotate(session.client_token_encrypted)
        return self._klarna_notification(
            "success",
            self.env._("Klarna: the stored secrets are now encrypted with the newest key."),
        )

    def _klarna_check_admin(self):
        """The provider's buttons are public methods, so JSON-RPC reaches them: they call
        Klarna with the merchant's credentials or touch secrets, for system administrators
        only, and only on providers they may write."""
        if not self.env.is_system():
            raise AccessError(self.env._("Klarna: only system administrators can do this."))
        payment_utils.check_rights_on_recordset(self)

    def _klarna_notification(self, kind, message):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": kind, "message": message, "sticky": kind == "danger"},
        }

    def action_klarna_view_events(self):
        """The provider's webhook events, dead letters first.

        :return: the events' window action
        :raise AccessError: for anyone but a system administrator, JSON-RPC included
        """
        self._klarna_check_admin()
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "payment_klarna.action_payment_klarna_event"
        )
        action["domain"] = [("provider_id", "=", self.id)]
        return action
