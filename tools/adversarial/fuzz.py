"""Fuzz every public route with hostile bodies, headers and types; seeded, reproducible.

Routes: the webhook, the authorization callback, the widget's session, prepare,
authorize and cancel (JSON-RPC), the hosted-page return, and Express Checkout's start,
address, delivery and prepare (JSON-RPC, storefront addon). Each request is
malformed on purpose: wrong JSON types, missing parameters, huge or deeply nested
bodies, chunked bodies, bad encodings, ``..`` tokens, forged signatures, wrong
content types. Credentials are sometimes valid, so the hostile value reaches the
code behind the access check; a request is never valid as a whole. Not sent: a
JSON-RPC envelope whose ``params`` is not an object, which Odoo's own dispatcher fails
on (a traceback) before any route runs, for every ``type="json"`` route alike. Must hold: no
5xx (for JSON-RPC: no error other than Odoo's and werkzeug's client errors), no
change of the transactions, the inbox, the operation log, the Klarna orders, the sales
orders (carts) or the contacts, and no traceback in the server log. Requests run in
batches of one route, so a state change or a traceback is pinned to its route.
"""

import http.client
import json
import random
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlencode

from klarna_simulator import Simulator
from klarna_simulator.signing import signature_headers

from .harness import PROVIDER_SETUP, SIM_USER, STOP, TRANSACTION_SETUP, Odoo

SENDERS = 4
BATCH = 50
DRAFTS = 3
CLIENT_ERRORS = ("odoo.exceptions.", "werkzeug.exceptions.")
# Klarna's authorization token syntax as the callback parser checks it: a hostile token
# must not match it, or it would be a well-formed (if unknown) token, not malformed input.
TOKEN_SYNTAX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,255}")
JSON_ROUTES = {
    "session": "/payment/klarna/session",
    "prepare": "/payment/klarna/prepare",
    "authorize": "/payment/klarna/authorize",
    "cancel": "/payment/klarna/cancel",
    "express_start": "/payment/klarna/express/start",
    "express_address": "/payment/klarna/express/address",
    "express_delivery": "/payment/klarna/express/delivery",
    "express_prepare": "/payment/klarna/express/prepare",
}
# What Express Checkout's address route takes from the browser (Klarna's collected address).
EXPRESS_ADDRESS = {
    "given_name": "Ada", "family_name": "Adversary", "email": "ada.fuzz@example.com",
    "street_address": "Fuzzgasse 42", "postal_code": "10115", "city": "Berlin", "country": "DE",
}  # fmt: skip

SETUP = (
    PROVIDER_SETUP
    + TRANSACTION_SETUP
    + """
from odoo.tools.misc import hmac as hmac_tool
product = env["product.product"].create({{"name": "Fuzz Lamp", "list_price": 49.99}})
order = env["sale.order"].create({{
    "partner_id": partner.id, "order_line": [(0, 0, {{"product_id": product.id}})],
}})
order._portal_ensure_token()
method = env.ref("payment.payment_method_klarna")
rows = []
for number in range({drafts} + 1):
    tx, session = klarna_transaction("fuzz-%d-%d" % (number, partner.id), method)
    tx._klarna_attach_session(session.session_id)
    if number == {drafts}:  # the last one is authorized: a Klarna order exists
        token = approve(session.session_id)
        tx._klarna_place_order(token, "fuzz setup")
    signature = hmac_tool(env(su=True), "payment_klarna_session", session.session_id)
    returns = {{status: tx._klarna_return_signature(status)
               for status in ("success", "cancel", "back", "failure", "error")}}
    rows.append({{"reference": tx.reference, "access_token": tx._klarna_access_token(),
                  "session_id": session.session_id, "signature": signature, "state": tx.state,
                  "order_id": tx.klarna_order_id, "returns": returns}})
# Express Checkout on (storefront addon): its routes reach the code behind the provider check.
provider.write({{"klarna_client_id": "klarna_test_client_simulator", "is_published": True,
                 "allow_express_checkout": True}})
hidden = env["product.product"].create({{"name": "Fuzz Hidden Lamp", "list_price": 9.99,
                                         "is_published": False}})
env.cr.commit()
print({marker!r} + json.dumps({{"txs": rows, "provider_id": provider.id, "order_id": order.id,
    "order_token": order.access_token, "partner_id": partner.id,
    "currency_id": env.ref("base.EUR").id, "hidden_product_id": hidden.id}}))
"""
)


def _nested(depth, leaf=1):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def hostile_values(rng):
    """Values of the wrong type or shape for any parameter."""
    return [
        None,
        True,
        False,
        0,
        -1,
        2**63,
        1e308,
        3.5,
        "",
        " ",
        "..",
        "../..",
        "../../ordermanagement/v1/orders/x/captures",
        "%2e%2e%2f",
        "/",
        "\\..\\",
        "\x00",
        "a\x00b",
        "\u202e\u0000",
        "\U0001f4a5" * 40,
        "A" * 5000,
        "' OR '1'='1",
        "<script>alert(1)</script>",
        "${jndi:ldap://127.0.0.1/x}",
        "\r\nX-Injected: 1",
        "\udcff",
        [],
        [1],
        ["a", "b"],
        {},
        {"$ne": 1},
        {"reference": "x"},
        _nested(50),
        rng.randbytes(12).hex() + "/..",
        str(uuid.uuid4()) + "/../x",
    ]


def _deep(depth):
    """A JSON array nested ``depth`` deep (json.dumps itself cannot go that deep)."""
    return b"[" * depth + b"1" + b"]" * depth


def malformed_token(value):
    return not (isinstance(value, str) and TOKEN_SYNTAX.fullmatch(value))


class Generator:
    """Seeded hostile requests for the fixtures' references, tokens and sessions."""

    def __init__(self, fixtures, callbacks, key_id, secret, seed):
        self.rng = random.Random(seed)  # noqa: S311 - seeded, so a run can be repeated
        self.fixtures = fixtures
        self.txs = fixtures["txs"]
        self.callbacks = callbacks  # session id -> the one-time callback path token
        self.key_id, self.secret = key_id, secret
        self.values = hostile_values(self.rng)

    def pick(self, values=None):
        return self.rng.choice(values or self.values)

    # --- requests
    def request(self, route):
        return getattr(self, f"_{route}")()

    def _json_rpc(self, route, params, label):
        rng = self.rng
        envelope = {"jsonrpc": "2.0", "method": "call", "params": params, "id": rng.randint(0, 9)}
        kind = rng.random()
        headers = {"Content-Type": "application/json"}
        if kind < 0.75:
            body = json.dumps(envelope).encode()
        elif kind < 0.85:
            body = self.pick(
                [
                    b"{",
                    b"\xff\xfe{}",
                    b"[]",
                    b"null",
                    b'"x"',
                    b'{"params": {',
                    b"NaN",
                    b'{"params": {"a": Infinity}}',
                ]
            )
            label += "+broken JSON"
        elif kind < 0.88:
            body = b'{"params": {"reference": %s}}' % _deep(rng.choice((200, 900)))
            label += "+nested JSON"
        elif kind < 0.91:
            body = json.dumps(envelope).encode()
            headers["Content-Type"] = self.pick(
                [
                    "text/plain",
                    "application/json; charset=latin-1",
                    "application/x-www-form-urlencoded",
                ]
            )
            label += "+content type " + headers["Content-Type"]
        elif kind < 0.92:
            body = json.dumps({**envelope, "pad": "x" * 3_000_000}).encode()
            label += "+3 MB body"
        else:
            body = json.dumps(envelope).encode()
        return {
            "route": route,
            "label": label,
            "method": "POST",
            "path": JSON_ROUTES[route],
            "headers": headers,
            "body": body,
            "chunked": rng.random() < 0.1,
            "json_rpc": True,
        }

    def _mutate(self, params, free=(), label=""):
        """Replace or drop at least one parameter (``free`` ones are never the only change)."""
        params = dict(params)
        names = [name for name in params if name not in free]
        changed = self.rng.sample(names, self.rng.randint(1, len(names)))
        for name in changed + [n for n in free if self.rng.random() < 0.3]:
            if self.rng.random() < 0.2:
                params.pop(name)
                label += f" -{name}"
            else:
                params[name] = self.pick()
                label += f" {name}={_short(params[name])}"
        if self.rng.random() < 0.05:
            params[self.pick(["extra", "foo"])] = self.pick()
            label += " +extra"
        return params, label

    def _session(self):
        fixtures = self.fixtures
        # The form names its document; a payment link names none and sends its amount.
        document = {"document_model": "sale.order", "document_id": fixtures["order_id"]}
        base = {
            "provider_id": fixtures["provider_id"],
            "payment_method_code": "klarna",
            **self.pick([document, {}]),
            "access_token": fixtures["order_token"],
            "amount": 49.99,
            "currency_id": fixtures["currency_id"],
            "partner_id": fixtures["partner_id"],
        }
        params, label = self._mutate(base, label="session")
        return self._json_rpc("session", params, label)

    def _tx_params(self, tx, extra):
        return {"reference": tx["reference"], "access_token": tx["access_token"], **extra}

    def _prepare(self):
        tx = self.pick(self.txs[:DRAFTS])
        base = self._tx_params(
            tx, {"session_id": tx["session_id"], "session_signature": tx["signature"]}
        )
        if self.rng.random() < 0.15:  # everything valid but a list for the reference
            params, label = dict(base, reference=[tx["reference"]]), "prepare reference=[valid]"
        else:
            params, label = self._mutate(base, label="prepare")
        return self._json_rpc("prepare", params, label)

    def _authorize(self):
        tx = self.pick(self.txs[:DRAFTS])
        token = self.pick([value for value in self.values if malformed_token(value)])
        base = self._tx_params(tx, {"authorization_token": token})
        if self.rng.random() < 0.5:  # valid credentials: the token itself is the attack
            params, label = base, f"authorize authorization_token={_short(token)}"
            if self.rng.random() < 0.2:
                params = dict(params, reference=[tx["reference"]])
                label += " reference=[valid]"
        else:
            params, label = self._mutate(base, free=("authorization_token",), label="authorize")
        return self._json_rpc("authorize", params, label)

    def _cancel(self):
        if self.rng.random() < 0.3:  # valid credentials of a transaction past draft
            tx = self.txs[DRAFTS]
            params = self._tx_params(tx, {"declined": self.pick()})
            return self._json_rpc(
                "cancel", params, f"cancel authorized declined={_short(params['declined'])}"
            )
        tx = self.pick(self.txs[:DRAFTS])
        params, label = self._mutate(self._tx_params(tx, {}), label="cancel")
        if self.rng.random() < 0.3:
            params["declined"] = self.pick()
        return self._json_rpc("cancel", params, label)

    # Express Checkout: no request carries the visitor's cart (a fuzz request has no session),
    # so none is valid as a whole; the product is one the shop does not sell.
    def _express_start(self):
        base = {
            "provider_id": self.fixtures["provider_id"],
            "product_id": self.fixtures["hidden_product_id"],
            "quantity": 1,
        }
        params, label = self._mutate(base, label="express start")
        return self._json_rpc("express_start", params, label)

    def _express_address(self):
        tx = self.pick(self.txs[:DRAFTS])
        base = {
            "provider_id": self.fixtures["provider_id"],
            "start_signature": tx["signature"],
            "client_token": "e30.eyJzZXNzaW9uX2lkIjogIngifQ.c2ln",
            "address": dict(EXPRESS_ADDRESS),
        }
        if self.rng.random() < 0.3:  # one hostile address field
            field = self.pick(sorted(EXPRESS_ADDRESS))
            base["address"][field] = self.pick()
            return self._json_rpc(
                "express_address", base, f"express address {field}={_short(base['address'][field])}"
            )
        params, label = self._mutate(base, label="express address")
        return self._json_rpc("express_address", params, label)

    def _express_delivery(self):
        base = {"provider_id": self.fixtures["provider_id"], "delivery_method_id": 1}
        params, label = self._mutate(base, label="express delivery")
        return self._json_rpc("express_delivery", params, label)

    def _express_prepare(self):
        tx = self.pick(self.txs[:DRAFTS])
        base = self._tx_params(
            tx, {"session_id": tx["session_id"], "session_signature": tx["signature"]}
        )
        if self.rng.random() < 0.3:  # valid credentials: the transaction is no visitor's cart
            return self._json_rpc("express_prepare", base, "express prepare, no cart")
        params, label = self._mutate(base, label="express prepare")
        return self._json_rpc("express_prepare", params, label)

    def _hpp(self):
        rng = self.rng
        tx = self.pick(self.txs[:DRAFTS])
        # The return URLs Klarna holds: the reference, a status and that status's signature
        # (harmless in the access log: it only repeats what already happened).
        status = self.pick(sorted(tx["returns"]))
        query = {"reference": tx["reference"], "status": status, "signature": tx["returns"][status]}
        roll = rng.random()
        if roll < 0.3:
            del query["status"]
            label = "hpp valid credentials, no status"
        elif roll < 0.6:
            token = self.pick([v for v in self.values if isinstance(v, str) and malformed_token(v)])
            query.update(
                status="success", signature=tx["returns"]["success"], authorization_token=token
            )
            label = f"hpp success authorization_token={_short(token)}"
        else:
            query, label = self._mutate(query, free=("status",), label="hpp")
            query = {
                name: value if isinstance(value, str) else json.dumps(value)
                for name, value in query.items()
            }
        path = "/payment/klarna/hpp/return?" + urlencode(query, errors="surrogateescape")
        if rng.random() < 0.1:
            path += self.pick(
                [
                    "&reference=again",
                    "&status=success&status=cancel",
                    "&%ff=%fe",
                    "&access_token",
                    "%",
                    "&reference[]=x",
                ]
            )
            label += "+odd query"
        return {
            "route": "hpp",
            "label": label,
            "method": "GET",
            "path": path,
            "headers": {},
            "body": None,
            "chunked": False,
            "json_rpc": False,
        }

    def _callback(self):
        rng = self.rng
        tx = self.pick(self.txs[:DRAFTS])
        token = self.callbacks[tx["session_id"]]
        roll = rng.random()
        label = "callback"
        if roll < 0.25:
            token = self.pick(
                [
                    "..",
                    "%2e%2e",
                    "A" * 300,
                    "\U0001f4a5",
                    "x" * 43,
                    token[:-1] + "!",
                    token + "/..",
                    quote("../../web"),
                    str(uuid.uuid4()),
                ]
            )
            label += f" bad path token {_short(token)}"
        body_roll = rng.random()
        if body_roll < 0.4:
            body = {
                "session_id": tx["session_id"],
                "authorization_token": self.pick([v for v in self.values if malformed_token(v)]),
            }
            label += f" authorization_token={_short(body['authorization_token'])}"
        elif body_roll < 0.6:
            body = {"session_id": self.pick(), "authorization_token": str(uuid.uuid4())}
            label += f" session_id={_short(body['session_id'])}"
        elif body_roll < 0.7:
            body = self.pick([[1], "x", None, 5, {"authorization_token": None}])
            label += f" body={_short(body)}"
        else:
            raw = self.pick(
                [
                    b"{",
                    b"\xff\xfe\x00",
                    b"",
                    b"A" * 20000,
                    b"[" * 50000,
                    _deep(100),
                    _deep(5000),
                    b'{"session_id": "%s", "authorization_token": %s}'
                    % (tx["session_id"].encode(), _deep(3000)),
                ]
            )
            return self._http(
                "callback",
                label + f" raw body {_short(raw)}",
                f"/payment/klarna/authorization/{quote(token, safe='')}",
                raw,
            )
        return self._http(
            "callback",
            label,
            f"/payment/klarna/authorization/{quote(token, safe='')}",
            json.dumps(body).encode(),
        )

    def _http(self, route, label, path, body, headers=None):
        rng = self.rng
        headers = {"Content-Type": "application/json", **(headers or {})}
        if rng.random() < 0.05:
            headers["Content-Type"] = self.pick(
                [
                    "text/plain",
                    "application/json; charset=utf-16",
                    "multipart/form-data; boundary=x",
                ]
            )
        return {
            "route": route,
            "label": label,
            "method": "POST",
            "path": path,
            "headers": headers,
            "body": body,
            "chunked": rng.random() < 0.15,
            "json_rpc": False,
        }

    def _webhook(self):
        rng = self.rng
        tx = self.txs[DRAFTS]
        event = {
            "event_id": str(uuid.uuid4()),
            "event_type": "non_guaranteed_payment.updated",
            "occurred_at": "2026-01-01T00:00:00Z",
            "payload": {"order_id": tx["order_id"], "payment_status": "PAID"},
        }
        # Make the event invalid whatever its signature.
        broken = rng.choice(("event_id", "event_type", "payload", "nest", "shape", "legacy"))
        if broken == "event_id":
            event["event_id"] = self.pick([v for v in self.values if not isinstance(v, str)])
        elif broken == "event_type":
            event["event_type"] = self.pick([None, 5, [], {}, "", "x" * 300, "a b", "\x00"])
        elif broken == "payload":
            event["payload"] = self.pick([[1], "x", 5, True, _nested(20)])
        elif broken == "legacy":  # unsigned Order Management push for an unknown order
            event = {"order_id": self.pick(), "event_type": "FRAUD_RISK_ACCEPTED"}
        label = f"webhook {broken}"
        if broken == "nest":
            raw = json.dumps({**event, "payload": {"order_id": tx["order_id"], "x": "NEST"}})
            raw = raw.encode().replace(b'"NEST"', _deep(rng.choice((900, 5000))))
        elif broken == "shape":
            raw = self.pick(
                [
                    b"{",
                    b"\xff\xfe\x00",
                    b"",
                    b"[]",
                    b"null",
                    b"A" * 300_000,
                    b'{"event_id": ' * 20000,
                    _deep(5000),
                ]
            )
        else:
            raw = json.dumps(event).encode()
        headers = {}
        signing = rng.random()
        now = int(time.time() * 1000)
        if signing < 0.5:  # correctly signed: only the body is wrong
            headers = signature_headers("payload-signature", raw, self.key_id, self.secret, now)
            label += " signed"
        elif signing < 0.6:
            headers = signature_headers("klarna-signature", raw, self.key_id, self.secret, now)
            label += " signed (klarna-signature)"
        elif signing < 0.75:
            headers = {
                "Payload-Signature": self.pick(
                    [
                        "ts=1,sig=00,v=1",
                        "sig=" + "a" * 128,
                        "garbage",
                        "ts=,sig=,v=",
                        "\x00",
                        f"ts={now},sig={'0' * 128},v={self.key_id}",
                        f"ts=1,sig=x,v={'v' * 5000}",
                        f"ts={now - 86_400_000},sig={'a' * 128},v={self.key_id}",
                    ]
                )
            }
            label += " forged Payload-Signature"
        elif signing < 0.85:
            headers = {
                "Klarna-Signature": self.pick(["", "x", "0" * 64]),
                "Klarna-Signing-Key-Id": self.pick(["", self.key_id, "../x", "k" * 500]),
            }
            label += " forged Klarna-Signature"
        if rng.random() < 0.1:
            headers["X-Forwarded-For"] = self.pick(["1.2.3.4", "::1", "x" * 1000, "127.0.0.1, ::1"])
        return self._http("webhook", label, "/klarna/webhook", raw, headers)


def _short(value):
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else repr(value)
    return text[:40] + ("…" if len(text) > 40 else "")


def send(port, request, source):
    """One request from loopback address ``source``: ``(status, JSON-RPC error name or None)``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(source, 0))
    try:
        body = request["body"]
        headers = dict(request["headers"])
        try:
            if request["chunked"] and body is not None:
                size = max(1, len(body) // 3)
                chunks = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
                headers["Transfer-Encoding"] = "chunked"
                conn.request(
                    request["method"],
                    request["path"],
                    body=iter(chunks),
                    headers=headers,
                    encode_chunked=True,
                )
            else:
                conn.request(request["method"], request["path"], body=body, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            # The server answered (413) and closed before reading the rest of a large body:
            # its answer is already on the socket.
            pass
        answer = conn.getresponse()
        data = answer.read()
        error = None
        if request["json_rpc"] and answer.status == 200:
            try:
                error = (json.loads(data).get("error") or {}).get("data", {}).get("name")
            except (ValueError, AttributeError):
                error = "unreadable JSON-RPC answer"
        return answer.status, error
    except (OSError, http.client.HTTPException) as exc:
        return f"no answer ({type(exc).__name__})", None
    finally:
        conn.close()


def snapshot(odoo, sim):
    rows = odoo.query(
        "SELECT reference, state, klarna_order_id, klarna_session_id, klarna_authorization_token,"
        " klarna_callback_token_hash, provider_reference, amount, state_message"
        " FROM payment_transaction ORDER BY id"
    )
    counts = odoo.query(
        "SELECT (SELECT count(*) FROM payment_klarna_event),"
        " (SELECT count(*) FROM payment_klarna_operation),"
        " (SELECT count(*) FROM sale_order), (SELECT count(*) FROM res_partner)"
    )[0]
    with sim.state.lock:
        orders = sorted(
            (o.order_id, o.status, o.captured_amount) for o in sim.state.orders.values()
        )
        unrouted = list(sim.state.unrouted)
    return {
        "transactions": {row[0]: row[1:] for row in rows},
        "events": counts[0],
        "operations": counts[1],
        "sales orders (carts)": counts[2],
        "contacts": counts[3],
        "klarna orders": orders,
        "calls to no Klarna endpoint": unrouted,
    }


def diff(before, after):
    changes = []
    new_calls = after["calls to no Klarna endpoint"][len(before["calls to no Klarna endpoint"]) :]
    changes.extend(f"Odoo called no Klarna endpoint: {call[:80]}" for call in new_calls[:3])
    for name in ("events", "operations", "klarna orders"):
        if before[name] != after[name]:
            changes.append(f"{name}: {_short(before[name])} -> {_short(after[name])}")
    for reference in sorted(set(before["transactions"]) | set(after["transactions"])):
        old, new = before["transactions"].get(reference), after["transactions"].get(reference)
        if old != new:
            columns = (
                "state",
                "klarna_order_id",
                "klarna_session_id",
                "klarna_authorization_token",
                "klarna_callback_token_hash",
                "provider_reference",
                "amount",
                "state_message",
            )
            changed = [c for i, c in enumerate(columns) if not old or not new or old[i] != new[i]]
            changes.append(f"{reference}: {', '.join(changed)} changed")
    return changes


def run(odoo_bin, conf, db, size, log_dir, secrets, seed=13):
    password, key_id = f"fuzz-pw-{uuid.uuid4().hex}", "fuzz-key-1"
    signing_secret = f"fuzz-whsec-{uuid.uuid4().hex}"
    secrets.add(password, signing_secret, "ada.fuzz@example.com", "+49 30 5550142", "Fuzzgasse 42")
    odoo = Odoo(odoo_bin, conf, db, "fuzz", log_dir)
    failures = {}
    answers = {}
    checked = passed = 0
    try:
        with Simulator(SIM_USER, password, secrets_file=str(secrets.path)) as sim:
            fixtures = odoo.setup(
                SETUP,
                sim,
                password,
                (key_id, signing_secret),
                ("ada.fuzz@example.com", "+49 30 5550142", "Fuzzgasse 42"),
                drafts=DRAFTS,
            )
            for tx in fixtures["txs"]:
                secrets.add(tx["access_token"], tx["signature"])
            callbacks = {
                session.session_id: session.cart["merchant_urls"]["authorization"].rsplit("/", 1)[1]
                for session in sim.state.sessions.values()
                if (session.cart.get("merchant_urls") or {}).get("authorization")
            }
            generator = Generator(fixtures, callbacks, key_id, signing_secret, seed)
            express = [route for route in JSON_ROUTES if route.startswith("express_")]
            routes = ["webhook", "callback", "session", "prepare", "authorize", "cancel", "hpp",
                      *express]  # fmt: skip
            batches = [routes[i % len(routes)] for i in range(-(-size // BATCH))]
            generator.rng.shuffle(batches)
            odoo.start_server(workers=2, cron_threads=0)
            lock = threading.Lock()
            addresses = iter(range(1, 10**7))

            def source():
                with lock:
                    n = next(addresses)
                return f"127.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255 or 1}"

            baseline = snapshot(odoo, sim)
            server_log = odoo.server_log.open(errors="replace")
            server_log.seek(0, 2)
            started = time.monotonic()
            left = size
            with ThreadPoolExecutor(SENDERS) as pool:
                for route in batches:
                    if STOP.is_set():  # asked to stop: report what was sent
                        break
                    requests = [generator.request(route) for _ in range(min(BATCH, left))]
                    left -= len(requests)
                    results = list(pool.map(lambda r: (r, send(odoo.port, r, source())), requests))
                    for request, (status, error) in results:
                        checked += 1
                        answers[status] = answers.get(status, 0) + 1
                        bad = None
                        if not isinstance(status, int) or status >= 500:
                            bad = f"{status}"
                        elif error and not error.startswith(CLIENT_ERRORS):
                            bad = f"JSON-RPC server error {error}"
                        if bad:
                            _record(failures, (request["route"], bad), request["label"])
                        else:
                            passed += 1
                    time.sleep(0.05)  # let the workers write their log lines
                    current = snapshot(odoo, sim)
                    changes = diff(baseline, current)
                    labels = [r["label"] for r in requests]
                    checked += 1
                    if changes:
                        for change in changes:
                            _record(failures, (route, f"state change: {change}"), *labels[:3])
                        baseline = current
                    else:
                        passed += 1
                    new = server_log.read()
                    checked += 1
                    if "Traceback (most recent call" in new:
                        for exc in re.findall(
                            r"\n(\w[\w.]*(?:Error|Exception)\b[^\n]{0,120})", new
                        ) or ["?"]:
                            _record(failures, (route, f"traceback: {exc}"), *labels[:3])
                    else:
                        passed += 1
            sending = time.monotonic() - started
            server_log.close()
            odoo.stop_server()
    finally:
        odoo.drop()
    lines = [
        f"{route}: {what} x{count} (e.g. {'; '.join(sorted(examples)[:3])})"
        for (route, what), (count, examples) in sorted(failures.items())
    ]
    figures = {
        "requests": size - left,
        "batches": len(batches),
        "senders": SENDERS,
        "seed": seed,
        "sending s": round(sending, 1),
        "answers": {str(k): v for k, v in sorted(answers.items(), key=str)},
    }
    return passed, checked - passed, lines, figures


def _record(failures, key, *examples):
    """Count one failure of kind ``key`` (route, what) and keep a few example requests."""
    count, kept = failures.setdefault(key, [0, set()])
    failures[key][0] = count + 1
    kept.update(examples[: max(0, 3 - len(kept))])
