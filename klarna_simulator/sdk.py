"""Customer-facing pieces: the JS SDK stand-in, its two endpoints, the badge, the redirect page.

These need no Klarna credentials (a browser calls them) and answer with CORS
headers; the client token, an opaque random string mapped server-side, is
what identifies the session, as with the real widget.
"""

import html
import pathlib

from . import payments
from .errors import KlarnaError, bad_value
from .markets import CATEGORY_NAMES
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
        return Reply(
            error.status,
            {"error_messages": error.messages, "invalid_fields": error.invalid_fields},
        )
    return Reply(200, {"authorization_token": authorization.token})


def confirmation(sim, order_id):
    """Klarna's ``redirect_url`` hop: on to the order's ``merchant_urls.confirmation``."""
    order = sim.state.orders.get(order_id)
    url = order and (order.cart.get("merchant_urls") or {}).get("confirmation")
    if url:
        return redirect(url)
    return html_reply(f"<!DOCTYPE html><p>Klarna (simulator): {html.escape(order_id)} done.</p>")
