"""The only code that talks HTTP to Klarna: one :class:`KlarnaClient` per account.

Its methods are Klarna's endpoints: they turn Python calls into Klarna Payments,
Hosted Payment Page and Order Management requests and Klarna's answers into
:mod:`klarna.results` values or :mod:`klarna.errors` exceptions. Arguments are
checked before anything is sent (:mod:`klarna.arguments`); sending, retries, the
401 lockout and logging live in :mod:`klarna.transport`.

Answers are read strictly where money or identity depends on a field (ids, tokens,
amounts, statuses, fraud status, currency, references: missing or mistyped is a
:class:`KlarnaProtocolError`) and tolerantly where a field is only shown to people
(names, asset and redirect URLs, descriptions, display dates: anything odd becomes
None), so a cosmetic glitch on Klarna's side never fails a payment. Ids put into URL
paths must look like Klarna's ids (:func:`klarna.arguments.segment`): none can add or
climb a segment.
"""

import time

import requests

from . import arguments, results
from .config import KlarnaConfig
from .errors import KlarnaConfigError
from .lockout import PROCESS_GUARD
from .transport import Transport, cosmetic

ORDERS = "/ordermanagement/v1/orders/"


class KlarnaClient:
    """Client for one Klarna API account described by a :class:`KlarnaConfig`.

    ``session`` (a ``requests.Session``), ``sleep``, ``clock`` (monotonic
    seconds, for the retry budget) and ``lockout`` (a guard, by default the one
    shared by the process) are injectable for tests and special deployments.
    """

    def __init__(self, config, session=None, sleep=time.sleep, clock=time.monotonic, lockout=None):
        if not isinstance(config, KlarnaConfig):
            raise KlarnaConfigError("KlarnaClient needs a KlarnaConfig")
        self._config = config
        self._transport = Transport(
            config,
            session=session if session is not None else requests.Session(),
            sleep=sleep,
            clock=clock,
            lockout=PROCESS_GUARD if lockout is None else lockout,
        )

    @property
    def config(self):
        """The settings this client was built with (read-only: KlarnaConfig is frozen)."""
        return self._config

    def _call(self, method, path, what, body=None, idempotency_key=None):
        """Every endpoint's one exchange: the 2xx answer, or a KlarnaError."""
        return self._transport.call(method, path, what, body=body, idempotency_key=idempotency_key)

    # -- Klarna Payments -----------------------------------------------------

    def create_session(self, payload):
        """Start a Klarna Payments session for the widget."""
        answer = self._call(
            "POST", "/payments/v1/sessions", "session", body=arguments.payload(payload)
        )
        data = answer.json()
        categories = []
        for category in answer.objects(data, "payment_method_categories"):
            assets = category.get("asset_urls")
            categories.append(
                results.PaymentMethodCategory(
                    identifier=answer.text(category, "identifier"),
                    name=cosmetic(category, "name"),
                    descriptive_asset_url=cosmetic(assets, "descriptive"),
                    standard_asset_url=cosmetic(assets, "standard"),
                )
            )
        return results.PaymentSession(
            session_id=answer.text(data, "session_id"),
            client_token=answer.text(data, "client_token"),
            payment_method_categories=tuple(categories),
        )

    def update_session(self, session_id, payload):
        """Replace the session's cart or addresses (the cart changed)."""
        path = "/payments/v1/sessions/" + arguments.segment("session_id", session_id)
        self._call("POST", path, "session update", body=arguments.payload(payload))

    def read_session(self, session_id):
        """Read a session back, e.g. to find an authorization whose callback was lost."""
        path = "/payments/v1/sessions/" + arguments.segment("session_id", session_id)
        answer = self._call("GET", path, "session")
        data = answer.json()
        return results.SessionStatus(
            session_id=session_id,
            status=answer.text(data, "status"),
            authorization_token=answer.identity(data, "authorization_token"),
            expires_at=answer.identity(data, "expires_at"),
            order_amount=answer.amount(data, "order_amount", required=False),
            purchase_currency=answer.text(data, "purchase_currency", required=False),
            raw=data,
        )

    def create_order(
        self, authorization_token, payload, idempotency_key=None, *, auto_capture=None
    ):
        """Place the order for an authorization.

        Retried on outages only when ``idempotency_key`` is given. ``auto_capture``
        (when not None) sets the payload's ``auto_capture`` flag.
        """
        token = arguments.segment("authorization_token", authorization_token)
        body = arguments.order_payload(payload, auto_capture)
        if idempotency_key is not None:
            idempotency_key = arguments.idempotency_key(idempotency_key)
        answer = self._call(
            "POST",
            f"/payments/v1/authorizations/{token}/order",
            "order placement",
            body=body,
            idempotency_key=idempotency_key,
        )
        data = answer.json()
        return results.PlacedOrder(
            order_id=answer.text(data, "order_id"),
            fraud_status=answer.text(data, "fraud_status"),
            redirect_url=cosmetic(data, "redirect_url"),
            authorized_payment_method=cosmetic(data.get("authorized_payment_method"), "type"),
        )

    def cancel_authorization(self, authorization_token):
        """Drop an authorization that will not become an order.

        Not retried: had the first attempt gone through, the retry would fail
        with "not found" and hide the success.
        """
        token = arguments.segment("authorization_token", authorization_token)
        self._call("DELETE", f"/payments/v1/authorizations/{token}", "authorization cancel")

    # -- Hosted Payment Page -------------------------------------------------

    def create_hpp_session(self, payload):
        """Wrap a Klarna Payments session in a Hosted Payment Page."""
        answer = self._call(
            "POST", "/hpp/v1/sessions", "HPP session", body=arguments.payload(payload)
        )
        data = answer.json()
        return results.HppSession(
            session_id=answer.text(data, "session_id"),
            redirect_url=answer.text(data, "redirect_url"),
            session_url=cosmetic(data, "session_url"),
            expires_at=cosmetic(data, "expires_at"),
        )

    # -- Order Management ----------------------------------------------------

    def get_order(self, order_id):
        """Read the order; the source of truth after any doubtful notification."""
        answer = self._call("GET", ORDERS + arguments.segment("order_id", order_id), "order")
        data = answer.json()
        captures = tuple(
            results.Capture(
                capture_id=answer.text(item, "capture_id"),
                captured_amount=answer.amount(item, "captured_amount"),
                captured_at=cosmetic(item, "captured_at"),
                refunded_amount=answer.amount(item, "refunded_amount", required=False),
                reference=answer.identity(item, "reference"),
                description=cosmetic(item, "description"),
            )
            for item in answer.objects(data, "captures")
        )
        refunds = tuple(
            results.Refund(
                refund_id=answer.text(item, "refund_id"),
                refunded_amount=answer.amount(item, "refunded_amount"),
                refunded_at=cosmetic(item, "refunded_at"),
                reference=answer.identity(item, "reference"),
                description=cosmetic(item, "description"),
            )
            for item in answer.objects(data, "refunds")
        )
        return results.KlarnaOrder(
            order_id=answer.text(data, "order_id"),
            status=answer.text(data, "status"),
            fraud_status=answer.text(data, "fraud_status", required=False),
            order_amount=answer.amount(data, "order_amount"),
            captured_amount=answer.amount(data, "captured_amount"),
            refunded_amount=answer.amount(data, "refunded_amount"),
            remaining_authorized_amount=answer.amount(data, "remaining_authorized_amount"),
            purchase_currency=answer.text(data, "purchase_currency"),
            expires_at=answer.text(data, "expires_at", required=False),
            captures=captures,
            refunds=refunds,
            raw=data,
        )

    def _order_call(self, method, order_id, action, what, idempotency_key, body=None):
        path = f"{ORDERS}{arguments.segment('order_id', order_id)}/{action}"
        return self._call(
            method,
            path,
            what,
            body=body,
            idempotency_key=arguments.idempotency_key(idempotency_key),
        )

    def capture(
        self,
        order_id,
        captured_amount,
        *,
        idempotency_key,
        order_lines=None,
        shipping_info=None,
        description=None,
        reference=None,
    ):
        """Capture all or part of the authorization; returns Klarna's ``Capture-Id``."""
        body = {"captured_amount": arguments.positive_amount("captured_amount", captured_amount)}
        if order_lines is not None:
            body["order_lines"] = arguments.list_of_dicts("order_lines", order_lines)
        if shipping_info is not None:
            body["shipping_info"] = arguments.list_of_dicts("shipping_info", shipping_info)
        if arguments.optional_text("description", description) is not None:
            body["description"] = description
        if arguments.optional_text("reference", reference) is not None:
            body["reference"] = reference
        answer = self._order_call("POST", order_id, "captures", "capture", idempotency_key, body)
        return answer.header("Capture-Id")

    def refund(
        self,
        order_id,
        refunded_amount,
        *,
        idempotency_key,
        order_lines=None,
        description=None,
        reference=None,
    ):
        """Refund all or part of what was captured; returns Klarna's ``Refund-Id``."""
        body = {"refunded_amount": arguments.positive_amount("refunded_amount", refunded_amount)}
        if order_lines is not None:
            body["order_lines"] = arguments.list_of_dicts("order_lines", order_lines)
        if arguments.optional_text("description", description) is not None:
            body["description"] = description
        if arguments.optional_text("reference", reference) is not None:
            body["reference"] = reference
        answer = self._order_call("POST", order_id, "refunds", "refund", idempotency_key, body)
        return answer.header("Refund-Id")

    def cancel_order(self, order_id, *, idempotency_key):
        """Cancel an order that has no capture yet."""
        self._order_call("POST", order_id, "cancel", "order cancel", idempotency_key)

    def release_remaining_authorization(self, order_id, *, idempotency_key):
        """Give up the part of the authorization left after partial captures."""
        self._order_call(
            "POST", order_id, "release-remaining-authorization", "release", idempotency_key
        )

    def extend_authorization_time(self, order_id, *, idempotency_key):
        """Push back the authorization's expiry (28 days by default)."""
        self._order_call(
            "POST", order_id, "extend-authorization-time", "extension", idempotency_key
        )
