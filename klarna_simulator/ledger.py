"""Every secret and personal datum the simulator saw, for scanning logs afterwards.

A log must never hold a password, a signing secret, a token or a customer's contact
data. To check that, a test run needs the exact values: the simulator issues the
tokens (client tokens, authorization tokens, customer tokens), is given the
credentials and signing secrets, and receives (or, for Express Checkout, makes up) the
customers' addresses. With ``secrets_file`` (or the ``KLARNA_SIMULATOR_SECRETS_FILE``
environment variable) it appends them, one a line, when it stops or is reset.
"""

import os
import threading

ENV_VARIABLE = "KLARNA_SIMULATOR_SECRETS_FILE"
ADDRESS_FIELDS = ("email", "phone", "street_address", "street_address2")
_write_lock = threading.Lock()


def secrets_of(sim):
    """The set of secret values the simulator ``sim`` holds right now."""
    found = {sim.config.password, *sim.config.signing_keys.values()}
    with sim.state.lock:
        state = sim.state
        found.update(session.client_token for session in state.sessions.values())
        found.update(state.authorizations)
        found.update(state.customer_tokens)
        carts = [session.cart for session in state.sessions.values()]
        carts += [order.cart for order in state.orders.values()]
        # Express Checkout's collected addresses come from Klarna, not from a cart.
        addresses = [session.collected_address for session in state.sessions.values()]
    addresses += [
        cart.get(kind) for cart in carts for kind in ("billing_address", "shipping_address")
    ]
    for address in addresses:
        if isinstance(address, dict):
            found.update(address.get(field) for field in ADDRESS_FIELDS)
    return {value for value in found if isinstance(value, str) and value.strip()}


def record(sim, path=None):
    """Append the secrets of ``sim`` to ``path`` (default: the environment variable)."""
    path = path or os.environ.get(ENV_VARIABLE)
    if not path:
        return
    lines = "".join(f"{value}\n" for value in sorted(secrets_of(sim)) if "\n" not in value)
    with _write_lock, open(path, "a", encoding="utf-8") as ledger:
        ledger.write(lines)
