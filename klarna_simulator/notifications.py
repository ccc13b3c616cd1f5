"""What Klarna sends on its own: authorization callbacks, webhooks, legacy notifications.

Everything goes through the outbox, so it leaves after the triggering answer.
"""

import time
import uuid

from .clock import iso
from .signing import signature_headers

FRAUD_EVENTS = {
    "ACCEPTED": "FRAUD_RISK_ACCEPTED",
    "REJECTED": "FRAUD_RISK_REJECTED",
    "STOPPED": "FRAUD_RISK_STOPPED",
}
TEST_IBAN = "DE02120300000000202051"


def send_authorization_callback(sim, session, token):
    """POST ``{authorization_token, session_id}`` to ``merchant_urls.authorization``."""
    url = (session.cart.get("merchant_urls") or {}).get("authorization")
    if url:
        body = {"authorization_token": token, "session_id": session.session_id}
        sim.outbox.send("callback", url, body)


def send_fraud_notification(sim, order, decision):
    """The unsigned legacy Order Management notification for a pending fraud decision."""
    if order.notification_url:
        body = {"order_id": order.order_id, "event_type": FRAUD_EVENTS[decision]}
        sim.outbox.send("notification", order.notification_url, body)


def emit_webhook(sim, event_type, payload):
    """Record a webhook event and send it, signed, to the configured URL (if any)."""
    event = {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "occurred_at": iso(sim.clock.now()),
        "payload": payload,
    }
    sim.state.events.append(event)
    config = sim.config
    if config.webhook_url:
        key = config.signing_key
        signer = None
        if key:
            scheme = config.webhook_scheme

            def signer(raw):
                return signature_headers(scheme, raw, key[0], key[1], int(time.time() * 1000))

        sim.outbox.send("webhook", config.webhook_url, event, signer=signer)
    return event


def payment_status_payload(sim, order):
    """``non_guaranteed_payment.updated`` payload for the order's current payment status."""
    address = order.cart.get("billing_address") or {}
    holder = " ".join(
        part for part in (address.get("given_name"), address.get("family_name")) if part
    )
    debtor = {"account_holder_name": holder or "Test Person", "iban": TEST_IBAN}
    payload = {
        "order_id": order.order_id,
        "created_at": iso(order.created_at),
        "purchase_currency": order.cart["purchase_currency"],
        "order_amount": order.order_amount,
        "payment_status": order.payment_status,
        "expected_payments": [{"payment_amount": order.order_amount, "debtor": debtor}],
    }
    if order.payment_status == "PAID":
        payload["payments"] = [
            {
                "payment_amount": order.order_amount,
                "debtor": debtor,
                "payment_received_at": iso(sim.clock.now()),
            }
        ]
    return payload


def emit_payment_status(sim, order, payment_status):
    order.payment_status = payment_status
    return emit_webhook(sim, "non_guaranteed_payment.updated", payment_status_payload(sim, order))
