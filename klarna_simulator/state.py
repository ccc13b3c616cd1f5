"""What the simulated Klarna remembers, open to tests for assertions (``sim.state``).

Mutations happen under ``State.lock`` (the HTTP layer holds it for a whole
Klarna request); readers in tests may look without it.
"""

import dataclasses
import threading
from datetime import datetime

from .clock import iso
from .markets import CATEGORY_METHOD_TYPES

OPEN_STATUSES = ("AUTHORIZED", "PART_CAPTURED")


@dataclasses.dataclass
class Session:
    """A Klarna Payments session; ``authorization_token`` is the latest approval's.

    An ``express`` (Express Checkout) session keeps the total its shopper approved and
    the address Klarna collected.
    """

    session_id: str
    client_token: str
    cart: dict
    categories: list
    created_at: datetime
    expires_at: datetime
    authorization_token: str | None = None
    order_id: str | None = None
    express: bool = False
    approved_amount: int | None = None
    collected_address: dict | None = None

    @property
    def status(self):
        return "complete" if self.authorization_token else "incomplete"

    def to_api(self):
        answer = {
            **self.cart,
            "status": self.status,
            "client_token": self.client_token,
            "expires_at": iso(self.expires_at),
            "payment_method_categories": self.categories,
        }
        if self.authorization_token:
            answer["authorization_token"] = self.authorization_token
        return answer


@dataclasses.dataclass
class Authorization:
    """One approval in the widget: the cart it approved, usable once for an order."""

    token: str
    session_id: str
    cart: dict
    category: str
    created_at: datetime
    expires_at: datetime
    order_id: str | None = None
    customer_token: str | None = None
    cancelled: bool = False


@dataclasses.dataclass
class Capture:
    capture_id: str
    klarna_reference: str
    captured_amount: int
    captured_at: datetime
    description: str | None = None
    reference: str | None = None
    order_lines: list = dataclasses.field(default_factory=list)
    shipping_info: list = dataclasses.field(default_factory=list)

    def to_api(self):
        return {**_plain(self), "captured_at": iso(self.captured_at)}


@dataclasses.dataclass
class Refund:
    refund_id: str
    refunded_amount: int
    refunded_at: datetime
    description: str | None = None
    reference: str | None = None
    order_lines: list = dataclasses.field(default_factory=list)

    def to_api(self):
        return {**_plain(self), "refunded_at": iso(self.refunded_at)}


@dataclasses.dataclass
class Order:
    """An Order Management order; amounts are derived from captures and refunds."""

    order_id: str
    session_id: str
    authorization_token: str
    cart: dict
    category: str
    status: str
    fraud_status: str
    order_amount: int
    original_order_amount: int
    klarna_reference: str
    created_at: datetime
    expires_at: datetime
    merchant_reference1: str | None = None
    merchant_reference2: str | None = None
    captures: list = dataclasses.field(default_factory=list)
    refunds: list = dataclasses.field(default_factory=list)
    payment_status: str | None = None
    auto_capture: bool = False

    @property
    def captured_amount(self):
        return sum(capture.captured_amount for capture in self.captures)

    @property
    def refunded_amount(self):
        return sum(refund.refunded_amount for refund in self.refunds)

    @property
    def remaining_authorized_amount(self):
        if self.status not in OPEN_STATUSES:
            return 0
        return self.order_amount - self.captured_amount

    @property
    def notification_url(self):
        return (self.cart.get("merchant_urls") or {}).get("notification")

    def to_api(self):
        cart = self.cart
        return {
            "order_id": self.order_id,
            "status": self.status,
            "fraud_status": self.fraud_status,
            "order_amount": self.order_amount,
            "original_order_amount": self.original_order_amount,
            "captured_amount": self.captured_amount,
            "refunded_amount": self.refunded_amount,
            "remaining_authorized_amount": self.remaining_authorized_amount,
            "purchase_country": cart["purchase_country"],
            "purchase_currency": cart["purchase_currency"],
            "locale": cart["locale"],
            "order_lines": cart["order_lines"],
            "merchant_reference1": self.merchant_reference1,
            "merchant_reference2": self.merchant_reference2,
            "klarna_reference": self.klarna_reference,
            "billing_address": cart.get("billing_address"),
            "shipping_address": cart.get("shipping_address"),
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "captures": [capture.to_api() for capture in self.captures],
            "refunds": [refund.to_api() for refund in self.refunds],
            "initial_payment_method": {
                "type": CATEGORY_METHOD_TYPES.get(self.category, self.category)
            },
        }


@dataclasses.dataclass
class HppSession:
    hpp_id: str
    session_id: str
    merchant_urls: dict
    place_order_mode: str
    status: str
    created_at: datetime
    expires_at: datetime
    authorization_token: str | None = None
    order_id: str | None = None


@dataclasses.dataclass
class Delivery:
    """One outbound HTTP attempt (authorization callback, webhook or legacy notification)."""

    kind: str
    url: str
    body: dict
    headers: dict
    attempt: int
    at: str
    status: int | None = None
    error: str | None = None

    @property
    def delivered(self):
        return self.status is not None and 200 <= self.status < 300


class State:
    def __init__(self):
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        with self.lock:
            self.sessions = {}
            self.client_tokens = {}
            self.authorizations = {}
            self.orders = {}
            self.hpp_sessions = {}
            self.customer_tokens = {}
            self.events = []
            self.deliveries = []
            self.idempotency = {}
            # Calls to no Klarna endpoint (404/405): a caller building a wrong URL, e.g. from
            # an unchecked token with ``..`` in it.
            self.unrouted = []

    def record(self, delivery):
        with self.lock:
            self.deliveries.append(delivery)

    def record_unrouted(self, method, path):
        with self.lock:
            self.unrouted.append(f"{method} {path}")

    def deliveries_of(self, kind):
        with self.lock:
            return [delivery for delivery in self.deliveries if delivery.kind == kind]

    def snapshot(self):
        """Everything as JSON-ready data (``GET /_sim/state``)."""
        with self.lock:
            return {
                "sessions": {key: value.to_api() for key, value in self.sessions.items()},
                "authorizations": {
                    key: _plain(value) for key, value in self.authorizations.items()
                },
                "orders": {key: value.to_api() for key, value in self.orders.items()},
                "hpp_sessions": {key: _plain(value) for key, value in self.hpp_sessions.items()},
                "customer_tokens": dict(self.customer_tokens),
                "events": list(self.events),
                "deliveries": [
                    {**_plain(delivery), "delivered": delivery.delivered}
                    for delivery in self.deliveries
                ],
            }


def _plain(value):
    if dataclasses.is_dataclass(value):
        return {
            field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value
