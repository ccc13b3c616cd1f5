from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from klarna import amounts
from klarna.amounts import Books

minor = st.integers(min_value=0, max_value=10**9)


def order(captured=0, refunded=0, remaining=0):
    return SimpleNamespace(
        captured_amount=captured, refunded_amount=refunded, remaining_authorized_amount=remaining
    )


def test_remaining_is_what_is_neither_captured_nor_voided():
    assert Books(authorized=10000, captured=2500, voided=500, refunded=0).remaining == 7000


@given(minor, minor, minor)
def test_a_capture_takes_at_most_the_smaller_remainder(authorized, captured, klarna_remaining):
    books = Books(authorized + captured, captured, 0, 0)
    allowed = amounts.capturable(books, order(remaining=klarna_remaining))
    assert allowed == min(authorized, klarna_remaining)


def test_a_refund_takes_at_most_what_both_sides_allow():
    klarna = order(captured=5000, refunded=1000)
    assert amounts.refundable(3000, klarna) == 3000
    assert amounts.refundable(4500, klarna) == 4000


@pytest.mark.parametrize(
    ("amount", "allowed", "ok"),
    [(1, 1, True), (0, 5, False), (-1, 5, False), (6, 5, False), (5, 0, False)],
)
def test_an_amount_moves_only_within_its_bound(amount, allowed, ok):
    assert amounts.allows(amount, allowed) is ok


def test_books_agree_on_captured_and_refunded_only():
    books = Books(authorized=9000, captured=5000, voided=0, refunded=1000)
    assert amounts.books_agree(books, order(captured=5000, refunded=1000, remaining=4000))
    assert not amounts.books_agree(books, order(captured=5000, refunded=0))
    assert not amounts.books_agree(books, order(captured=6000, refunded=1000))
