"""Klarna's storefront facts the addon relies on (sources in docs/klarna-storefront.md)."""

# On-Site Messaging: Klarna's Web SDK v1, one URL for every region; the environment is the
# script's data-environment. With a base-URL override (the simulator) it is served there.
OSM_SDK_URL = "https://js.klarna.com/web-sdk/v1/klarna.js"
OSM_SDK_PATH = "/web-sdk/v1/klarna.js"

# The placement key shown on each page (docs/klarna-storefront.md §1.6).
OSM_PLACEMENT_KEYS = {
    "product": "credit-promotion-auto-size",
    "cart": "credit-promotion-badge",
    "checkout": "credit-promotion-badge",
    "top_strip": "top-strip-promotion-badge",
}

OSM_THEMES = [("default", "Light"), ("dark", "Dark"), ("custom", "Custom (your CSS)")]
EXPRESS_THEMES = [("default", "Dark"), ("light", "Light"), ("outlined", "Outlined")]
EXPRESS_SHAPES = [("default", "Default"), ("rect", "Rectangle"), ("pill", "Pill")]

# Klarna's client identifiers seen in public code start with klarna_test_client_ or
# klarna_live_client_ (not documented): only the character set is checked.
CLIENT_ID_PATTERN = r"^[A-Za-z0-9_.:-]{8,200}$"

# Klarna Express Checkout's JSON routes, under payment_klarna's prefix: their bodies are
# bounded and their parameters checked before dispatch (payment_klarna/models/ir_http.py).
EXPRESS_START_URL = "/payment/klarna/express/start"
EXPRESS_ADDRESS_URL = "/payment/klarna/express/address"
EXPRESS_DELIVERY_URL = "/payment/klarna/express/delivery"
EXPRESS_PREPARE_URL = "/payment/klarna/express/prepare"
EXPRESS_START_PARAMS = {"provider_id": "id", "product_id": "id?", "quantity": "number?"}
EXPRESS_ADDRESS_PARAMS = {
    "provider_id": "id",
    "start_signature": "secret",
    "client_token": "secret",
    "address": "object",
}
EXPRESS_DELIVERY_PARAMS = {"provider_id": "id", "delivery_method_id": "id"}
EXPRESS_PREPARE_PARAMS = {
    "reference": "text",
    "access_token": "secret",
    "session_id": "text",
    "session_signature": "secret",
}
# Klarna's button pays with Klarna's own method ("Pay with Klarna"), whatever category the
# shopper picks in Klarna.
EXPRESS_PAYMENT_METHOD_CODE = "klarna"
# The most of one product the product page's button puts in the cart.
EXPRESS_MAX_QUANTITY = 10000
