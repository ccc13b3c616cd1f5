"""Every constant and mapping of the Odoo layer (the wire-level ones live in ``klarna/``)."""

from datetime import timedelta

PROVIDER_CODE = "klarna"

# Odoo 18 core's Klarna payment methods, and the Klarna Payments category each one shows.
PAYMENT_METHOD_CATEGORIES = {
    "klarna": "pay_later",
    "klarna_paynow": "pay_now",
    "klarna_pay_over_time": "pay_over_time",
}
DEFAULT_PAYMENT_METHOD_CODES = set(PAYMENT_METHOD_CATEGORIES)

# Klarna's order-line type of a loyalty reward line, by Odoo's loyalty program type; other
# rewards are discounts.
REWARD_KINDS = {"gift_card": "gift_card", "ewallet": "store_credit"}

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

# === Routes (controllers/) === #
# Largest body of Klarna's authorization callback: 400 above.
MAX_CALLBACK_BYTES = 16 * 1024
# The documents a payment form may pay with Klarna's widget (the inline form names the
# form's one), and where each keeps what the draft transaction takes from it:
# model -> (amount field, partner field, the transaction's link field).
WIDGET_DOCUMENTS = {
    "sale.order": ("amount_total", "partner_invoice_id", "sale_order_ids"),
    "account.move": ("amount_residual", "partner_id", "invoice_ids"),
}

# === Inbound limits and the widget's sessions (issue 13, defects 9 and 10) === #
# Largest body of the browser's, the callback's and the hosted page's routes (all under
# this prefix), chunked bodies included: 413 above. The webhook keeps its own limit
# (klarna/events.py's DEFAULT_MAX_BYTES), enforced the same way.
ROUTES_PREFIX = "/payment/klarna/"
ROUTES_MAX_BYTES = 16 * 1024
# Arrays and objects nested deeper than this in a JSON route's body: 400, never parsed.
JSON_ROUTE_MAX_DEPTH = 8
# The parameters of each JSON route (klarna/inbound.py's kinds; "?": optional, may be
# null), checked before the route runs. The session route answers a bad provider id
# itself, with the same "not available" message as for a disabled provider.
SESSION_ROUTE_PARAMS = {
    "provider_id": "any",
    "payment_method_code": "text",
    "document_model": "text?",
    "document_id": "id?",
    "access_token": "secret?",
    "amount": "number?",
    "currency_id": "id?",
    "partner_id": "id?",
}
PREPARE_ROUTE_PARAMS = {
    "reference": "text",
    "access_token": "secret",
    "session_id": "text",
    "session_signature": "secret",
}
AUTHORIZE_ROUTE_PARAMS = {
    "reference": "text",
    "access_token": "secret",
    "authorization_token": "text",
}
CANCEL_ROUTE_PARAMS = {"reference": "text", "access_token": "secret", "declined": "flag?"}
# The widget's Klarna sessions (payment.klarna.session): Klarna keeps a session 48 hours;
# an unchanged cart reuses its session while at least the margin is left. New sessions
# (outbound calls) are bounded per cart and per customer address within the window; the
# address bound can be raised with the system parameter (a shop behind a proxy that Odoo
# does not trust, proxy_mode off, sees one address for every customer).
SESSION_LIFETIME_HOURS = 48
SESSION_REUSE_MARGIN_HOURS = 1
SESSION_BOUND_WINDOW_MINUTES = 60
SESSIONS_PER_CART = 10
SESSIONS_PER_ADDRESS = 60
SESSIONS_PER_ADDRESS_PARAM = "payment_klarna.sessions_per_address"
# The prepare and authorize routes' Klarna calls (a session update, an order placement) are
# bounded the same way: per widget session (per transaction without one) and per address,
# each kind on its own, in the same window and with the same address bound.
PREPARES_PER_SESSION = 10
AUTHORIZATIONS_PER_SESSION = 10

# The webhook inbox (payment.klarna.event; see README, "Webhooks"). An event is tried at most
# EVENT_MAX_ATTEMPTS times, EVENT_BACKOFF_SECONDS after its first failure, doubled after
# each: 1, 2, 4, 8 minutes. An event whose transaction is locked by a callback, a staff
# action or a cron waits EVENT_BUSY_DELAY_SECONDS, without losing an attempt. One cron run
# lasts EVENT_RUN_SECONDS; Odoo reschedules it at once while events remain.
EVENT_MAX_ATTEMPTS = 5
EVENT_BACKOFF_SECONDS = 60
EVENT_BUSY_DELAY_SECONDS = 2
EVENT_RUN_SECONDS = 50
EVENT_MAX_ERROR_LENGTH = 2000
# EVENT_WORKERS inbox cron records (data/ir_cron_webhooks.xml) let as many cron threads
# drain the inbox together (Odoo runs one cron record in one thread at a time): a stored
# event wakes the first; a worker that finds EVENT_WORKER_BACKLOG due events waiting wakes
# the others, looking at most every EVENT_BACKLOG_CHECK_SECONDS.
EVENT_WORKERS = 3
EVENT_WORKER_BACKLOG = 20
EVENT_BACKLOG_CHECK_SECONDS = 1
# Unsigned legacy notifications get a uuid5 id in this namespace, one per order, type and
# bucket of this many seconds.
LEGACY_EVENT_NAMESPACE = "5b0f2f8e-6f0c-4c35-9a59-2a4b0c9e6f11"
LEGACY_EVENT_BUCKET_SECONDS = 600
# Finished events keep their payload this many days (system parameter, default), then only
# their ids, types, states and outcomes.
EVENT_RETENTION_PARAM = "payment_klarna.event_retention_days"
EVENT_DEFAULT_RETENTION_DAYS = 30
EVENT_FINAL_STATES = ("processed", "ignored", "resolved")

# Authorizations and their recovery job (see README, "Checkout"). Klarna Payments sessions
# live SESSION_LIFETIME_HOURS and an authorization token 60 minutes; the job looks at a
# session nobody reported on after 10 minutes, then ever less often, a bounded batch per run.
AUTHORIZATION_TOKEN_LIFETIME_MINUTES = 60
RECOVERY_FIRST_CHECK_MINUTES = 10
RECOVERY_MAX_DELAY_MINUTES = 4 * 60
RECOVERY_BATCH = 50
# Klarna gives the authorization callback 2 s: how long it may wait for the transaction's row.
CALLBACK_LOCK_TIMEOUT = "1s"
# How long the webhook worker waits for a transaction before postponing its event.
EVENT_LOCK_TIMEOUT = "750ms"
# Where Klarna's hosted page sends the customer back; each URL is signed for its own status.
HOSTED_PAGE_RETURN_STATUSES = ("success", "cancel", "back", "failure", "error")

# === Order Management and its jobs (see README, "Capture, refund, void") === #
# Klarna's authorization lifetime when the order does not say; extend (or warn) this long
# before the expiry.
AUTHORIZATION_LIFETIME = timedelta(days=28)
EXPIRY_NOTICE = timedelta(days=7)
# An operation call with its retries takes less than this: past it, one Klarna does not show
# never reached Klarna.
INTENT_GRACE = timedelta(minutes=10)
# Transactions per reconciliation run, and how long a done one is still read (refunds stay
# possible in Klarna's portal).
RECONCILE_BATCH = 100
RECONCILE_DONE_FOR = timedelta(days=180)
# Operations whose outcome Klarna definitively gave; an open ``intent`` is not counted, so a
# retry after an unknown outcome derives the same key as the attempt it repeats.
OPERATION_ANSWERED_STATES = ("done", "failed")
