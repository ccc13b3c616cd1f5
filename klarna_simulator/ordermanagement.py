"""Order Management v1: the order's life after placement, with Klarna's limits and state rules."""

import secrets
import uuid
from datetime import timedelta

from . import notifications
from .errors import bad_value, not_allowed, not_found
from .reply import Reply
from .state import OPEN_STATUSES, Capture, Order, Refund
from .validation import amount_problems, ensure, lines_problems, part_problems

AUTHORIZATION_LIFETIME = timedelta(days=28)
MAX_AUTHORIZATION_AGE = timedelta(days=180)
MAGIC_FRAUD = (("+rejected", "REJECTED"), ("+pending", "PENDING"))


def fraud_outcome(sim, body, authorization):
    """Magic e-mails pick the outcome: ``+rejected`` / ``+pending``; else the configured one."""
    for cart in (body, authorization.cart):
        email = str((cart.get("billing_address") or {}).get("email") or "").lower()
        for marker, status in MAGIC_FRAUD:
            if marker in email:
                return status
    return sim.config.fraud_status


def create_order(sim, authorization, body, *, auto_capture):
    now = sim.clock.now()
    fraud_status = fraud_outcome(sim, body, authorization)
    cart = {key: value for key, value in body.items() if key != "auto_capture"}
    order = Order(
        order_id=str(uuid.uuid4()),
        session_id=authorization.session_id,
        authorization_token=authorization.token,
        cart={**authorization.cart, **cart},
        category=authorization.category,
        status="CANCELLED" if fraud_status == "REJECTED" else "AUTHORIZED",
        fraud_status=fraud_status,
        order_amount=body["order_amount"],
        original_order_amount=body["order_amount"],
        klarna_reference=secrets.token_hex(4).upper(),
        created_at=now,
        expires_at=now + AUTHORIZATION_LIFETIME,
        merchant_reference1=body.get("merchant_reference1"),
        merchant_reference2=body.get("merchant_reference2"),
        auto_capture=auto_capture,
    )
    sim.state.orders[order.order_id] = order
    authorization.order_id = order.order_id
    sim.state.sessions[authorization.session_id].order_id = order.order_id
    if auto_capture and fraud_status == "ACCEPTED":
        capture_remaining(sim, order)
    if order.category == "pay_now" and fraud_status != "REJECTED":
        notifications.emit_payment_status(sim, order, "UNPAID")
        if sim.config.pay_now_auto_paid:
            notifications.emit_payment_status(sim, order, "PAID")
    return order


def find_order(sim, order_id):
    """The order, after applying authorization expiry at the simulated time."""
    order = sim.state.orders.get(order_id)
    if order is None:
        raise not_found(f"Order {order_id}")
    if order.status in OPEN_STATUSES and sim.clock.now() >= order.expires_at:
        # An unused authorization expires; a partly captured one keeps what was captured.
        order.status = "CAPTURED" if order.captures else "EXPIRED"
    return order


def read_order(sim, order_id):
    return Reply(200, find_order(sim, order_id).to_api())


def add_capture(order, amount, now, body=None):
    body = body or {}
    capture = Capture(
        capture_id=str(uuid.uuid4()),
        klarna_reference=secrets.token_hex(4).upper(),
        captured_amount=amount,
        captured_at=now,
        description=body.get("description"),
        reference=body.get("reference"),
        order_lines=body.get("order_lines") or [],
        shipping_info=body.get("shipping_info") or [],
    )
    order.captures.append(capture)
    order.status = "CAPTURED" if order.captured_amount == order.order_amount else "PART_CAPTURED"
    return capture


def capture_remaining(sim, order):
    return add_capture(order, order.remaining_authorized_amount, sim.clock.now())


def capture(sim, order_id, body):
    order = find_order(sim, order_id)
    ensure(part_problems(body, "captured_amount", us=_us(order)))
    if not isinstance(body.get("shipping_info", []), list):
        raise bad_value([("shipping_info", "must be a list")])
    if order.status not in OPEN_STATUSES:
        raise not_allowed("CAPTURE_NOT_ALLOWED", f"Cannot capture an order that is {order.status}")
    if order.fraud_status != "ACCEPTED":
        raise not_allowed(
            "CAPTURE_NOT_ALLOWED", f"Cannot capture while fraud_status is {order.fraud_status}"
        )
    if body["captured_amount"] > order.remaining_authorized_amount:
        raise not_allowed(
            "CAPTURE_NOT_ALLOWED",
            f"captured_amount {body['captured_amount']} exceeds the remaining authorized "
            f"amount {order.remaining_authorized_amount}",
        )
    new = add_capture(order, body["captured_amount"], sim.clock.now(), body)
    return Reply(201, headers=_created(order, "captures", new.capture_id, "Capture-Id"))


def refund(sim, order_id, body):
    order = find_order(sim, order_id)
    ensure(part_problems(body, "refunded_amount", us=_us(order)))
    refundable = order.captured_amount - order.refunded_amount
    if not order.captures:
        raise not_allowed("REFUND_NOT_ALLOWED", "Nothing has been captured on this order")
    if body["refunded_amount"] > refundable:
        raise not_allowed(
            "REFUND_NOT_ALLOWED",
            f"refunded_amount {body['refunded_amount']} exceeds captured minus refunded "
            f"({refundable})",
        )
    new = add_refund(sim, order, body["refunded_amount"], body)
    return Reply(201, headers=_created(order, "refunds", new.refund_id, "Refund-Id"))


def add_refund(sim, order, amount, body=None):
    body = body or {}
    new = Refund(
        refund_id=str(uuid.uuid4()),
        refunded_amount=amount,
        refunded_at=sim.clock.now(),
        description=body.get("description"),
        reference=body.get("reference"),
        order_lines=body.get("order_lines") or [],
    )
    order.refunds.append(new)
    if order.refunded_amount == order.captured_amount and order.remaining_authorized_amount == 0:
        order.status = "CLOSED"
    return new


def cancel(sim, order_id):
    order = find_order(sim, order_id)
    if order.captures:
        raise not_allowed("CANCEL_NOT_ALLOWED", "Cannot cancel an order with captures")
    if order.status != "AUTHORIZED":
        raise not_allowed("CANCEL_NOT_ALLOWED", f"Cannot cancel an order that is {order.status}")
    order.status = "CANCELLED"
    return Reply(204)


def release_remaining(sim, order_id):
    order = find_order(sim, order_id)
    if order.status != "PART_CAPTURED":
        raise not_allowed(
            "NOT_ALLOWED", f"Release needs a partly captured order; this one is {order.status}"
        )
    order.status = "CAPTURED"
    return Reply(204)


def extend_authorization(sim, order_id):
    """Klarna's rule: expiry becomes now + 28 days, at most 180 days after creation."""
    order = find_order(sim, order_id)
    if order.status not in OPEN_STATUSES:
        raise not_allowed("NOT_ALLOWED", f"Cannot extend an order that is {order.status}")
    limit = order.created_at + MAX_AUTHORIZATION_AGE
    if order.expires_at >= limit:
        raise not_allowed("NOT_ALLOWED", "The authorization cannot last beyond 180 days")
    order.expires_at = max(order.expires_at, min(sim.clock.now() + AUTHORIZATION_LIFETIME, limit))
    return Reply(204)


def update_authorization(sim, order_id, body):
    """New order amount (and lines) before any capture; increases are declined."""
    order = find_order(sim, order_id)
    if not isinstance(body, dict):
        raise bad_value([("body", "must be a JSON object")])
    problems = amount_problems(body, "order_amount")
    if "order_lines" in body and not problems:
        problems = lines_problems(body["order_lines"], us=_us(order))
        total = sum(line["total_amount"] for line in body["order_lines"]) if not problems else 0
        if not problems and total != body["order_amount"]:
            problems.append(("order_amount", f"must equal sum(order_lines.total_amount) = {total}"))
    ensure(problems)
    if order.status != "AUTHORIZED" or order.captures:
        raise not_allowed(
            "NOT_ALLOWED", f"The amount can only change before capture; order is {order.status}"
        )
    if body["order_amount"] > order.original_order_amount:
        raise not_allowed(
            "NOT_ALLOWED",
            f"Increase to {body['order_amount']} declined: above the authorized "
            f"{order.original_order_amount}",
        )
    order.order_amount = body["order_amount"]
    if "order_lines" in body:
        order.cart["order_lines"] = body["order_lines"]
    return Reply(204)


def update_merchant_references(sim, order_id, body):
    order = find_order(sim, order_id)
    allowed = ("merchant_reference1", "merchant_reference2")
    if not isinstance(body, dict):
        raise bad_value([("body", "must be a JSON object")])
    problems = [(key, "is not a merchant reference field") for key in body if key not in allowed]
    problems += [
        (key, "must be a string of at most 255 characters")
        for key in allowed
        if key in body and not (isinstance(body[key], str) and len(body[key]) <= 255)
    ]
    ensure(problems)
    for key in allowed:
        if key in body:
            setattr(order, key, body[key])
    return Reply(204)


def find_capture(order, capture_id):
    for item in order.captures:
        if item.capture_id == capture_id:
            return item
    raise not_found(f"Capture {capture_id}")


def read_capture(sim, order_id, capture_id):
    return Reply(200, find_capture(find_order(sim, order_id), capture_id).to_api())


def read_refund(sim, order_id, refund_id):
    for item in find_order(sim, order_id).refunds:
        if item.refund_id == refund_id:
            return Reply(200, item.to_api())
    raise not_found(f"Refund {refund_id}")


def add_shipping_info(sim, order_id, capture_id, body):
    target = find_capture(find_order(sim, order_id), capture_id)
    info = body.get("shipping_info") if isinstance(body, dict) else None
    if not isinstance(info, list) or not info or not all(isinstance(i, dict) for i in info):
        raise bad_value([("shipping_info", "must be a non-empty list of objects")])
    ensure(
        [
            (f"shipping_info[{index}].{key}", "must be a string of at most 100 characters")
            for index, item in enumerate(info)
            for key, value in item.items()
            if key in ("shipping_company", "tracking_number", "shipping_method")
            and not (isinstance(value, str) and len(value) <= 100)
        ]
    )
    target.shipping_info.extend(info)
    return Reply(204)


def resolve_fraud(sim, order_id, decision):
    """Settle a fraud decision and send the legacy notification for it.

    ``ACCEPTED``/``REJECTED`` settle a ``PENDING`` order; ``STOPPED`` withdraws an
    accepted, uncaptured one (do not ship).
    """
    order = find_order(sim, order_id)
    if decision not in notifications.FRAUD_EVENTS:
        raise ValueError(f"decision must be one of {sorted(notifications.FRAUD_EVENTS)}")
    if decision == "STOPPED":
        if order.fraud_status != "ACCEPTED" or order.captures:
            raise ValueError("STOPPED applies to an accepted order without captures")
    elif order.fraud_status != "PENDING":
        raise ValueError(f"the order's fraud_status is {order.fraud_status}, not PENDING")
    if decision == "ACCEPTED":
        order.fraud_status = "ACCEPTED"
        if order.auto_capture and order.status in OPEN_STATUSES:
            capture_remaining(sim, order)
    else:
        order.fraud_status = "REJECTED"
        order.status = "CANCELLED"
    notifications.send_fraud_notification(sim, order, decision)
    return order


def close_payment(sim, order):
    """Payment status CLOSED (unpaid pay-now): Klarna cancels, or refunds what was captured."""
    if order.captures:
        if order.status in OPEN_STATUSES:
            order.status = "CAPTURED"
        refundable = order.captured_amount - order.refunded_amount
        if refundable:
            add_refund(sim, order, refundable, {"description": "payment not received"})
    elif order.status in OPEN_STATUSES:
        order.status = "CANCELLED"


def _us(order):
    return order.cart["purchase_country"] == "US"


def _created(order, collection, item_id, id_header):
    location = f"/ordermanagement/v1/orders/{order.order_id}/{collection}/{item_id}"
    return {id_header: item_id, "Location": location}
