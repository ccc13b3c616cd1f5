"""The checks the addon's ir.http runs on Klarna's routes before Odoo parses a body."""

import io
import json

import pytest

from klarna import inbound
from klarna.inbound import body_limit, json_depth, param_problem, read_bounded

SPEC = {"reference": "text", "provider_id": "id", "amount": "number?", "declined": "flag?"}
GOOD = {"reference": "S00012", "provider_id": 3}


@pytest.mark.parametrize(
    "params",
    [
        GOOD,
        {**GOOD, "provider_id": "3", "amount": "12.50"},
        {**GOOD, "amount": None, "declined": False},
        {**GOOD, "amount": 0.1},
    ],
)
def test_what_the_payment_form_sends_passes(params):
    assert param_problem(params, SPEC) is None


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"provider_id": 3}, "missing 'reference'"),
        ({**GOOD, "junk": 1}, "unexpected parameter 'junk'"),
        ({**GOOD, "reference": ["S00012"]}, "'reference' is not a valid text"),
        ({**GOOD, "reference": None}, "'reference' is not a valid text"),
        ({**GOOD, "reference": "x" * 2000}, "'reference' is not a valid text"),
        ({**GOOD, "provider_id": True}, "'provider_id' is not a valid id"),
        ({**GOOD, "provider_id": 0}, "'provider_id' is not a valid id"),
        ({**GOOD, "provider_id": 2**40}, "'provider_id' is not a valid id"),
        ({**GOOD, "provider_id": "1; drop"}, "'provider_id' is not a valid id"),
        ({**GOOD, "provider_id": "٣"}, "'provider_id' is not a valid id"),
        ({**GOOD, "amount": "NaN"}, "'amount' is not a valid number"),
        ({**GOOD, "amount": float("inf")}, "'amount' is not a valid number"),
        ({**GOOD, "amount": {"v": 1}}, "'amount' is not a valid number"),
        ({**GOOD, "amount": "1e400"}, "'amount' is not a valid number"),
        ({**GOOD, "declined": "yes"}, "'declined' is not a valid flag"),
    ],
)
def test_wrong_types_missing_and_extra_parameters_are_named(params, problem):
    assert param_problem(params, SPEC) == problem


def test_a_problem_never_quotes_a_value():
    problem = param_problem({**GOOD, "reference": ["secret-token"]}, SPEC)
    assert "secret-token" not in problem


@pytest.mark.parametrize(
    ("raw", "depth"),
    [
        (b"{}", 1),
        (b'{"a": [1, {"b": 2}]}', 3),
        (b'{"a": "[[[[{{{{"}', 1),
        (b'{"a": "\\"[[["}', 1),
        (b"[" * 100_000, 100_000),
        (b"", 0),
    ],
)
def test_depth_counts_brackets_outside_strings(raw, depth):
    assert json_depth(raw) == depth


def test_depth_agrees_with_the_parser():
    body = json.dumps({"a": [[{"b": ["x]"]}]]}).encode()
    assert json_depth(body) == 5


def test_bounded_read_stops_past_the_limit():
    assert read_bounded(io.BytesIO(b"x" * 10), 10) == b"x" * 10
    assert read_bounded(io.BytesIO(b"x" * 11), 10) is None

    class Endless(io.RawIOBase):
        served = 0

        def read(self, size=-1):
            self.served += size
            return b"y" * size

    endless = Endless()
    assert read_bounded(endless, 100_000) is None
    assert endless.served == 100_001


def test_body_limit_by_prefix():
    limits = (("/klarna/webhook", 256), ("/payment/klarna/", 16))
    assert body_limit("/klarna/webhook", limits) == 256
    assert body_limit("/payment/klarna/authorization/abc", limits) == 16
    assert body_limit("/shop/cart", limits) is None


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("S00012", True),
        ("Grüße", True),
        ("", True),
        ("S1\x00", False),
        ("\udcff", False),
        ("a\ud800b", False),
        ("x" * 1025, False),
        (b"S1", False),
        (None, False),
        (["S1"], False),
    ],
)
def test_is_text_refuses_what_sql_or_utf8_cannot_hold(value, ok):
    assert inbound.is_text(value) is ok


@pytest.mark.parametrize(
    ("given", "ok"),
    [
        ("abc123", True),
        ("abc124", False),
        ("", False),
        ("\u202e\x00", False),
        ("abc12\u00e9", False),
        ("\udcff", False),
        (None, False),
        (123, False),
        (["abc123"], False),
    ],
)
def test_same_secret_is_false_for_anything_but_the_ascii_secret(given, ok):
    assert inbound.same_secret("abc123", given) is ok


def test_a_secret_is_ascii_text():
    assert param_problem({"token": "ab12"}, {"token": "secret"}) is None
    assert param_problem({"token": "\U0001f4a5"}, {"token": "secret"})
    assert param_problem({"token": "é"}, {"token": "secret?"})
    assert param_problem({"token": None}, {"token": "secret?"}) is None
