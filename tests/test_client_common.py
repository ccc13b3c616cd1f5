"""Shared helpers for the ``test_client_*`` modules (no tests here)."""

import json

from klarna.client import KlarnaClient
from klarna.config import KlarnaConfig
from klarna.idempotency import operation_key
from klarna.lockout import LockoutGuard

USERNAME = "PK12345_a1b2c3d4e5f6"
PASSWORD = "S3cr3t-Pa55word!"
API = "https://api.playground.klarna.com"
ORDER_ID = "f3392f8b-6116-4073-ab96-e330819e2c07"
ORDERS = f"{API}/ordermanagement/v1/orders/{ORDER_ID}"
KEY = operation_key("S00042", "capture", 4000)


class FakeClock:
    """Monotonic clock the test moves by hand; ``sleep`` advances it too."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(clock=None, guard=None, **overrides):
    """Client on the EU playground with a private lockout guard and a fake clock."""
    clock = clock or FakeClock()
    settings = {"username": USERNAME, "password": PASSWORD, **overrides}
    return KlarnaClient(
        KlarnaConfig(**settings),
        sleep=clock.sleep,
        clock=clock,
        lockout=guard or LockoutGuard(clock=clock),
    )


def klarna_error(code, *messages, correlation_id="c0ffee00-1111-2222-3333-444455556666"):
    return {"error_code": code, "error_messages": list(messages), "correlation_id": correlation_id}


def sent_json(call):
    return json.loads(call.request.body)


ORDER_LINES = [
    {
        "type": "physical",
        "reference": "SKU-1",
        "name": "Desk lamp",
        "quantity": 2,
        "unit_price": 5000,
        "tax_rate": 2500,
        "total_amount": 10000,
        "total_discount_amount": 0,
        "total_tax_amount": 2000,
    }
]

ORDER_PAYLOAD = {
    "purchase_country": "SE",
    "purchase_currency": "SEK",
    "locale": "sv-SE",
    "order_amount": 10000,
    "order_tax_amount": 2000,
    "order_lines": ORDER_LINES,
    "merchant_reference1": "S00042",
}

ORDER_ANSWER = {
    "order_id": ORDER_ID,
    "status": "PART_CAPTURED",
    "fraud_status": "ACCEPTED",
    "order_amount": 10000,
    "captured_amount": 4000,
    "refunded_amount": 1000,
    "remaining_authorized_amount": 6000,
    "purchase_currency": "SEK",
    "expires_at": "2025-03-01T10:00:00.000Z",
    "captures": [
        {
            "capture_id": "cap-1",
            "captured_amount": 4000,
            "captured_at": "2025-02-01T10:00:00.000Z",
            "refunded_amount": 1000,
            "reference": "S00042-C1",
            "description": "First parcel",
        }
    ],
    "refunds": [
        {
            "refund_id": "ref-1",
            "refunded_amount": 1000,
            "refunded_at": "2025-02-02T10:00:00.000Z",
            "reference": "RS00042",
            "description": "Broken lamp",
        }
    ],
}
