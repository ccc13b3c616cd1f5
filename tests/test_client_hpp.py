"""Hosted Payment Page sessions."""

import pytest
import responses
from responses import matchers
from test_client_common import API, make_client

from klarna.errors import KlarnaInputError, KlarnaProtocolError

HPP_PAYLOAD = {
    "payment_session_url": f"{API}/payments/v1/sessions/sess-1",
    "merchant_urls": {
        "success": "https://shop.example/klarna/hpp/success?sid={{session_id}}&token={{authorization_token}}",
        "cancel": "https://shop.example/klarna/hpp/cancel",
        "back": "https://shop.example/shop/payment",
        "failure": "https://shop.example/klarna/hpp/failure",
        "error": "https://shop.example/klarna/hpp/error",
        "status_update": "https://shop.example/klarna/hpp/status",
    },
}


@responses.activate
def test_create_hpp_session_posts_payload_and_returns_redirect():
    responses.post(
        f"{API}/hpp/v1/sessions",
        status=201,
        json={
            "session_id": "hpp-1",
            "redirect_url": "https://pay.playground.klarna.com/eu/hpp/xyz",
            "session_url": f"{API}/hpp/v1/sessions/hpp-1",
            "expires_at": "2025-01-03T10:00:00Z",
            "qr_code_url": "https://pay.playground.klarna.com/qr/xyz",
        },
        match=[matchers.json_params_matcher(HPP_PAYLOAD)],
    )
    session = make_client().create_hpp_session(HPP_PAYLOAD)
    assert session.session_id == "hpp-1"
    assert session.redirect_url == "https://pay.playground.klarna.com/eu/hpp/xyz"
    assert session.session_url == f"{API}/hpp/v1/sessions/hpp-1"
    assert session.expires_at == "2025-01-03T10:00:00Z"


@pytest.mark.parametrize("answer", [{"session_id": "hpp-1"}, {"redirect_url": "https://x"}])
@responses.activate
def test_create_hpp_session_needs_id_and_redirect(answer):
    responses.post(f"{API}/hpp/v1/sessions", status=201, json=answer)
    with pytest.raises(KlarnaProtocolError):
        make_client().create_hpp_session(HPP_PAYLOAD)


@responses.activate
def test_hpp_input_is_checked_before_any_call():
    client = make_client()
    with pytest.raises(KlarnaInputError):
        client.create_hpp_session({})
    assert len(responses.calls) == 0
