import logging
import re

from werkzeug.exceptions import BadRequest, Forbidden, NotFound

from odoo import http
from odoo.exceptions import AccessError, MissingError, ValidationError
from odoo.http import request
from odoo.tools.misc import hmac as hmac_tool

from odoo.addons.payment import utils as payment_utils

from .. import const
from ..klarna import callback_token, inbound
from ..klarna.events import EventError, parse_authorization_callback

_logger = logging.getLogger(__name__)
_security_logger = logging.getLogger(__name__ + ".security")

# The payment form's transaction routes, and the document each one pays.
DOCUMENT_ROUTES = (
    (re.compile(r"^/shop/payment/transaction/(\d+)$"), "sale.order"),
    (re.compile(r"^/my/orders/(\d+)/transaction$"), "sale.order"),
    (re.compile(r"^/invoice/transaction/(\d+)$"), "account.move"),
)
MAX_CALLBACK_BYTES = 16 * 1024


class KlarnaController(http.Controller):
    """Klarna's inbound URLs, kept here so models and tests reuse them."""

    _webhook_url = "/klarna/webhook"
    # Followed by the transaction's one-time token.
    _authorization_callback_prefix = "/payment/klarna/authorization/"
    _session_url = "/payment/klarna/session"
    _prepare_url = "/payment/klarna/prepare"
    _authorize_url = "/payment/klarna/authorize"
    _cancel_url = "/payment/klarna/cancel"
    _hpp_return_url = "/payment/klarna/hpp/return"

    # === EMBEDDED WIDGET === #

    @http.route(_session_url, type="json", auth="public", klarna_params=const.SESSION_ROUTE_PARAMS)
    def klarna_session(
        self,
        provider_id,
        payment_method_code,
        transaction_route,
        access_token=None,
        amount=None,
        currency_id=None,
        partner_id=None,
    ):
        """Open a Klarna session for the cart on the page, so the widget can show.

        The cart comes from the document the payment form pays, after the same access
        check its transaction route makes; the browser gives no amount that matters. An
        unchanged cart gets its live session again (see payment.klarna.session).
        """
        provider_sudo = request.env["payment.provider"].sudo()
        if isinstance(provider_id, int) and not isinstance(provider_id, bool):
            provider_sudo = provider_sudo.browse(provider_id).exists()
        if (
            not provider_sudo
            or provider_sudo.code != const.PROVIDER_CODE
            or provider_sudo.state == "disabled"
        ):
            raise ValidationError(request.env._("Klarna: this payment provider is not available."))
        draft_values = self._klarna_document_values(
            transaction_route, access_token, amount, currency_id, partner_id
        )
        opened = provider_sudo._klarna_open_widget_session(
            payment_method_code, draft_values, request.httprequest.remote_addr
        )
        return {**opened, "session_signature": self._klarna_sign_session(opened["session_id"])}

    @http.route(_prepare_url, type="json", auth="public", klarna_params=const.PREPARE_ROUTE_PARAMS)
    def klarna_prepare(self, reference, access_token, session_id, session_signature):
        """Bind the widget's session to the transaction Odoo just created for the payment."""
        if not inbound.same_secret(self._klarna_sign_session(session_id), session_signature):
            raise ValidationError(request.env._("Klarna: the payment session is not valid."))
        tx_sudo = self._klarna_get_tx(reference, access_token)
        tx_sudo._klarna_attach_session(session_id, request.httprequest.remote_addr)
        return {"payment_method_category": tx_sudo.klarna_payment_category}

    @http.route(
        _authorize_url, type="json", auth="public", klarna_params=const.AUTHORIZE_ROUTE_PARAMS
    )
    def klarna_authorize(self, reference, access_token, authorization_token):
        """Place the Klarna order for the customer's authorization (server-side cart)."""
        tx_sudo = self._klarna_get_tx(reference, access_token)
        tx_sudo._klarna_authorize(authorization_token, "browser", request.httprequest.remote_addr)
        return {"state": tx_sudo.state}

    @http.route(_cancel_url, type="json", auth="public", klarna_params=const.CANCEL_ROUTE_PARAMS)
    def klarna_cancel(self, reference, access_token, declined=False):
        """The customer closed Klarna or was declined: the cart stays payable."""
        tx_sudo = self._klarna_get_tx(reference, access_token)
        if tx_sudo.state == "draft" and not tx_sudo.klarna_order_id:
            tx_sudo._set_canceled(
                state_message=request.env._("Klarna declined the payment.")
                if declined
                else request.env._("The customer left Klarna before approving.")
            )
        return {"state": tx_sudo.state}

    # === AUTHORIZATION CALLBACK === #

    @http.route(
        _authorization_callback_prefix + "<string:token>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def klarna_authorization_callback(self, token):
        """Klarna's server-side authorization: record it and answer within Klarna's 2 s.

        The token in the path identifies the transaction (only its hash is stored). The
        order is placed by the recovery job right after the commit, so this answer never
        waits on Klarna; the browser may place it sooner, and the row lock and the
        placed-order check make whichever comes second a no-op. The answer is 2xx only
        once the authorization is stored or the order placed; a busy transaction gets 503,
        and Klarna calls again.
        """
        remote = request.httprequest.remote_addr
        body = request.httprequest.get_data(cache=False)
        if len(body) > MAX_CALLBACK_BYTES:
            _security_logger.warning("Klarna callback from %s refused: body too large", remote)
            raise BadRequest()
        if not callback_token.is_token(token):
            _security_logger.warning("Klarna callback from %s refused: malformed token", remote)
            raise NotFound()
        try:
            tx_sudo = (
                request.env["payment.transaction"]
                .sudo()
                ._get_tx_from_notification_data(
                    const.PROVIDER_CODE,
                    {"klarna_callback_token_hash": callback_token.hash_token(token)},
                )
            )
        except ValidationError:
            tx_sudo = None
        if not tx_sudo:
            _security_logger.warning("Klarna callback from %s refused: unknown token", remote)
            raise NotFound()
        try:
            callback = parse_authorization_callback(body)
        except EventError as error:
            _security_logger.warning(
                "Klarna callback for %s refused: %s", tx_sudo.reference, error.reason_code
            )
            raise BadRequest() from None
        if callback.session_id != tx_sudo.klarna_session_id:
            _security_logger.warning(
                "Klarna callback for %s refused: session mismatch", tx_sudo.reference
            )
            raise BadRequest()
        if not tx_sudo._klarna_record_callback_authorization(callback.authorization_token):
            return request.make_json_response({"status": "busy"}, status=503)
        return request.make_json_response({"status": "accepted"})

    # === HOSTED PAYMENT PAGE === #

    @http.route(_hpp_return_url, type="http", auth="public", methods=["GET"], save_session=False)
    def klarna_hpp_return(self, reference=None, status=None, signature=None, **_kwargs):
        """Back from Klarna's hosted page: place the order, or record why not.

        The URL is signed for its status and holds no token (the access log records it).
        """
        tx_sudo = (
            request.env["payment.transaction"]
            .sudo()
            ._get_tx_from_notification_data(const.PROVIDER_CODE, {"reference": reference})
        )
        tx_sudo._klarna_process_hosted_page_return(status, signature)
        return request.redirect("/payment/status")

    # === HELPERS === #

    def _klarna_get_tx(self, reference, access_token):
        try:
            tx_sudo = (
                request.env["payment.transaction"]
                .sudo()
                ._get_tx_from_notification_data(const.PROVIDER_CODE, {"reference": reference})
            )
        except ValidationError:
            raise Forbidden() from None
        if not tx_sudo._klarna_check_access_token(access_token):
            raise Forbidden()
        return tx_sudo

    def _klarna_sign_session(self, session_id):
        return hmac_tool(request.env(su=True), "payment_klarna_session", str(session_id))

    def _klarna_document_values(
        self, transaction_route, access_token, amount, currency_id, partner
    ):
        """The draft transaction values of the document a payment form pays, access checked,
        with the ``cart_key`` that names the document."""
        env = request.env
        for pattern, model in DOCUMENT_ROUTES:
            if match := pattern.match(transaction_route or ""):
                document = self._klarna_check_document(model, int(match.group(1)), access_token)
                partner_id = (
                    document.partner_invoice_id.id
                    if model == "sale.order"
                    else document.partner_id.id
                )
                link = "sale_order_ids" if model == "sale.order" else "invoice_ids"
                return {
                    "amount": document.amount_total
                    if model == "sale.order"
                    else document.amount_residual,
                    "currency_id": document.currency_id.id,
                    "partner_id": partner_id,
                    link: [(6, 0, document.ids)],
                    "reference": document.name,
                    "cart_key": f"{model},{document.id}",
                }
        if (
            transaction_route == "/payment/transaction"
            and None not in (amount, currency_id, partner)
            and payment_utils.check_access_token(access_token, partner, amount, currency_id)
        ):
            return {
                "amount": float(amount),
                "currency_id": int(currency_id),
                "partner_id": int(partner),
                "reference": env._("Payment"),
                "cart_key": f"payment,{int(partner)},{int(currency_id)},{float(amount)}",
            }
        raise ValidationError(env._("Klarna: this payment cannot be made with Klarna here."))

    def _klarna_check_document(self, model, record_id, access_token):
        """The portal rule: the customer's own document, or the document's access token."""
        document = request.env[model].browse(record_id)
        try:
            document.check_access("read")
            return document.sudo()
        except (AccessError, MissingError):
            document_sudo = document.sudo().exists()
            if (
                document_sudo
                and document_sudo.access_token
                and inbound.same_secret(document_sudo.access_token, access_token)
            ):
                return document_sudo
        raise Forbidden()
