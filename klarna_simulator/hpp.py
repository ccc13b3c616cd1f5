"""Hosted Payment Page: the API and a simulated page with Approve / Cancel / Fail buttons.

The page at ``/hpp/{id}`` is what the customer's browser opens; each button
posts back and is answered with a redirect to the matching merchant URL, with
``{{session_id}}`` (the HPP session id), ``{{authorization_token}}`` and
``{{order_id}}`` filled in.
"""

import html
import uuid
from datetime import timedelta

from . import ordermanagement, payments
from .clock import iso
from .errors import not_found
from .markets import CATEGORY_NAMES
from .reply import Reply, redirect
from .reply import html as html_reply
from .state import HppSession
from .validation import ensure

URL_KEYS = ("success", "cancel", "back", "failure", "error", "status_update")
PLACE_ORDER_MODES = ("NONE", "PLACE_ORDER", "CAPTURE_ORDER")
OPEN_STATUSES = ("WAITING", "IN_PROGRESS")
# Where each button sends the customer, in order of preference.
TARGETS = {
    "approve": ("COMPLETED", ("success",)),
    "cancel": ("CANCELLED", ("cancel", "back")),
    "fail": ("FAILED", ("failure", "error")),
}


def create_hpp(sim, body):
    body = body if isinstance(body, dict) else {}
    url = body.get("payment_session_url")
    if not isinstance(url, str) or "/payments/v1/sessions/" not in url:
        ensure([("payment_session_url", "must be the URL of a Klarna Payments session")])
    session = sim.state.sessions.get(url.rstrip("/").rsplit("/", 1)[-1])
    if session is None or sim.clock.now() >= session.expires_at:
        ensure([("payment_session_url", "does not point to a live payment session")])
    urls = body.get("merchant_urls") or {}
    options = body.get("options") or {}
    problems = [
        (f"merchant_urls.{key}", "is not an HPP merchant URL")
        for key in urls
        if key not in URL_KEYS
    ]
    problems += [
        (f"merchant_urls.{key}", "must be an absolute http(s) URL")
        for key, value in urls.items()
        if not (isinstance(value, str) and value.startswith(("http://", "https://")))
    ]
    mode = options.get("place_order_mode", "NONE")
    if mode not in PLACE_ORDER_MODES:
        problems.append(("options.place_order_mode", f"must be one of {PLACE_ORDER_MODES}"))
    ensure(problems)
    hpp = HppSession(
        hpp_id=str(uuid.uuid4()),
        session_id=session.session_id,
        merchant_urls=dict(urls),
        place_order_mode=mode,
        status="WAITING",
        created_at=sim.clock.now(),
        expires_at=session.expires_at - timedelta(hours=1),
    )
    sim.state.hpp_sessions[hpp.hpp_id] = hpp
    return Reply(
        201,
        {
            "session_id": hpp.hpp_id,
            "session_url": f"{sim.url}/hpp/v1/sessions/{hpp.hpp_id}",
            "redirect_url": f"{sim.url}/hpp/{hpp.hpp_id}",
            "expires_at": iso(hpp.expires_at),
        },
    )


def find_hpp(sim, hpp_id):
    hpp = sim.state.hpp_sessions.get(hpp_id)
    if hpp is None:
        raise not_found(f"HPP session {hpp_id}")
    return hpp


def read_hpp(sim, hpp_id):
    hpp = find_hpp(sim, hpp_id)
    answer = {"session_id": hpp.hpp_id, "status": hpp.status, "expires_at": iso(hpp.expires_at)}
    if hpp.authorization_token:
        answer["authorization_token"] = hpp.authorization_token
    if hpp.order_id:
        answer["order_id"] = hpp.order_id
    return Reply(200, answer)


def page(sim, hpp_id):
    hpp = find_hpp(sim, hpp_id)
    if hpp.status not in OPEN_STATUSES or sim.clock.now() >= hpp.expires_at:
        return html_reply(_document("Klarna (simulator)", f"<p>Session is {hpp.status}.</p>"))
    hpp.status = "IN_PROGRESS"
    session = sim.state.sessions[hpp.session_id]
    options = "".join(
        f'<option value="{c}">{html.escape(CATEGORY_NAMES[c])}</option>' for c in session.categories
    )
    amount = session.cart["order_amount"]
    body = (
        f"<p>Amount: {amount // 100}.{amount % 100:02d} "
        f"{html.escape(session.cart['purchase_currency'])}</p>"
        f'<form method="post" action="/hpp/{hpp.hpp_id}/approve">'
        f'<select name="payment_method_category" id="klarna-sim-hpp-category">{options}</select>'
        '<button id="klarna-sim-hpp-approve" type="submit">Approve</button></form>'
        f'<form method="post" action="/hpp/{hpp.hpp_id}/cancel">'
        '<button id="klarna-sim-hpp-cancel" type="submit">Cancel</button></form>'
        f'<form method="post" action="/hpp/{hpp.hpp_id}/fail">'
        '<button id="klarna-sim-hpp-fail" type="submit">Fail</button></form>'
    )
    return html_reply(_document("Klarna (simulator): hosted payment page", body))


def act(sim, hpp_id, action, form):
    """A button press: settle the session and redirect to the merchant URL."""
    hpp = find_hpp(sim, hpp_id)
    if hpp.status not in OPEN_STATUSES or sim.clock.now() >= hpp.expires_at:
        return html_reply(_document("Klarna (simulator)", f"<p>Session is {hpp.status}.</p>"), 409)
    status, url_keys = TARGETS[action]
    if action == "approve":
        session = payments.live_session(sim, hpp.session_id)
        category = form.get("payment_method_category") or session.categories[0]
        authorization = payments.authorize(sim, session, category)
        hpp.authorization_token = authorization.token
        if hpp.place_order_mode != "NONE":
            order = ordermanagement.create_order(
                sim,
                authorization,
                authorization.cart,
                auto_capture=hpp.place_order_mode == "CAPTURE_ORDER",
            )
            hpp.order_id = order.order_id
    hpp.status = status
    target = next((hpp.merchant_urls[key] for key in url_keys if key in hpp.merchant_urls), None)
    if target is None:
        return html_reply(_document("Klarna (simulator)", f"<p>Payment {status}.</p>"))
    for name, value in (
        ("session_id", hpp.hpp_id),
        ("authorization_token", hpp.authorization_token or ""),
        ("order_id", hpp.order_id or ""),
    ):
        target = target.replace("{{" + name + "}}", value)
    return redirect(target)


def _document(title, body):
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
