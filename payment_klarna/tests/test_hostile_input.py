"""Klarna's routes against malformed and oversized input: a clear 4xx, nothing changed,
no traceback in the server log."""

import contextlib
import http.client
import json
import logging
import uuid
from unittest.mock import patch
from urllib.parse import urlsplit

from odoo.tests import tagged

from odoo.addons.payment.tests.http_common import PaymentHttpCommon
from odoo.addons.payment_klarna import const
from odoo.addons.payment_klarna.controllers.main import KlarnaController
from odoo.addons.payment_klarna.klarna import callback_token
from odoo.addons.payment_klarna.klarna.client import KlarnaClient
from odoo.addons.payment_klarna.klarna.events import DEFAULT_MAX_BYTES
from odoo.addons.payment_klarna.tests.test_checkout import KlarnaCheckoutCommon, session


class _Tracebacks(logging.Handler):
    """Every record with a traceback, or at ERROR and above, from any logger or thread."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        if record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(record)


@tagged("post_install", "-at_install")
class TestHostileInput(KlarnaCheckoutCommon, PaymentHttpCommon):
    def setUp(self):
        super().setUp()
        self.tracebacks = _Tracebacks()
        logging.getLogger().addHandler(self.tracebacks)
        self.addCleanup(logging.getLogger().removeHandler, self.tracebacks)
        # Whatever level the run logs at, the server's errors must reach the check.
        for name in ("odoo.http", "odoo.addons.payment_klarna", "werkzeug"):
            logger = logging.getLogger(name)
            self.addCleanup(logger.setLevel, logger.level)
            logger.setLevel(min(logger.getEffectiveLevel(), logging.ERROR))
        self.tx = self._tx()
        self.tx_params = {
            "reference": self.tx.reference,
            "access_token": self.tx._klarna_access_token(),
        }
        for method in ("_call", "create_session", "update_session", "create_order"):
            self.startPatcher(patch.object(KlarnaClient, method, return_value=session()))

    def tearDown(self):
        self.assertEqual(
            [record.getMessage() for record in self.tracebacks.records], [], "server log"
        )
        super().tearDown()

    def _post(self, url, body, headers=None):
        return self.opener.post(
            self._build_url(url),
            data=body,
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    def _rpc(self, url, params):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params})
        return self._post(url, body).json()

    def _assert_unchanged(self):
        self.env.invalidate_all()
        self.assertEqual(self.tx.state, "draft")
        self.assertEqual(self.tx.klarna_session_id, "sess-1")
        self.assertFalse(self.tx.sudo().klarna_authorization_token)
        self.assertFalse(self.tx.klarna_order_id)

    def _session_params(self, **values):
        return {
            "provider_id": self.klarna.id,
            "payment_method_code": "klarna",
            "access_token": self._generate_test_access_token(
                self.partner.id, self.amount, self.currency.id
            ),
            "amount": self.amount,
            "currency_id": self.currency.id,
            "partner_id": self.partner.id,
            **values,
        }

    def test_malformed_parameters_get_a_clear_error_and_change_nothing(self):
        session_url, prepare_url = KlarnaController._session_url, KlarnaController._prepare_url
        authorize_url, cancel_url = KlarnaController._authorize_url, KlarnaController._cancel_url
        tx_params, reference = self.tx_params, self.tx.reference
        cases = [
            (session_url, self._session_params(document_model=42)),
            (session_url, self._session_params(document_model=["sale.order"])),
            (session_url, self._session_params(document_id="1; drop")),
            (session_url, self._session_params(document_id=[1])),
            (session_url, self._session_params(amount={"v": 1})),
            (session_url, self._session_params(currency_id="EUR")),
            (session_url, self._session_params(partner_id=2**40)),
            (session_url, self._session_params(junk="x")),
            (session_url, {"provider_id": self.klarna.id}),
            (prepare_url, {**tx_params, "session_id": "s", "session_signature": 5}),
            (prepare_url, {**tx_params, "session_id": ["s"], "session_signature": "x"}),
            (prepare_url, {**tx_params, "session_id": "s"}),
            (authorize_url, {**tx_params, "reference": [reference], "authorization_token": "t"}),
            (authorize_url, {**tx_params, "authorization_token": None}),
            (cancel_url, {**tx_params, "reference": [reference]}),
            (cancel_url, {**tx_params, "declined": "yes"}),
            (cancel_url, {**tx_params, "declined": True, "state": "done"}),
            (cancel_url, {"access_token": tx_params["access_token"]}),
        ]
        for url, params in cases:
            with self.subTest(url=url, params=params):
                error = self._rpc(url, params)["error"]
                self.assertRegex(error["data"]["message"], r"^Klarna: the request is not valid")
        KlarnaClient.create_session.assert_not_called()
        KlarnaClient.update_session.assert_not_called()
        KlarnaClient.create_order.assert_not_called()
        self._assert_unchanged()

    def test_text_no_query_can_hold_and_non_ascii_secrets_change_nothing(self):
        """NUL and lone surrogates cannot reach SQL or the answer; a non-ASCII secret is
        simply no match (these gave tracebacks and 500s under the fuzz suite)."""
        prepare_url = KlarnaController._prepare_url
        authorize_url, cancel_url = KlarnaController._authorize_url, KlarnaController._cancel_url
        tx_params, token = self.tx_params, str(uuid.uuid4())
        signed = {"session_id": "sess-1", "session_signature": "x"}
        cases = [
            (prepare_url, {**tx_params, **signed, "reference": "S1\x00"}),
            (prepare_url, {**tx_params, **signed, "session_signature": "\u202e\x00"}),
            (prepare_url, {**tx_params, **signed, "session_signature": "\U0001f4a5" * 64}),
            (authorize_url, {**tx_params, "authorization_token": token, "reference": "\x00"}),
            (authorize_url, {**tx_params, "authorization_token": token, "access_token": "é"}),
            (cancel_url, {**tx_params, "access_token": "\udcff"}),
            (cancel_url, {**tx_params, "reference": "\u202e\x00"}),
            (cancel_url, {**tx_params, "access_token": "\U0001f4a5" * 64}),
            (KlarnaController._session_url, self._session_params(access_token="\U0001f4a5" * 64)),
        ]
        for url, params in cases:
            with self.subTest(url=url, params=params):
                self.assertIn("error", self._rpc(url, params))
        KlarnaClient.update_session.assert_not_called()
        KlarnaClient.create_order.assert_not_called()
        self._assert_unchanged()

    def test_a_payment_link_without_amount_is_refused_clearly(self):
        """An access token made for no amount matches amount=None: still no 500."""
        params = self._session_params(
            amount=None,
            access_token=self._generate_test_access_token(self.partner.id, None, self.currency.id),
        )
        error = self._rpc(KlarnaController._session_url, params)["error"]
        self.assertRegex(error["data"]["message"], "^Klarna: ")
        KlarnaClient.create_session.assert_not_called()

    def test_what_the_payment_form_sends_still_works(self):
        """The form's context values are strings; the documented kinds accept them."""
        context = {
            "amount": self.amount,
            "currency_id": self.currency.id,
            "partner_id": self.partner.id,
        }
        params = self._session_params(**{key: str(value) for key, value in context.items()})
        params["access_token"] = self._generate_test_access_token(
            params["partner_id"], params["amount"], params["currency_id"]
        )
        result = self._rpc(KlarnaController._session_url, params)
        self.assertEqual(result["result"]["client_token"], "client-token")

    def test_malformed_envelopes_get_a_400(self):
        deep = '{"jsonrpc": "2.0", "params": ' + "[" * 5000 + "]" * 5000 + "}"
        for body in ("{not json", "[1, 2]", '{"params": [1]}', '{"params": "abc"}', deep):
            for url in (KlarnaController._session_url, KlarnaController._cancel_url):
                with self.subTest(url=url, body=body[:30]):
                    self.assertEqual(self._post(url, body).status_code, 400)
        self._assert_unchanged()

    def test_deep_nesting_below_the_size_limit_never_reaches_the_parser(self):
        params = {**self.tx_params, "declined": [[[[[[[[[[True]]]]]]]]]]}
        body = json.dumps({"jsonrpc": "2.0", "params": params})
        self.assertEqual(self._post(KlarnaController._cancel_url, body).status_code, 400)
        self._assert_unchanged()

    def _bodies(self, size):
        """The same oversized body with a Content-Length, and chunked (no length)."""
        payload = b'{"params": {"reference": "' + b"x" * size + b'"}}'

        def chunks():
            for start in range(0, len(payload), 4096):
                yield payload[start : start + 4096]

        return (("declared", payload), ("chunked", chunks()))

    def test_oversized_bodies_get_413_on_every_klarna_route(self):
        token = callback_token.new_token()
        self.tx.sudo().klarna_callback_token_hash = callback_token.hash_token(token)
        webhook_events = self.env["payment.klarna.event"].search_count([])
        routes = [
            (KlarnaController._session_url, const.ROUTES_MAX_BYTES),
            (KlarnaController._prepare_url, const.ROUTES_MAX_BYTES),
            (KlarnaController._authorize_url, const.ROUTES_MAX_BYTES),
            (KlarnaController._cancel_url, const.ROUTES_MAX_BYTES),
            (KlarnaController._authorization_callback_prefix + token, const.ROUTES_MAX_BYTES),
            (KlarnaController._hpp_return_url + "?status=x", const.ROUTES_MAX_BYTES),
            (KlarnaController._webhook_url, DEFAULT_MAX_BYTES),
        ]  # fmt: skip
        for url, limit in routes:
            for kind, body in self._bodies(limit):
                with self.subTest(url=url, kind=kind):
                    if "hpp" in url:
                        response = self.opener.get(self._build_url(url), data=body)
                    else:
                        response = self._post(url, body)
                    self.assertEqual(response.status_code, 413)
                    self.assertEqual(response.json(), {"error": "body_too_large"})
        self._assert_unchanged()
        self.assertEqual(self.env["payment.klarna.event"].search_count([]), webhook_events)

    def test_a_chunked_body_is_bounded_whatever_length_it_declares(self):
        # Werkzeug's server dechunks "Chunked" and reads it to its end, while its request
        # believes the Content-Length, which only lowercase "chunked" makes it ignore.
        for path, limit in (
            (KlarnaController._cancel_url, const.ROUTES_MAX_BYTES),
            (KlarnaController._webhook_url, DEFAULT_MAX_BYTES),
        ):
            payload = b'{"params": {"reference": "' + b"x" * limit + b'"}}'
            chunks = [payload[start : start + 4096] for start in range(0, len(payload), 4096)]
            with self.subTest(path=path):
                status, body = self._post_raw(path, {"Content-Length": "2"}, chunks)
                self.assertEqual(status, 413, body)
                self.assertEqual(json.loads(body), {"error": "body_too_large"})
        self._assert_unchanged()

    def _post_raw(self, path, headers, chunks):
        """POST a "Chunked" JSON body with ``headers`` as no HTTP library would send it.

        Odoo 19 serves a test only the requests that carry the key its ``allow_requests``
        sets in the test's cookies; Odoo 18 has no such guard.

        :return: the status and the body of the answer
        """
        url = urlsplit(self._build_url(path))
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        self.addCleanup(connection.close)
        with getattr(self, "allow_requests", contextlib.nullcontext)():
            connection.putrequest("POST", url.path)
            headers = {
                "Content-Type": "application/json",
                "Transfer-Encoding": "Chunked",
                **headers,
            }
            if cookies := "; ".join(f"{c.name}={c.value}" for c in self.opener.cookies):
                headers["Cookie"] = cookies
            for header, value in headers.items():
                connection.putheader(header, value)
            connection.endheaders()
            for chunk in chunks:
                connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            connection.send(b"0\r\n\r\n")
            response = connection.getresponse()
            return response.status, response.read()

    def test_a_small_chunked_body_is_served(self):
        body = json.dumps({"jsonrpc": "2.0", "params": {**self.tx_params, "declined": True}})
        response = self._post(KlarnaController._cancel_url, iter([body.encode()]))
        self.assertEqual(response.json()["result"]["state"], "cancel")
