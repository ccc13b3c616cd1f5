"""On-Site Messaging: the Web SDK v1 stand-in and what it and the Express button look up.

The vocabularies (locales, placement keys, themes, currencies) live in ``markets`` and
reach the browser through ``GET /web-sdk/sim/v1/config``, so Python holds the one copy.
"""

import pathlib

from .errors import KlarnaError
from .markets import (
    BUTTON_SHAPES,
    BUTTON_THEMES,
    MARKET_CURRENCIES,
    OSM_AMOUNT_KEYS,
    OSM_KEYS,
    OSM_LOCALES,
    OSM_THEMES,
)
from .reply import Reply

SCRIPT = (pathlib.Path(__file__).parent / "osm.js").read_bytes()


def script():
    return Reply(200, SCRIPT, content_type="application/javascript; charset=utf-8")


def require_client(sim, client_id):
    """Refuse a missing or foreign client identifier, as Klarna refuses a foreign origin."""
    if not isinstance(client_id, str) or not client_id:
        raise KlarnaError(400, "BAD_VALUE", "client_id is required", invalid_fields=["client_id"])
    if client_id != sim.config.client_id:
        raise KlarnaError(
            403, "FORBIDDEN", f"client_id {client_id!r} is not known to Klarna (simulator)"
        )


def config(sim, client_id):
    """What the browser pieces need: whether the client id is known, and the vocabularies."""
    try:
        require_client(sim, client_id)
    except KlarnaError as error:
        return Reply(error.status, {"known": False, "error_messages": error.messages})
    return Reply(
        200,
        {
            "known": True,
            "client_id": client_id,
            "environment": sim.config.environment,
            "currencies": MARKET_CURRENCIES,
            "locales": list(OSM_LOCALES),
            "placement_keys": list(OSM_KEYS),
            "amount_keys": list(OSM_AMOUNT_KEYS),
            "themes": list(OSM_THEMES),
            "button_themes": list(BUTTON_THEMES),
            "button_shapes": list(BUTTON_SHAPES),
        },
    )
