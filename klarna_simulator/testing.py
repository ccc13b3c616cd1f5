"""Helpers for tests that drive the simulator: valid carts and a recording HTTP receiver."""

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_SE_CART = {
    "purchase_country": "SE",
    "purchase_currency": "SEK",
    "locale": "sv-SE",
    "order_amount": 27900,
    "order_tax_amount": 5580,
    "order_lines": [
        {
            "type": "physical",
            "reference": "SHOE-1",
            "name": "Shoe",
            "quantity": 2,
            "unit_price": 12500,
            "tax_rate": 2500,
            "total_amount": 25000,
            "total_discount_amount": 0,
            "total_tax_amount": 5000,
        },
        {
            "type": "discount",
            "name": "Discount",
            "quantity": 1,
            "unit_price": -2000,
            "tax_rate": 2500,
            "total_amount": -2000,
            "total_discount_amount": 0,
            "total_tax_amount": -400,
        },
        {
            "type": "shipping_fee",
            "name": "Shipping",
            "quantity": 1,
            "unit_price": 4900,
            "tax_rate": 2500,
            "total_amount": 4900,
            "total_discount_amount": 0,
            "total_tax_amount": 980,
        },
    ],
}
_US_CART = {
    "purchase_country": "US",
    "purchase_currency": "USD",
    "locale": "en-US",
    "order_amount": 11880,
    "order_tax_amount": 880,
    "order_lines": [
        {
            "type": "physical",
            "name": "Lamp",
            "quantity": 2,
            "unit_price": 5000,
            "tax_rate": 0,
            "total_amount": 10000,
            "total_tax_amount": 0,
        },
        {
            "type": "shipping_fee",
            "name": "Shipping",
            "quantity": 1,
            "unit_price": 1000,
            "tax_rate": 0,
            "total_amount": 1000,
            "total_tax_amount": 0,
        },
        {
            "type": "sales_tax",
            "name": "Sales tax",
            "quantity": 1,
            "unit_price": 880,
            "tax_rate": 0,
            "total_amount": 880,
            "total_tax_amount": 0,
        },
    ],
}


def sample_cart(country="SE", **extra):
    """A fresh cart Klarna accepts (SE with VAT, or US with a sales_tax line)."""
    carts = {"SE": _SE_CART, "US": _US_CART}
    return {**copy.deepcopy(carts[country]), **extra}


class Receiver:
    """A merchant endpoint on loopback that records each request's path, headers and raw body.

    ``statuses`` are the answers to the first requests, in order; later ones get 200.
    ``gate``, a ``threading.Event``, holds every answer until it is set.
    """

    def __init__(self, statuses=(), gate=None):
        self.requests = []
        self._statuses = list(statuses)
        self._gate = gate
        self._cond = threading.Condition()
        receiver = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._cond:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "raw": raw}
                    )
                    status = receiver._statuses.pop(0) if receiver._statuses else 200
                    receiver._cond.notify_all()
                if receiver._gate is not None:
                    receiver._gate.wait(10)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def bodies(self):
        with self._cond:
            return [json.loads(request["raw"]) for request in self.requests]

    def wait_for(self, count, timeout=10.0):
        """Wait until ``count`` requests arrived; returns whether they did."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.requests) >= count, timeout)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._server.shutdown()
        self._server.server_close()
