"""Every constant and mapping of the Odoo layer (the wire-level ones live in ``klarna/``)."""

PROVIDER_CODE = "klarna"

# Odoo 18 core's Klarna payment methods, and the Klarna Payments category each one shows.
PAYMENT_METHOD_CATEGORIES = {
    "klarna": "pay_later",
    "klarna_paynow": "pay_now",
    "klarna_pay_over_time": "pay_over_time",
}
DEFAULT_PAYMENT_METHOD_CODES = set(PAYMENT_METHOD_CATEGORIES)

REGIONS = [("eu", "Europe"), ("na", "North America"), ("oc", "Oceania")]

CAPTURE_POLICIES = [
    ("manual", "Manually, from Odoo"),
    ("on_delivery", "On delivery"),
    ("at_placement", "At order placement"),
]
# Odoo's own flag: does an authorized transaction wait for a capture from Odoo?
CAPTURE_MANUALLY = {"manual": True, "on_delivery": True, "at_placement": False}

# Where the encryption keys for secrets live: never in the database.
SECRET_KEYS_CONFIG_OPTION = "payment_klarna_secret_keys"
SECRET_KEYS_ENV_VARIABLE = "PAYMENT_KLARNA_SECRET_KEYS"

# An order id Klarna cannot know: reading it proves the credentials without side effects.
CONNECTION_CHECK_ORDER_ID = "payment-klarna-connection-check"

# Klarna's JS SDK; with a base-URL override (the simulator) it is served from that host.
SDK_URL = "https://x.klarnacdn.net/kp/lib/v1/api.js"
SDK_PATH = "/kp/lib/v1/api.js"

# System parameters of the webhook route (see README, "Webhooks").
WEBHOOK_MAX_AGE_PARAM = "payment_klarna.webhook_max_age"
WEBHOOK_ALLOWED_IPS_PARAM = "payment_klarna.webhook_allowed_ips"
WEBHOOK_TRUSTED_PROXIES_PARAM = "payment_klarna.webhook_trusted_proxies"

# Webhook inbox and refusals (see README, "Webhooks"). The marker of the last admin alert
# about refused webhooks, per provider id ("unverified" when no key was named).
WEBHOOK_ALERT_MARKER_PARAM = "payment_klarna.webhook_alerted_at.%s"
