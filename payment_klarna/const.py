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

# Authorizations and their recovery job (see README, "Checkout"). Klarna Payments sessions
# live 48 hours and an authorization token 60 minutes; the job looks at a session nobody
# reported on after 10 minutes, then ever less often, a bounded batch per run.
SESSION_LIFETIME_MINUTES = 48 * 60
AUTHORIZATION_TOKEN_LIFETIME_MINUTES = 60
RECOVERY_FIRST_CHECK_MINUTES = 10
RECOVERY_MAX_DELAY_MINUTES = 4 * 60
RECOVERY_BATCH = 50
# Klarna gives the authorization callback 2 s: how long it may wait for the transaction's row.
CALLBACK_LOCK_TIMEOUT = "1s"
# Where Klarna's hosted page sends the customer back; each URL is signed for its own status.
HOSTED_PAGE_RETURN_STATUSES = ("success", "cancel", "back", "failure", "error")
