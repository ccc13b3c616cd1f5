"""Run-time settings, set at start and changeable through ``POST /_sim/config``."""

import dataclasses
import re

from .markets import CATEGORY_NAMES
from .signing import SCHEMES

FRAUD_STATUSES = ("ACCEPTED", "PENDING", "REJECTED")
DEFAULT_CATEGORIES = ("pay_later", "pay_over_time", "pay_now")
# The shape of the client identifiers seen in public code (Klarna documents none).
CLIENT_ID = re.compile(r"^klarna_(test|live)_client_[A-Za-z0-9_-]+$")


@dataclasses.dataclass
class Config:
    """``signing_keys`` maps key id to secret; the last one signs (the newest after rotation).

    ``client_id`` is the merchant's public client identifier: On-Site Messaging and
    Express Checkout name the merchant with it in the browser, and any other is refused
    (as Klarna refuses an origin not allow-listed for it).
    ``fraud_status`` is the outcome of orders without a magic e-mail;
    ``retry_delay``/``max_attempts`` are Klarna's callback retry rule (1 s, 3 attempts),
    shortened in tests; ``reorder_hold`` bounds how long a ``reorder`` fault holds a delivery.
    """

    username: str
    password: str = dataclasses.field(repr=False)
    webhook_url: str | None = None
    signing_keys: dict = dataclasses.field(default_factory=dict, repr=False)
    webhook_scheme: str = "payload-signature"
    fraud_status: str = "ACCEPTED"
    payment_method_categories: list = dataclasses.field(
        default_factory=lambda: list(DEFAULT_CATEGORIES)
    )
    pay_now_auto_paid: bool = True
    retry_delay: float = 1.0
    max_attempts: int = 3
    delivery_timeout: float = 2.0
    reorder_hold: float = 5.0
    client_id: str = "klarna_test_client_simulator"

    # Settings a running simulator may change (credentials may not).
    CHANGEABLE = (
        "webhook_url",
        "signing_keys",
        "webhook_scheme",
        "fraud_status",
        "payment_method_categories",
        "pay_now_auto_paid",
        "retry_delay",
        "max_attempts",
        "delivery_timeout",
        "reorder_hold",
        "client_id",
    )

    def __post_init__(self):
        self.check()

    @property
    def signing_key(self):
        """``(key id, secret)`` that signs webhooks, or None (webhooks then go unsigned)."""
        if not self.signing_keys:
            return None
        return list(self.signing_keys.items())[-1]

    @property
    def environment(self):
        """Where the client identifier belongs: a test one is the playground's."""
        return "playground" if self.client_id.startswith("klarna_test_") else "production"

    def update(self, changes):
        """Apply a dict of changes atomically: all valid, or nothing changes."""
        unknown = set(changes) - set(self.CHANGEABLE)
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)}; changeable: {self.CHANGEABLE}")
        candidate = dataclasses.replace(self, **changes)
        for name in self.CHANGEABLE:
            setattr(self, name, getattr(candidate, name))

    def check(self):
        if not self.username or not self.password:
            raise ValueError("username and password are required")
        if self.webhook_url is not None and not re.match(r"^https?://", str(self.webhook_url)):
            raise ValueError("webhook_url must be an http(s) URL")
        if not isinstance(self.signing_keys, dict) or not all(
            isinstance(key, str) and key and isinstance(secret, str) and secret
            for key, secret in self.signing_keys.items()
        ):
            raise ValueError("signing_keys maps non-empty key ids to non-empty secrets")
        if self.webhook_scheme not in SCHEMES:
            raise ValueError(f"webhook_scheme must be one of {SCHEMES}")
        if self.fraud_status not in FRAUD_STATUSES:
            raise ValueError(f"fraud_status must be one of {FRAUD_STATUSES}")
        categories = self.payment_method_categories
        if (
            not isinstance(categories, list)
            or not categories
            or not set(categories) <= set(CATEGORY_NAMES)
        ):
            raise ValueError(
                f"payment_method_categories must be a non-empty list from {list(CATEGORY_NAMES)}"
            )
        if not isinstance(self.client_id, str) or not CLIENT_ID.fullmatch(self.client_id):
            raise ValueError(f"client_id must match {CLIENT_ID.pattern}")
        if type(self.max_attempts) is not int or self.max_attempts < 1:
            raise ValueError("max_attempts must be a positive integer")
        for name in ("retry_delay", "delivery_timeout", "reorder_hold"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative number of seconds")
