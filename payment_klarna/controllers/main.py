import logging

from werkzeug.exceptions import BadRequest, Forbidden, NotFound

from odoo import http
from odoo.exceptions import AccessError, MissingError, ValidationError
from odoo.http import request
from odoo.tools.misc import hmac as hmac_tool

from odoo.addons.payment import utils as payment_utils
from odoo.addons.payment.controllers.portal import PaymentPortal

from .. import compat, const
from ..klarna import callback_token, inbound

_logger = logging.getLogger(__name__)
_security_logger = logging.getLogger(__name__ + ".security")


class KlarnaController(PaymentPortal):
    """Klarna's inbound URLs, kept here so models and tests reuse them.

    The routes only translate HTTP: they read the request, call one model method, and map
    its result or error to the answer. It extends the payment portal for its document
    access check and to name the document of a payment link for the widget.
    """

    _webhook_url = "/klarna/webhook"
    # Followed by the transaction's one-time token.
    _authorization_callback_prefix = "/payment/klarna/authorization/"
    _session_url = "/payment/klarna/session"
    _prepare_url = "/payment/klarna/prepare"
    _authorize_url = "/payment/klarna/authorize"
    _cancel_url = "/payment/klarna/cancel"
    _hpp_return_url = "/payment/klarna/hpp/return"

    # === EMBEDDED WIDGET === #

    @http.route(
        _session_url,
        type=compat.JSON_ROUTE,
        auth="public",
        klarna_params=const.SESSION_ROUTE_PARAMS,
    )
    def klarna_session(
        self,
        provider_id,
        payment_method_code,
        document_model=None,
        document_id=None,
        access_token=None,
        amount=None,
        currency_id=None,
        partner_id=None,
    ):
        """Open a Klarna session for the cart on the page, so the widget can show.

        The cart is the document the payment form pays (named by the form, see the
        ``inline_form`` template), after the portal's access check, or a payment link's
        amount under its access token; the browser gives no amount that matters otherwise.
        An unchanged cart gets its live session again (see payment.klarna.session).

        :param provider_id: the Klarna provider, as a ``payment.provider`` id
        :param str payment_method_code: the payment method the customer chose
        :param str document_model: the paid document's model, as the form names it
        :param int document_id: the paid document's id
        :param str access_token: the document's portal token, or the payment link's token
        :param float amount: a payment link's amount
        :param int currency_id: a payment link's currency
        :param int partner_id: a payment link's partner
        :return: ``session_id``, ``client_token``, ``categories`` and the
            ``session_signature`` the prepare route checks
        :rtype: dict
        :raise ValidationError: the provider, the method or the payment is not Klarna's
        :raise Forbidden: the document is not the customer's and the token is not its own
        """
        provider_sudo = self._klarna_get_widget_provider(provider_id)
        address = request.httprequest.remote_addr
        if document_model or document_id:
            document_sudo = self._klarna_check_document(document_model, document_id, access_token)
            opened = provider_sudo._klarna_open_widget_session(
                payment_method_code, address, document=document_sudo
            )
        elif None not in (amount, currency_id, partner_id) and payment_utils.check_access_token(
            access_token, partner_id, amount, currency_id
        ):
            opened = provider_sudo._klarna_open_widget_session(
                payment_method_code,
                address,
                amount=amount,
                currency_id=currency_id,
                partner_id=partner_id,
            )
        else:
            raise ValidationError(
                request.env._("Klarna: this payment cannot be made with Klarna here.")
            )
        return {**opened, "session_signature": self._klarna_sign_session(opened["session_id"])}

    @http.route(
        _prepare_url,
        type=compat.JSON_ROUTE,
        auth="public",
        klarna_params=const.PREPARE_ROUTE_PARAMS,
    )
    def klarna_prepare(self, reference, access_token, session_id, session_signature):
        """Bind the widget's session to the transaction Odoo just created for the payment.

        :param str reference: the transaction's reference
        :param str access_token: the transaction's Klarna access token
        :param str session_id: the widget's session, from the session route
        :param str session_signature: the session route's signature of ``session_id``
        :return: the ``payment_method_category`` to authorize
        :rtype: dict
        :raise ValidationError: the session is not one the session route opened
        :raise Forbidden: unknown reference or wrong token
        """
        if not inbound.same_secret(self._klarna_sign_session(session_id), session_signature):
            raise ValidationError(request.env._("Klarna: the payment session is not valid."))
        tx_sudo = self._klarna_get_tx(reference, access_token)
        tx_sudo._klarna_attach_session(session_id, request.httprequest.remote_addr)
        return {"payment_method_category": tx_sudo.klarna_payment_category}

    @http.route(
        _authorize_url,
        type=compat.JSON_ROUTE,
        auth="public",
        klarna_params=const.AUTHORIZE_ROUTE_PARAMS,
    )
    def klarna_authorize(self, reference, access_token, authorization_token):
        """Place the Klarna order for the customer's authorization (server-side cart).

        :param str reference: the transaction's reference
        :param str access_token: the transaction's Klarna access token
        :param str authorization_token: the token Klarna's widget gave
        :return: the transaction's ``state``
        :rtype: dict
        :raise Forbidden: unknown reference or wrong token
        """
        tx_sudo = self._klarna_get_tx(reference, access_token)
        tx_sudo._klarna_authorize(authorization_token, "browser", request.httprequest.remote_addr)
        return {"state": tx_sudo.state}

    @http.route(
        _cancel_url, type=compat.JSON_ROUTE, auth="public", klarna_params=const.CANCEL_ROUTE_PARAMS
    )
    def klarna_cancel(self, reference, access_token, declined=False):
        """The customer closed Klarna or was declined: the cart stays payable.

        :param str reference: the transaction's reference
        :param str access_token: the transaction's Klarna access token
        :param bool declined: Klarna declined the payment
        :return: the transaction's ``state``
        :rtype: dict
        :raise Forbidden: unknown reference or wrong token
        """
        tx_sudo = self._klarna_get_tx(reference, access_token)
        tx_sudo._klarna_cancel_by_customer(declined)
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

        :param str token: the transaction's callback token, from the path
        :return: 200 once stored, 503 when the transaction is busy
        :rtype: werkzeug Response
        :raise BadRequest: the body is too large or not a callback for the transaction
        :raise NotFound: the token is malformed or unknown
        """
        remote = request.httprequest.remote_addr
        body = request.httprequest.get_data(cache=False)
        if len(body) > const.MAX_CALLBACK_BYTES:
            _security_logger.warning("Klarna callback from %s refused: body too large", remote)
            raise BadRequest()
        if not callback_token.is_token(token):
            _security_logger.warning("Klarna callback from %s refused: malformed token", remote)
            raise NotFound()
        try:
            tx_sudo = (
                request.env["payment.transaction"]
                .sudo()
                ._klarna_find_tx(
                    {"klarna_callback_token_hash": callback_token.hash_token(token)},
                )
            )
        except ValidationError:
            tx_sudo = None
        if not tx_sudo:
            _security_logger.warning("Klarna callback from %s refused: unknown token", remote)
            raise NotFound()
        try:
            authorization_token = tx_sudo._klarna_read_authorization_callback(body)
        except ValidationError:
            raise BadRequest() from None
        if not tx_sudo._klarna_record_callback_authorization(authorization_token):
            return request.make_json_response({"status": "busy"}, status=503)
        return request.make_json_response({"status": "accepted"})

    # === HOSTED PAYMENT PAGE === #

    @http.route(_hpp_return_url, type="http", auth="public", methods=["GET"], save_session=False)
    def klarna_hpp_return(self, reference=None, status=None, signature=None, **_kwargs):
        """Back from Klarna's hosted page: place the order, or record why not.

        The URL is signed for its status and holds no token (the access log records it).

        :param str reference: the transaction's reference
        :param str status: which of the hosted page's merchant URLs Klarna chose
        :param str signature: that URL's signature
        :return: a redirect to the payment status page
        :raise BadRequest: unknown reference, status or signature (Odoo 19 would answer a
            ValidationError with 422, Odoo 18 with 400: one answer on both)
        """
        try:
            tx_sudo = (
                request.env["payment.transaction"].sudo()._klarna_find_tx({"reference": reference})
            )
            tx_sudo._klarna_process_hosted_page_return(status, signature)
        except ValidationError as error:
            raise BadRequest(error.args[0]) from None
        return request.redirect("/payment/status")

    # === HELPERS === #

    def _klarna_get_tx(self, reference, access_token):
        try:
            tx_sudo = (
                request.env["payment.transaction"].sudo()._klarna_find_tx({"reference": reference})
            )
        except ValidationError:
            raise Forbidden() from None
        if not tx_sudo._klarna_check_access_token(access_token):
            raise Forbidden()
        return tx_sudo

    def _klarna_sign_session(self, session_id):
        return hmac_tool(request.env(su=True), "payment_klarna_session", str(session_id))

    def _klarna_get_widget_provider(self, provider_id):
        """The Klarna provider a widget asks for, whatever the browser sent as its id."""
        provider_sudo = request.env["payment.provider"].sudo()
        if isinstance(provider_id, int) and not isinstance(provider_id, bool):
            provider_sudo = provider_sudo.browse(provider_id).exists()
        if (
            not provider_sudo
            or provider_sudo.code != const.PROVIDER_CODE
            or provider_sudo.state == "disabled"
        ):
            raise ValidationError(request.env._("Klarna: this payment provider is not available."))
        return provider_sudo

    def _klarna_check_document(self, model, document_id, access_token):
        """The document a payment form pays, after the portal's access check: the
        customer's own document, or the document's access token."""
        if model not in const.WIDGET_DOCUMENTS or not document_id:
            raise ValidationError(
                request.env._("Klarna: this payment cannot be made with Klarna here.")
            )
        try:
            return self._document_check_access(model, int(document_id), access_token)
        except (AccessError, MissingError):
            raise Forbidden() from None

    def _get_extra_payment_form_values(self, **kwargs):
        """Override of `payment` to name the document a payment link pays, as the portal
        pages do (``sale_order_id``, ``invoice_id``), for Klarna's inline form.

        Only once the document's module rerouted the link to the document (its access
        checked), and under Klarna's own keys: other providers read the portal's.

        :return: the extended rendering context values
        :rtype: dict
        """
        form_values = super()._get_extra_payment_form_values(**kwargs)
        if "transaction_route" in form_values:
            for model, param in (("sale.order", "sale_order_id"), ("account.move", "invoice_id")):
                if document_id := self._cast_as_int(kwargs.get(param)):
                    form_values["klarna_document_model"] = model
                    form_values["klarna_document_id"] = document_id
                    break
        return form_values
