"""HTTP plumbing: routing, Basic auth, faults, idempotency, and Klarna's error format.

Klarna API requests run one at a time under ``state.lock``, so an idempotency
key's first use and its retry can never both act.
"""

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import socket
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple
from urllib.parse import parse_qsl, urlsplit

from . import control, hpp, ordermanagement, osm, payments, sdk
from .errors import KlarnaError
from .reply import Reply

_logger = logging.getLogger(__name__)
IDEMPOTENCY_LIFETIME = timedelta(hours=24)
MUTATING = ("POST", "PATCH", "DELETE", "PUT")
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
}
OM = "/ordermanagement/v1/orders/(?P<order_id>[^/]+)"


class Request(NamedTuple):
    method: str
    path: str
    params: dict
    query: dict
    json: object
    form: dict
    headers: object


class Route(NamedTuple):
    method: str
    pattern: re.Pattern
    handler: object
    access: str  # "klarna" (Basic auth), "public" (browser, CORS) or "control" (loopback)
    locked: bool = True


def _route(method, pattern, handler, access="klarna", locked=True):
    return Route(method, re.compile(f"^{pattern}$"), handler, access, locked)


def _p(request, name):
    return request.params[name]


ROUTES = (
    _route("POST", "/payments/v1/sessions", lambda s, r: payments.create_session(s, r.json)),
    _route(
        "POST",
        "/payments/v1/sessions/(?P<session_id>[^/]+)",
        lambda s, r: payments.update_session(s, _p(r, "session_id"), r.json),
    ),
    _route(
        "GET",
        "/payments/v1/sessions/(?P<session_id>[^/]+)",
        lambda s, r: payments.read_session(s, _p(r, "session_id")),
    ),
    _route(
        "POST",
        "/payments/v1/authorizations/(?P<token>[^/]+)/order",
        lambda s, r: payments.place_order(s, _p(r, "token"), r.json),
    ),
    _route(
        "POST",
        "/payments/v1/authorizations/(?P<token>[^/]+)/customer-token",
        lambda s, r: payments.create_customer_token(s, _p(r, "token"), r.json),
    ),
    _route(
        "DELETE",
        "/payments/v1/authorizations/(?P<token>[^/]+)",
        lambda s, r: payments.cancel_authorization(s, _p(r, "token")),
    ),
    _route("POST", "/hpp/v1/sessions", lambda s, r: hpp.create_hpp(s, r.json)),
    _route(
        "GET", "/hpp/v1/sessions/(?P<hpp_id>[^/]+)", lambda s, r: hpp.read_hpp(s, _p(r, "hpp_id"))
    ),
    _route("GET", OM, lambda s, r: ordermanagement.read_order(s, _p(r, "order_id"))),
    _route(
        "POST", f"{OM}/captures", lambda s, r: ordermanagement.capture(s, _p(r, "order_id"), r.json)
    ),
    _route(
        "GET",
        f"{OM}/captures/(?P<capture_id>[^/]+)",
        lambda s, r: ordermanagement.read_capture(s, _p(r, "order_id"), _p(r, "capture_id")),
    ),
    _route(
        "POST",
        f"{OM}/captures/(?P<capture_id>[^/]+)/shipping-info",
        lambda s, r: ordermanagement.add_shipping_info(
            s, _p(r, "order_id"), _p(r, "capture_id"), r.json
        ),
    ),
    _route(
        "POST", f"{OM}/refunds", lambda s, r: ordermanagement.refund(s, _p(r, "order_id"), r.json)
    ),
    _route(
        "GET",
        f"{OM}/refunds/(?P<refund_id>[^/]+)",
        lambda s, r: ordermanagement.read_refund(s, _p(r, "order_id"), _p(r, "refund_id")),
    ),
    _route("POST", f"{OM}/cancel", lambda s, r: ordermanagement.cancel(s, _p(r, "order_id"))),
    _route(
        "POST",
        f"{OM}/release-remaining-authorization",
        lambda s, r: ordermanagement.release_remaining(s, _p(r, "order_id")),
    ),
    _route(
        "POST",
        f"{OM}/extend-authorization-time",
        lambda s, r: ordermanagement.extend_authorization(s, _p(r, "order_id")),
    ),
    _route(
        "PATCH",
        f"{OM}/authorization",
        lambda s, r: ordermanagement.update_authorization(s, _p(r, "order_id"), r.json),
    ),
    _route(
        "PATCH",
        f"{OM}/merchant-references",
        lambda s, r: ordermanagement.update_merchant_references(s, _p(r, "order_id"), r.json),
    ),
    # Customer-facing pages and the SDK stand-in.
    _route("GET", "/kp/lib/v1/api.js", lambda s, r: sdk.script(), "public", False),
    _route("GET", "/web-sdk/v1/klarna.js", lambda s, r: osm.script(), "public", False),
    _route(
        "GET",
        "/web-sdk/sim/v1/config",
        lambda s, r: osm.config(s, r.query.get("client_id")),
        "public",
        False,
    ),
    _route("GET", "/assets/klarna-badge.svg", lambda s, r: sdk.badge(), "public", False),
    _route("POST", "/kp/sim/v1/load", lambda s, r: sdk.load(s, r.json), "public"),
    _route("POST", "/kp/sim/v1/authorize", lambda s, r: sdk.authorize(s, r.json), "public"),
    _route(
        "GET",
        "/kp/confirmation/(?P<order_id>[^/]+)",
        lambda s, r: sdk.confirmation(s, _p(r, "order_id")),
        "public",
    ),
    _route("GET", "/hpp/(?P<hpp_id>[^/]+)", lambda s, r: hpp.page(s, _p(r, "hpp_id")), "public"),
    _route(
        "POST",
        "/hpp/(?P<hpp_id>[^/]+)/(?P<action>approve|cancel|fail)",
        lambda s, r: hpp.act(s, _p(r, "hpp_id"), _p(r, "action"), r.form),
        "public",
    ),
    # Test controls.
    _route("POST", "/_sim/reset", control.reset, "control", False),
    _route("GET", "/_sim/state", control.state, "control"),
    _route("GET", "/_sim/timing", control.timing, "control", False),
    _route("GET", "/_sim/faults", control.list_faults, "control"),
    _route("POST", "/_sim/faults", control.add_faults, "control"),
    _route("DELETE", "/_sim/faults", control.clear_faults, "control"),
    _route("GET", "/_sim/config", control.read_config, "control"),
    _route("POST", "/_sim/config", control.update_config, "control"),
    _route("GET", "/_sim/clock", control.clock, "control"),
    _route("POST", "/_sim/clock", control.clock, "control"),
    _route(
        "POST",
        "/_sim/sessions/(?P<session_id>[^/]+)/authorize",
        control.authorize_session,
        "control",
    ),
    _route(
        "POST", "/_sim/sessions/(?P<session_id>[^/]+)/expire", control.expire_session, "control"
    ),
    _route(
        "POST",
        "/_sim/authorizations/(?P<token>[^/]+)/expire",
        control.expire_authorization,
        "control",
    ),
    _route("POST", "/_sim/orders/(?P<order_id>[^/]+)/expire", control.expire_order, "control"),
    _route("POST", "/_sim/orders/(?P<order_id>[^/]+)/fraud", control.resolve_fraud, "control"),
    _route(
        "POST", "/_sim/orders/(?P<order_id>[^/]+)/payment-status", control.payment_status, "control"
    ),
    _route("POST", "/_sim/webhooks", control.webhook, "control"),
    _route("POST", "/_sim/wait-idle", control.wait_idle, "control", False),
)


class _Dropped(Exception):
    """Close the connection without answering (a ``drop`` fault)."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "KlarnaSimulator"

    def log_message(self, format, *args):
        """Silent: paths carry tokens, and tests read ``sim.state`` instead."""

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_PATCH(self):
        self._serve("PATCH")

    def do_DELETE(self):
        self._serve("DELETE")

    def do_PUT(self):
        self._serve("PUT")

    def do_OPTIONS(self):
        self._write(Reply(204, headers=CORS))

    def _serve(self, method):
        started = time.perf_counter()
        sim = self.server.sim
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = urlsplit(self.path)
        path = url.path
        correlation_id = str(uuid.uuid4())
        try:
            reply = self._answer(sim, method, path, dict(parse_qsl(url.query)), raw)
        except _Dropped:
            self.close_connection = True
            return
        except KlarnaError as error:
            reply = Reply(error.status, error.body(correlation_id), error.headers)
        except Exception:
            # A simulator bug must fail loudly in the test that hit it, not hang it.
            _logger.exception("klarna_simulator: %s %s failed", method, path)
            error = KlarnaError(500, "INTERNAL_SERVER_ERROR", "Simulator failure")
            reply = Reply(500, error.body(correlation_id))
        if not path.startswith("/_sim/") or reply.status >= 400:
            reply = reply._replace(
                headers={**reply.headers, "Klarna-Correlation-Id": correlation_id}
            )
        # Counted before the reply leaves: a client that reads /_sim/timing right after
        # its answer must find its own request in it.
        if not path.startswith("/_sim/"):
            sim.timing.add(time.perf_counter() - started)
        self._write(reply)

    def _answer(self, sim, method, path, query, raw):
        try:
            route, params = _match(method, path)
        except KlarnaError:
            sim.state.record_unrouted(method, self.path)
            raise
        rules = []
        if path.startswith("/_sim/"):
            if not ipaddress.ip_address(self.client_address[0]).is_loopback:
                raise KlarnaError(
                    403, "FORBIDDEN", "Control endpoints answer loopback clients only"
                )
        else:
            rules = sim.faults.take_for_request(method, path)
            _apply_faults(rules)
        if route.access == "klarna":
            self._authenticate(sim)
        body, form = _parse_body(raw, self.headers)
        request = Request(method, path, params, query, body, form, self.headers)
        if not route.locked:
            reply = route.handler(sim, request)
        else:
            with sim.state.lock:
                reply = self._run(sim, route, request, raw)
        for rule in rules:
            if rule.kind in ("drop", "hang") and rule.when == "after":
                if rule.kind == "hang":
                    rule.hold()  # outside the state lock: the rest of Klarna keeps answering
                raise _Dropped
        if route.access != "klarna":
            reply = reply._replace(headers={**CORS, **reply.headers})
        return reply

    def _run(self, sim, route, request, raw):
        key = self.headers.get("Klarna-Idempotency-Key")
        if route.access != "klarna" or request.method not in MUTATING or not key:
            return route.handler(sim, request)
        now = sim.clock.now()
        fingerprint = hashlib.sha256(
            f"{request.method} {request.path} ".encode() + _canonical(request.json, raw)
        ).hexdigest()
        stored = sim.state.idempotency.get(key)
        if stored and now - stored[2] < IDEMPOTENCY_LIFETIME:
            if stored[0] != fingerprint:
                raise KlarnaError(
                    409, "CONFLICT", "Klarna-Idempotency-Key reused with a different request"
                )
            return stored[1]
        reply = route.handler(sim, request)
        if 200 <= reply.status < 300:
            sim.state.idempotency[key] = (fingerprint, reply, now)
        return reply

    def _authenticate(self, sim):
        expected = f"{sim.config.username}:{sim.config.password}".encode()
        header = self.headers.get("Authorization") or ""
        given = b""
        if header.startswith("Basic "):
            try:
                given = base64.b64decode(header[6:], validate=True)
            except ValueError:
                given = b""
        if not hmac.compare_digest(given, expected):
            raise KlarnaError(
                401,
                "UNAUTHORIZED",
                "Bad credentials",
                headers={"WWW-Authenticate": 'Basic realm="Klarna"'},
            )

    def _write(self, reply):
        payload = reply.encode()
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _match(method, path):
    allowed = False
    for route in ROUTES:
        found = route.pattern.match(path)
        if found:
            if route.method == method:
                return route, found.groupdict()
            allowed = True
    if allowed:
        raise KlarnaError(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed on {path}")
    raise KlarnaError(404, "NOT_FOUND", f"No such endpoint: {path}")


def _apply_faults(rules):
    """Latency first, then the first fault that answers instead of the API."""
    for rule in rules:
        if rule.kind == "latency":
            time.sleep(rule.delay)
    for rule in rules:
        if rule.kind in ("drop", "hang") and rule.when == "before":
            if rule.kind == "hang":
                rule.hold()
            raise _Dropped
        if rule.kind == "error":
            raise KlarnaError(rule.status, "TEMPORARILY_UNAVAILABLE", "Temporarily unavailable")
        if rule.kind == "rate_limit":
            raise KlarnaError(
                429,
                "TOO_MANY_REQUESTS",
                "Too many requests",
                headers={"Retry-After": str(rule.retry_after)},
            )


def _parse_body(raw, headers):
    """``(json, form)``: HTML forms (the hosted page) post urlencoded, everything else JSON."""
    if "application/x-www-form-urlencoded" in (headers.get("Content-Type") or ""):
        return None, dict(parse_qsl(raw.decode("utf-8", "replace")))
    if not raw:
        return None, {}
    try:
        return json.loads(raw), {}
    except ValueError:
        raise KlarnaError(400, "BAD_VALUE", "The request body is not valid JSON") from None


def _canonical(body, raw):
    return raw if body is None else json.dumps(body, sort_keys=True).encode()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, sim):
        self.sim = sim
        if ":" in sim.host:
            self.address_family = socket.AF_INET6
        super().__init__((sim.host, sim.port), Handler)
