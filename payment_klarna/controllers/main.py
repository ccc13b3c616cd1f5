from odoo import http


class KlarnaController(http.Controller):
    """Klarna's inbound URLs, kept here so models and tests reuse them."""

    _webhook_url = "/klarna/webhook"
    # Followed by the transaction's one-time token.
    _authorization_callback_prefix = "/payment/klarna/authorization/"
