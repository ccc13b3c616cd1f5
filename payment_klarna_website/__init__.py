from odoo.addons.payment_klarna.const import PROVIDER_CODE

from . import controllers, models


def post_init_hook(env):
    """Name Klarna's express button on every Klarna provider (each company's too)."""
    _klarna_providers(env).express_checkout_form_view_id = env.ref(
        "payment_klarna_website.express_checkout_form"
    )


def uninstall_hook(env):
    """Release the express button's template, which the uninstall deletes (its field on the
    provider forbids deleting a template still named)."""
    _klarna_providers(env).write(
        {"express_checkout_form_view_id": False, "allow_express_checkout": False}
    )


def _klarna_providers(env):
    return (
        env["payment.provider"]
        .with_context(active_test=False)
        .search([("code", "=", PROVIDER_CODE)])
    )
