"""Klarna Payments v1: sessions, widget approvals, orders from authorizations, customer tokens."""

import base64
import json
import secrets
import uuid
from datetime import timedelta

from . import notifications, ordermanagement
from .addresses import collected_address
from .errors import KlarnaError, bad_value, not_allowed, not_found
from .markets import CATEGORY_METHOD_TYPES, CATEGORY_NAMES
from .reply import Reply
from .state import Authorization, Session
from .validation import ensure, order_problems

SESSION_LIFETIME = timedelta(hours=48)
TOKEN_LIFETIME = timedelta(minutes=60)
# The one category an Express Checkout session offers (what Klarna's answer names).
EXPRESS_CATEGORY = "klarna"
# Fields of the order that must repeat the authorized cart exactly.
MUST_MATCH = (
    "purchase_country",
    "purchase_currency",
    "order_amount",
    "order_tax_amount",
    "order_lines",
)


def category_entry(sim, identifier):
    badge = f"{sim.url}/assets/klarna-badge.svg"
    return {
        "identifier": identifier,
        "name": CATEGORY_NAMES[identifier],
        "asset_urls": {"descriptive": badge, "standard": badge},
    }


def create_session(sim, body):
    ensure(order_problems(body))
    session = _open_session(
        sim, body, list(sim.config.payment_method_categories), lambda _: secrets.token_urlsafe(32)
    )
    return Reply(
        200,
        {
            "session_id": session.session_id,
            "client_token": session.client_token,
            "payment_method_categories": [category_entry(sim, c) for c in session.categories],
        },
    )


def _open_session(sim, cart, categories, client_token, **extra):
    """Store a session for a validated ``cart``; ``client_token(session_id)`` makes its token."""
    now = sim.clock.now()
    session_id = str(uuid.uuid4())
    session = Session(
        session_id=session_id,
        client_token=client_token(session_id),
        cart={"intent": "buy", **cart},
        categories=categories,
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
        **extra,
    )
    sim.state.sessions[session.session_id] = session
    sim.state.client_tokens[session.client_token] = session.session_id
    return session


def open_express_session(sim, cart, address_choice):
    """Express Checkout's authorize, which has no server-side session: the payload makes one.

    Its client token is a JWT naming the session, as Klarna's are, so a merchant can tie a
    browser's token to the session (and read it back with ``GET /payments/v1/sessions/{id}``).
    """
    ensure(order_problems(cart))
    country = cart["purchase_country"]
    return _open_session(
        sim,
        cart,
        [EXPRESS_CATEGORY],
        lambda session_id: _client_jwt(sim, session_id, country),
        express=True,
        approved_amount=cart["order_amount"],
        collected_address=collected_address(country, address_choice),
    )


def _client_jwt(sim, session_id, purchase_country):
    header = {"alg": "RS256", "typ": "JWT", "kid": "klarna-simulator"}
    claims = {
        "session_id": session_id,
        "purchase_country": purchase_country,
        "environment": sim.config.environment,
        "base_url": sim.url,
    }
    parts = [_base64url(json.dumps(part).encode()) for part in (header, claims)]
    return ".".join([*parts, _base64url(secrets.token_bytes(32))])


def _base64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def live_session(sim, session_id):
    session = sim.state.sessions.get(session_id)
    if session is None:
        raise not_found(f"Payment session {session_id}")
    if sim.clock.now() >= session.expires_at:
        raise KlarnaError(404, "NOT_FOUND", f"Payment session {session_id} has expired")
    return session


def session_for_client_token(sim, client_token):
    session_id = sim.state.client_tokens.get(client_token)
    if session_id is None:
        raise not_found("Client token")
    return live_session(sim, session_id)


def update_session(sim, session_id, body):
    session = live_session(sim, session_id)
    if not isinstance(body, dict):
        raise bad_value([("body", "must be a JSON object")])
    cart = {**session.cart, **body}
    ensure(order_problems(cart))
    session.cart = cart
    return Reply(204)


def read_session(sim, session_id):
    return Reply(200, live_session(sim, session_id).to_api())


def authorize(sim, session, category, data=None):
    """The customer approves in the widget: validate the (updated) cart, issue a token.

    ``data`` is the SDK's ``authorize()`` data argument and updates the cart like
    Klarna's widget does. The authorization callback leaves afterwards.
    """
    if category not in session.categories:
        raise bad_value([("payment_method_category", f"{category!r} is not offered")])
    if data is not None and not isinstance(data, dict):
        raise bad_value([("data", "must be an object")])
    cart = {**session.cart, **(data or {})}
    ensure(order_problems(cart))
    now = sim.clock.now()
    authorization = Authorization(
        token=str(uuid.uuid4()),
        session_id=session.session_id,
        cart=cart,
        category=category,
        created_at=now,
        expires_at=now + TOKEN_LIFETIME,
    )
    session.cart = cart
    session.authorization_token = authorization.token
    sim.state.authorizations[authorization.token] = authorization
    notifications.send_authorization_callback(sim, session, authorization.token)
    return authorization


def finalize(sim, session, data, confirm=False):
    """Express Checkout's finalize: the re-priced cart ``data`` becomes the session's and is
    authorized, so the order must repeat it.

    A total other than the one the shopper approved needs the shopper's ``confirm``;
    without it the answer is None (Klarna shows its pop-up again).
    """
    if not session.express or session.authorization_token:
        raise not_allowed(
            "FINALIZE_NOT_ALLOWED", "Only an express session awaiting finalize can be finalized"
        )
    if not isinstance(data, dict):
        raise bad_value([("data", "must be an object")])
    cart = {**session.cart, **data}
    ensure(order_problems(cart))
    if cart["order_amount"] != session.approved_amount and not confirm:
        return None
    session.approved_amount = cart["order_amount"]
    return authorize(sim, session, EXPRESS_CATEGORY, data)


def usable_authorization(sim, token):
    authorization = sim.state.authorizations.get(token)
    if authorization is None or authorization.cancelled:
        raise not_found(f"Authorization {token}")
    if sim.clock.now() >= authorization.expires_at:
        raise KlarnaError(404, "NOT_FOUND", f"Authorization {token} has expired (60 minutes)")
    return authorization


def place_order(sim, token, body):
    authorization = usable_authorization(sim, token)
    if authorization.order_id:
        raise KlarnaError(
            409, "CONFLICT", f"Authorization already used for order {authorization.order_id}"
        )
    ensure(order_problems(body))
    if authorization.cart.get("intent") == "tokenize":
        raise bad_value([("intent", "a tokenize-only session cannot place an order")])
    ensure(
        [
            (name, "differs from the authorized session's cart")
            for name in MUST_MATCH
            if body[name] != authorization.cart[name]
        ]
    )
    auto_capture = body.get("auto_capture", False)
    if not isinstance(auto_capture, bool):
        raise bad_value([("auto_capture", "must be true or false")])
    order = ordermanagement.create_order(sim, authorization, body, auto_capture=auto_capture)
    return Reply(
        200,
        {
            "order_id": order.order_id,
            "redirect_url": f"{sim.url}/kp/confirmation/{order.order_id}",
            "fraud_status": order.fraud_status,
            "authorized_payment_method": {"type": CATEGORY_METHOD_TYPES[order.category]},
        },
    )


def cancel_authorization(sim, token):
    authorization = usable_authorization(sim, token)
    if authorization.order_id:
        raise not_found(f"Authorization {token} (it became order {authorization.order_id})")
    authorization.cancelled = True
    return Reply(204)


def create_customer_token(sim, token, body):
    authorization = usable_authorization(sim, token)
    if authorization.cart.get("intent") not in ("tokenize", "buy_and_tokenize"):
        raise bad_value([("intent", "the session's intent must be tokenize or buy_and_tokenize")])
    if authorization.customer_token:
        raise KlarnaError(409, "CONFLICT", "A customer token exists for this authorization")
    problems = [
        (name, "is required")
        for name in ("purchase_country", "purchase_currency", "locale")
        if not isinstance(body, dict) or name not in body
    ]
    ensure(problems)
    ensure(
        [
            (name, "differs from the authorized session")
            for name in ("purchase_country", "purchase_currency")
            if body[name] != authorization.cart[name]
        ]
    )
    token_id = str(uuid.uuid4())
    authorization.customer_token = token_id
    method_type = CATEGORY_METHOD_TYPES[authorization.category].upper()
    sim.state.customer_tokens[token_id] = {
        "token_id": token_id,
        "status": "ACTIVE",
        "session_id": authorization.session_id,
        "payment_method_type": method_type,
        "description": body.get("description"),
        "intended_use": body.get("intended_use"),
    }
    return Reply(
        200,
        {
            "token_id": token_id,
            "redirect_url": f"{sim.url}/kp/confirmation/{token_id}",
            "billing_address": authorization.cart.get("billing_address"),
            "payment_method_type": method_type,
        },
    )
