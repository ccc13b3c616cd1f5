"""Customer-facing pieces: the JS SDK stand-in and its endpoints, the badge, the redirect page.

These need no Klarna credentials (a browser calls them) and answer with CORS
headers; the client token, mapped server-side, is what identifies the session, as
with the real widget. Express Checkout starts without one: the public client id
names the merchant instead.
"""

import html
import pathlib

from . import payments
from .addresses import CHOICES
from .errors import KlarnaError, bad_value
from .markets import CATEGORY_NAMES
from .osm import require_client
from .reply import Reply, redirect
from .reply import html as html_reply

SCRIPT = (pathlib.Path(__file__).parent / "sdk.js").read_bytes()
BADGE = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="80" height="32" viewBox="0 0 80 32">'
    b'<rect width="80" height="32" rx="6" fill="#ffb3c7"/>'
    b'<text x="40" y="21" font-family="sans-serif" font-size="14" text-anchor="middle">'
    b"Klarna</text></svg>"
)


def script():
    return Reply(200, SCRIPT, content_type="application/javascript; charset=utf-8")


def badge():
    return Reply(200, BADGE, content_type="image/svg+xml")


def _fields(body):
    if not isinstance(body, dict) or not isinstance(body.get("client_token"), str):
        raise bad_value([("client_token", "is required")])
    return body["client_token"], body.get("payment_method_category")


def load(sim, body):
    client_token, category = _fields(body)
    try:
        session = payments.session_for_client_token(sim, client_token)
    except KlarnaError:
        return Reply(200, {"show_form": False})
    if category not in session.categories:
        return Reply(200, {"show_form": False})
    return Reply(
        200,
        {
            "show_form": True,
            "name": CATEGORY_NAMES[category],
            "order_amount": session.cart["order_amount"],
            "purchase_currency": session.cart["purchase_currency"],
        },
    )


def authorize(sim, body):
    """Approve; a cart Klarna would reject answers 400 with the widget's ``invalid_fields``."""
    client_token, category = _fields(body)
    session = payments.session_for_client_token(sim, client_token)
    try:
        authorization = payments.authorize(sim, session, category, body.get("data"))
    except KlarnaError as error:
        return _refusal(error)
    return Reply(200, {"authorization_token": authorization.token})


def _refusal(error):
    """A refusal as the widget sees it: the messages and the ``invalid_fields``."""
    return Reply(
        error.status, {"error_messages": error.messages, "invalid_fields": error.invalid_fields}
    )


def express_authorize(sim, body):
    """Express Checkout's pop-up approved: the payload becomes a session.

    With ``auto_finalize`` (Klarna's default) it is authorized at once; without, the
    answer has no token but ``finalize_required`` and a later finalize authorizes.
    """
    try:
        session, auto_finalize = _express_session(sim, body)
        token = None
        if auto_finalize:
            token = payments.authorize(sim, session, payments.EXPRESS_CATEGORY).token
    except KlarnaError as error:
        return _refusal(error)
    answer = {
        "approved": True,
        "show_form": True,
        "finalize_required": not auto_finalize,
        "client_token": session.client_token,
        "collected_shipping_address": session.collected_address,
        "payment_method_categories": [payments.category_entry(sim, payments.EXPRESS_CATEGORY)],
    }
    if token:
        answer["authorization_token"] = token
    return Reply(200, answer)


def _express_session(sim, body):
    if not isinstance(body, dict):
        raise bad_value([("body", "must be a JSON object")])
    require_client(sim, body.get("client_id"))
    options = body.get("options") or {}
    auto_finalize = options.get("auto_finalize", True) if isinstance(options, dict) else None
    address = body.get("address", "default")
    problems = []
    if not isinstance(auto_finalize, bool):
        problems.append(("options.auto_finalize", "must be true or false"))
    if address not in CHOICES:
        problems.append(("address", f"must be one of {list(CHOICES)}"))
    if problems:
        raise bad_value(problems)
    return payments.open_express_session(sim, body.get("payload"), address), auto_finalize


def finalize(sim, body):
    """``Klarna.Payments.finalize``: a token, or ``reauthorize_required`` for a new total."""
    try:
        client_token, _ = _fields(body)
        session = payments.session_for_client_token(sim, client_token)
        authorization = payments.finalize(
            sim, session, body.get("data"), confirm=body.get("confirm") is True
        )
    except KlarnaError as error:
        return _refusal(error)
    if authorization is None:
        cart = {**session.cart, **body["data"]}
        return Reply(
            200,
            {
                "reauthorize_required": True,
                "order_amount": cart["order_amount"],
                "purchase_currency": cart["purchase_currency"],
            },
        )
    return Reply(200, {"authorization_token": authorization.token})


def confirmation(sim, order_id):
    """Klarna's ``redirect_url`` hop: on to the order's ``merchant_urls.confirmation``."""
    order = sim.state.orders.get(order_id)
    url = order and (order.cart.get("merchant_urls") or {}).get("confirmation")
    if url:
        return redirect(url)
    return html_reply(f"<!DOCTYPE html><p>Klarna (simulator): {html.escape(order_id)} done.</p>")
