"""What the client returns: small immutable values instead of HTTP responses.

Callers (the Odoo models) depend on these fields only, so Klarna's wire format
stays inside this package. Amounts are integers in minor units. Tokens and the
``raw`` answers (which hold addresses and names) are left out of ``repr`` so
that logging a result cannot leak them.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PaymentMethodCategory:
    """One widget category offered for a session (``pay_now``, ``pay_later``...)."""

    identifier: str
    name: str | None
    descriptive_asset_url: str | None
    standard_asset_url: str | None


@dataclass(frozen=True)
class PaymentSession:
    """A new Klarna Payments session; ``client_token`` initialises the widget."""

    session_id: str
    client_token: str = field(repr=False)
    payment_method_categories: tuple[PaymentMethodCategory, ...]


@dataclass(frozen=True)
class SessionStatus:
    """A session read back, e.g. to recover a lost authorization callback.

    ``status`` is ``complete`` or ``incomplete``; ``authorization_token`` is set
    once the customer authorized.
    """

    session_id: str
    status: str
    authorization_token: str | None = field(repr=False)
    expires_at: str | None
    order_amount: int | None
    purchase_currency: str | None
    raw: dict = field(repr=False, compare=False)


@dataclass(frozen=True)
class PlacedOrder:
    """The order created from an authorization.

    ``fraud_status`` is ``ACCEPTED``, ``PENDING`` or ``REJECTED``;
    ``authorized_payment_method`` is its ``type`` (``invoice``, ``card``...).
    """

    order_id: str
    fraud_status: str
    redirect_url: str | None = field(repr=False)
    authorized_payment_method: str | None


@dataclass(frozen=True)
class HppSession:
    """A Hosted Payment Page session; send the customer to ``redirect_url``."""

    session_id: str
    redirect_url: str = field(repr=False)
    session_url: str | None
    expires_at: str | None


@dataclass(frozen=True)
class Capture:
    capture_id: str
    captured_amount: int
    captured_at: str | None
    refunded_amount: int | None
    reference: str | None
    description: str | None


@dataclass(frozen=True)
class Refund:
    refund_id: str
    refunded_amount: int
    refunded_at: str | None
    reference: str | None
    description: str | None


@dataclass(frozen=True)
class KlarnaOrder:
    """An Order Management order.

    ``status`` is ``AUTHORIZED``, ``PART_CAPTURED``, ``CAPTURED``, ``CANCELLED``,
    ``EXPIRED`` or ``CLOSED``.
    """

    order_id: str
    status: str
    fraud_status: str | None
    order_amount: int
    captured_amount: int
    refunded_amount: int
    remaining_authorized_amount: int
    purchase_currency: str
    expires_at: str | None
    captures: tuple[Capture, ...]
    refunds: tuple[Refund, ...]
    raw: dict = field(repr=False, compare=False)
