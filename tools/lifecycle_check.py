"""Install, uninstall and reinstall payment_klarna on a database with website_sale.

Run by ``python3 -m tools.devenv test`` through ``odoo-bin shell`` (which provides ``env``):
module (un)installation commits and reloads the registry, which no test class can
do inside its rolled-back transaction.  A payment already made with Klarna keeps
the provider record alive across the uninstall, as it does on a merchant's database.
"""
# ruff: noqa: F821 - `env` and `odoo` are given by odoo-bin shell

XMLID = "payment_klarna.payment_provider_klarna"


def module(env):
    return env["ir.module.module"].search([("name", "=", "payment_klarna")])


def columns(env, table):
    env.cr.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s", [table]
    )
    return {row[0] for row in env.cr.fetchall()}


def check(condition, message):
    if not condition:
        raise SystemExit(f"lifecycle: FAILED: {message}")


check(module(env).state == "installed", "payment_klarna is not installed")
check(env["ir.module.module"]._get("website_sale").state == "installed", "website_sale missing")
provider = env.ref(XMLID)
provider.write({"klarna_api_username": "PK_lifecycle", "state": "test"})
env["payment.transaction"].create(
    {
        "provider_id": provider.id,
        "payment_method_id": env.ref("payment.payment_method_klarna").id,
        "reference": "lifecycle-check",
        "amount": 10.0,
        "currency_id": env.ref("base.EUR").id,
        "partner_id": env.ref("base.partner_admin").id,
    }
)
env.cr.commit()

module(env).button_immediate_uninstall()
with odoo.modules.registry.Registry(env.cr.dbname).cursor() as cr:
    env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
    check(module(env).state == "uninstalled", "uninstall did not complete")
    kept = env["payment.provider"].search([("id", "=", provider.id)])
    check(kept.code == "none" and kept.state == "disabled", "provider not reset on uninstall")
    check(
        not {"klarna_api_username", "klarna_api_password_encrypted"}
        & columns(env, "payment_provider"),
        "Klarna columns left behind",
    )
    check(not columns(env, "payment_klarna_signing_key"), "signing key table left behind")
    module(env).button_immediate_install()

with odoo.modules.registry.Registry(env.cr.dbname).cursor() as cr:
    env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"active_test": False})
    klarna = env["payment.provider"].search([("code", "=", "klarna")])
    check(module(env).state == "installed", "reinstall did not complete")
    check(len(klarna) == 1, f"expected one Klarna provider after reinstall, found {len(klarna)}")
    check(env.ref(XMLID) == klarna, "the XML id does not point at the Klarna provider")
    check(
        set(klarna.payment_method_ids.mapped("code"))
        == {"klarna", "klarna_paynow", "klarna_pay_over_time"},
        "the reinstalled provider lost its payment methods",
    )
print("lifecycle: install, uninstall and reinstall ok")
