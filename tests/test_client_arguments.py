"""Argument checks (``klarna.arguments``): a bad value is refused before any request."""

import pytest

from klarna import arguments
from klarna.errors import KlarnaInputError

UUID = "f3392f8b-6116-4073-ab96-e330819e2c07"


@pytest.mark.parametrize("value", [UUID, "K123.abc", "a_b~c-d", "1", "x" * 256])
def test_klarna_ids_pass_as_one_path_segment(value):
    assert arguments.segment("order_id", value) == value


@pytest.mark.parametrize(
    "value",
    ["", ".", "..", ".a", "a.", "a..b", "a/b", "a%2Fb", " a", "a\nb", "x" * 257, None, 42, b"a"],
)
def test_anything_else_is_refused_as_a_path_segment(value):
    with pytest.raises(KlarnaInputError, match="capture_id must be a Klarna id"):
        arguments.segment("capture_id", value)


@pytest.mark.parametrize("value", [1, 10**12])
def test_positive_integers_are_amounts(value):
    assert arguments.positive_amount("captured_amount", value) == value


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (0, "must be positive"),
        (-1, "must be positive"),
        (True, "must be an integer number of minor units"),
        (1.0, "must be an integer number of minor units"),
        ("100", "must be an integer number of minor units"),
        (None, "must be an integer number of minor units"),
    ],
)
def test_other_amounts_are_refused_with_their_name(value, problem):
    with pytest.raises(KlarnaInputError, match=f"refunded_amount {problem}"):
        arguments.positive_amount("refunded_amount", value)


def test_a_payload_is_a_non_empty_dict_passed_through():
    body = {"order_amount": 100}
    assert arguments.payload(body) is body


@pytest.mark.parametrize("value", [{}, None, [], [("order_amount", 100)], "order"])
def test_other_payloads_are_refused(value):
    with pytest.raises(KlarnaInputError, match="payload"):
        arguments.payload(value)


@pytest.mark.parametrize("value", [[], None, {"name": "x"}, [1], [{"name": "x"}, "y"]])
def test_lists_of_dicts_must_be_non_empty_and_hold_only_dicts(value):
    with pytest.raises(KlarnaInputError, match="order_lines must be"):
        arguments.list_of_dicts("order_lines", value)


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("INV/1", "INV/1")])
def test_optional_text_is_none_or_kept(value, expected):
    assert arguments.optional_text("reference", value) == expected


@pytest.mark.parametrize("value", ["", "   ", "\n", 7, ["INV/1"]])
def test_optional_text_refuses_blanks_and_non_text(value):
    with pytest.raises(KlarnaInputError, match="description must be"):
        arguments.optional_text("description", value)


def test_a_uuid_is_an_idempotency_key():
    assert arguments.idempotency_key(UUID) == UUID


@pytest.mark.parametrize("value", [None, "", "a b", "a\nb", "a\x00b", 42])
def test_idempotency_keys_are_printable_text_without_spaces(value):
    with pytest.raises(KlarnaInputError, match="idempotency_key"):
        arguments.idempotency_key(value)


def test_order_payload_is_a_copy_and_leaves_the_callers_dict_alone():
    sent = {"order_amount": 100}
    body = arguments.order_payload(sent, True)
    assert body == {"order_amount": 100, "auto_capture": True}
    assert sent == {"order_amount": 100}


@pytest.mark.parametrize(
    ("sent", "auto_capture", "expected"),
    [
        ({"order_amount": 1}, None, None),
        ({"order_amount": 1, "auto_capture": True}, None, True),
        ({"order_amount": 1}, False, False),
        ({"order_amount": 1, "auto_capture": False}, False, False),
    ],
)
def test_order_payload_sets_auto_capture_only_when_asked(sent, auto_capture, expected):
    assert arguments.order_payload(sent, auto_capture).get("auto_capture") == expected


@pytest.mark.parametrize(
    ("sent", "auto_capture", "problem"),
    [
        ({"order_amount": 1, "auto_capture": False}, True, "disagrees"),
        ({"order_amount": 1, "auto_capture": True}, False, "disagrees"),
        ({"order_amount": 1}, "yes", "True, False or None"),
        ({"order_amount": 1}, 1, "True, False or None"),
        ({}, True, "payload"),
    ],
)
def test_order_payload_refuses_contradictions_and_non_booleans(sent, auto_capture, problem):
    with pytest.raises(KlarnaInputError, match=problem):
        arguments.order_payload(sent, auto_capture)
